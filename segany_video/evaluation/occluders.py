"""Thin occluders drawn over DAVIS sequences: a pole passing in front of the object.

Held-out footage often has thin things between the camera and the object (a flag pole, tree
trunks, a fence post). As one passes, it cuts the object in two and uncovers on one side what it
hid a moment before; a tracker must grow the uncovered part back rather than lose it. The
development sequences rarely show this, so it is drawn on them: a vertical pole of a plain
colour, a few pixels wide, sliding sideways at a steady speed: it crosses the object's centre a
third of the way into the clip and has passed the object's width by two thirds, leaving the
last third to show whether what it uncovered was grown back. The truth is the object minus the
pole.

Held-out footage also puts look-alike background right behind the object (a wooden fence behind
a brown animal, a wall behind a runner), and masks leak into it. The development sequences
rarely show that either, so a band is drawn *behind* the object on the same sweep: a few tenths
of the object's width, tiled with blocks of the object's own frame-0 pixels, so it shares the
object's colours and fine texture but not its shape. The truth is unchanged (the band is
background). A swept band moves unlike everything else in the frame; a fence does not. A *still*
band stands in the scene instead: behind the object's centre a third of the way in, carried by
the background's sideways motion (the camera's pan) on every other frame, so only the object
moves across it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import WriterError
from segany_video.evaluation.davis_data import DavisSequence

DEFAULT_SEED = 7
# Pole width as a fraction of the frame width (9-21 px at 854); speed bounds in px per frame.
_WIDTH = (0.011, 0.025)
_SPEED = (2.0, 12.0)
# Band width as a fraction of the object's width where the band crosses it; side of the texture
# blocks copied from the object, as a fraction of its equivalent side (at least 4 px).
_BAND = (0.3, 0.6)
_BLOCK = 0.15
# Background motion is measured at this scale, away from the object by this many source pixels.
_MOTION_SCALE = 0.5
_MOTION_MARGIN = 15


@dataclass(frozen=True)
class Pole:
    """A vertical bar at ``x0 + speed * frame`` (its left edge), ``width`` pixels wide."""

    x0: float
    speed: float
    width: int
    colour: tuple[int, int, int]

    def left(self, index: int) -> float:
        """Its left edge on frame ``index`` (may lie outside the frame)."""
        return self.x0 + self.speed * index

    def columns(self, index: int, frame_width: int) -> slice:
        left = round(self.left(index))
        return slice(max(0, left), max(0, min(frame_width, left + self.width)))


@dataclass(frozen=True)
class Band(Pole):
    """A wide bar on a pole's sweep, drawn behind the object with ``texture``
    (``(H, width, 3)`` uint8, moving with the band); or, with ``path`` (its left edge per
    frame), standing still in the scene."""

    texture: np.ndarray = field(repr=False, compare=False)
    path: tuple[float, ...] = ()

    def left(self, index: int) -> float:
        return self.path[index] if self.path else super().left(index)


def plan_pole(sequence: DavisSequence, seed: int = DEFAULT_SEED) -> Pole:
    """A pole crossing the object's centre a third of the way in, past it by two thirds."""
    rng = np.random.default_rng([seed, *sequence.name.encode()])
    width = round(rng.uniform(*_WIDTH) * sequence.mask(0).shape[1])
    x0, speed = _sweep(sequence, width, rng)
    colour = tuple(int(v) for v in rng.integers(40, 200, size=3))
    return Pole(x0, speed, width, colour)


def plan_band(sequence: DavisSequence, seed: int = DEFAULT_SEED, still: bool = False) -> Band:
    """A band of the object's own texture behind it, on the sweep of :func:`plan_pole`; or
    (``still``) standing in the scene behind the object's centre a third of the way in."""
    rng = np.random.default_rng([seed, *sequence.name.encode(), 1])
    frame_width = sequence.mask(0).shape[1]
    columns = np.nonzero(sequence.mask(len(sequence) // 3).any(axis=0))[0]
    extent = float(columns[-1] - columns[0] + 1) if len(columns) else 0.1 * frame_width
    width = max(4, round(rng.uniform(*_BAND) * extent))
    x0, speed = _sweep(sequence, width, rng)
    texture = _object_texture(sequence.frame(0), sequence.mask(0), width, rng)
    mean = tuple(int(v) for v in texture.reshape(-1, 3).mean(axis=0))
    if not still:
        return Band(x0, speed, width, mean, texture)
    crossing = len(sequence) // 3
    # Where the sweep stands on that frame (behind the object's centre), carried by the scene.
    moves = np.concatenate([[0.0], np.cumsum(scene_motion(sequence))])
    path = x0 + speed * crossing + moves - moves[crossing]
    return Band(x0, speed, width, mean, texture, tuple(float(v) for v in path))


def scene_motion(sequence: DavisSequence) -> np.ndarray:
    """``(len - 1,)`` sideways motion of the background from each frame to the next, in source
    pixels: the median optical flow away from the object (the camera's pan)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    moves = []
    previous, previous_truth = None, None
    for index in range(len(sequence)):
        image = cv2.cvtColor(sequence.frame(index), cv2.COLOR_RGB2GRAY)
        height, width = image.shape
        small = cv2.resize(image, (round(width * _MOTION_SCALE), round(height * _MOTION_SCALE)))
        truth = sequence.mask(index)
        if previous is not None:
            flow = dis.calc(previous, small, None)
            near = cv2.dilate(
                (previous_truth | truth).astype(np.uint8),
                np.ones((2 * _MOTION_MARGIN + 1, 2 * _MOTION_MARGIN + 1), np.uint8),
            )
            away = cv2.resize(near, (small.shape[1], small.shape[0])) == 0
            dx = flow[..., 0][away] if away.any() else flow[..., 0].ravel()
            moves.append(float(np.median(dx)) / _MOTION_SCALE)
        previous, previous_truth = small, truth
    return np.array(moves)


def _sweep(sequence: DavisSequence, width: int, rng: np.random.Generator) -> tuple[float, float]:
    """Left edge at frame 0 and speed of a bar ``width`` px wide that crosses the object's
    centre a third of the way in and has passed it by two thirds."""
    crossing, passed = len(sequence) // 3, (2 * len(sequence)) // 3
    truth = sequence.mask(crossing)
    columns = np.nonzero(truth.any(axis=0))[0]
    # Where the object is out of view then, the bar crosses the frame's centre instead.
    centre = float(columns.mean()) if len(columns) else truth.shape[1] / 2.0
    extent = float(columns[-1] - columns[0] + 1) if len(columns) else 0.0
    # The object's own sideways speed over the middle third: the bar passes it relative to that.
    later = np.nonzero(sequence.mask(passed).any(axis=0))[0]
    frames = max(1, passed - crossing)
    drift = (float(later.mean()) - centre) / frames if len(columns) and len(later) else 0.0
    relative = float(np.clip((extent / 2.0 + width) / frames, *_SPEED))
    speed = drift + (relative if rng.random() < 0.5 else -relative)
    return centre - width / 2.0 - speed * crossing, speed


def _object_texture(
    image: np.ndarray, mask: np.ndarray, width: int, rng: np.random.Generator
) -> np.ndarray:
    """``(H, width, 3)`` uint8 tiled with square blocks cut from inside the object at random."""
    height = image.shape[0]
    side = max(4, round(_BLOCK * np.sqrt(max(1, np.count_nonzero(mask)))))
    # Top-left corners of blocks lying wholly on the object (single pixels if none does).
    kernel = np.ones((side, side), np.uint8)
    inside = cv2.erode(mask.astype(np.uint8), kernel, anchor=(0, 0), borderValue=0)
    ys, xs = np.nonzero(inside[: height - side + 1, : image.shape[1] - side + 1])
    if len(ys) == 0:
        ys, xs = np.nonzero(mask)
        side = 1
    rows, cols = -(-height // side), -(-width // side)
    picks = rng.integers(0, len(ys), size=rows * cols)
    texture = np.empty((rows * side, cols * side, 3), np.uint8)
    for n, pick in enumerate(picks):
        r, c = divmod(n, cols)
        block = image[ys[pick] : ys[pick] + side, xs[pick] : xs[pick] + side]
        texture[r * side : (r + 1) * side, c * side : (c + 1) * side] = block
    return texture[:height, :width]


def occluded_frame(
    sequence: DavisSequence, index: int, pole: Pole
) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` with the pole drawn, and the object's visible truth."""
    image, truth = sequence.frame(index), sequence.mask(index)
    columns = pole.columns(index, image.shape[1])
    # A little shading across the pole, so it is not a flat colour block.
    span = columns.stop - columns.start
    if span > 0:
        shade = 0.8 + 0.4 * np.linspace(0.0, 1.0, span)[None, :, None]
        image[:, columns] = np.clip(np.array(pole.colour)[None, None, :] * shade, 0, 255)
        truth[:, columns] = False
    return image, truth


def backdrop_frame(
    sequence: DavisSequence, index: int, band: Band
) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` with the band drawn behind the object, and the object's truth."""
    image, truth = sequence.frame(index), sequence.mask(index)
    columns = band.columns(index, image.shape[1])
    span = columns.stop - columns.start
    if span > 0:
        # The band's part left of the frame is not drawn: its texture starts that far in.
        offset = columns.start - round(band.left(index))
        behind = ~truth[:, columns]
        region = image[:, columns]
        region[behind] = band.texture[:, offset : offset + span][behind]
    return image, truth


def write_occluded(
    sequence: DavisSequence,
    folder: Path,
    seed: int = DEFAULT_SEED,
    behind: bool = False,
    still: bool = False,
) -> Pole:
    """Write ``folder/<name>/JPEGImages/*.png`` and ``Annotations/*.png`` (lossless): with a
    pole in front of the object, or (``behind``) a band of its texture behind it, swept or
    (``still``) standing in the scene."""
    pole = plan_band(sequence, seed, still) if behind else plan_pole(sequence, seed)
    frames = folder / sequence.name / "JPEGImages"
    annotations = folder / sequence.name / "Annotations"
    frames.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    for index in range(len(sequence)):
        if isinstance(pole, Band):
            image, truth = backdrop_frame(sequence, index, pole)
        else:
            image, truth = occluded_frame(sequence, index, pole)
        name = f"{index:05d}.png"
        written = cv2.imwrite(str(frames / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        written &= cv2.imwrite(str(annotations / name), truth.astype(np.uint8) * 255)
        if not written:
            raise WriterError(f"cannot write occluded frame {index} of {sequence.name!r}")
    return pole
