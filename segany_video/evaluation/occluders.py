"""Thin occluders drawn over DAVIS sequences: a pole passing in front of the object.

Held-out footage often has thin things between the camera and the object (a flag pole, tree
trunks, a fence post). As one passes, it cuts the object in two and uncovers on one side what it
hid a moment before; a tracker must grow the uncovered part back rather than lose it. The
development sequences rarely show this, so it is drawn on them: a vertical pole of a plain
colour, a few pixels wide, sliding sideways at a steady speed: it crosses the object's centre a
third of the way into the clip and has passed the object's width by two thirds, leaving the
last third to show whether what it uncovered was grown back. The truth is the object minus the
pole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import WriterError
from segany_video.evaluation.davis_data import DavisSequence

DEFAULT_SEED = 7
# Pole width as a fraction of the frame width (9-21 px at 854); speed bounds in px per frame.
_WIDTH = (0.011, 0.025)
_SPEED = (2.0, 12.0)


@dataclass(frozen=True)
class Pole:
    """A vertical bar at ``x0 + speed * frame`` (its left edge), ``width`` pixels wide."""

    x0: float
    speed: float
    width: int
    colour: tuple[int, int, int]

    def columns(self, index: int, frame_width: int) -> slice:
        left = round(self.x0 + self.speed * index)
        return slice(max(0, left), max(0, min(frame_width, left + self.width)))


def plan_pole(sequence: DavisSequence, seed: int = DEFAULT_SEED) -> Pole:
    """A pole crossing the object's centre a third of the way in, past it by two thirds."""
    rng = np.random.default_rng([seed, *sequence.name.encode()])
    crossing, passed = len(sequence) // 3, (2 * len(sequence)) // 3
    truth = sequence.mask(crossing)
    columns = np.nonzero(truth.any(axis=0))[0]
    # Where the object is out of view then, the pole crosses the frame's centre instead.
    centre = float(columns.mean()) if len(columns) else truth.shape[1] / 2.0
    extent = float(columns[-1] - columns[0] + 1) if len(columns) else 0.0
    # The object's own sideways speed over the middle third: the pole passes it relative to that.
    later = np.nonzero(sequence.mask(passed).any(axis=0))[0]
    frames = max(1, passed - crossing)
    drift = (float(later.mean()) - centre) / frames if len(columns) and len(later) else 0.0
    width = round(rng.uniform(*_WIDTH) * truth.shape[1])
    relative = float(np.clip((extent / 2.0 + width) / frames, *_SPEED))
    speed = drift + (relative if rng.random() < 0.5 else -relative)
    colour = tuple(int(v) for v in rng.integers(40, 200, size=3))
    return Pole(centre - width / 2.0 - speed * crossing, speed, width, colour)


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


def write_occluded(sequence: DavisSequence, folder: Path, seed: int = DEFAULT_SEED) -> Pole:
    """Write ``folder/<name>/JPEGImages/*.png`` and ``Annotations/*.png`` (lossless)."""
    pole = plan_pole(sequence, seed)
    frames = folder / sequence.name / "JPEGImages"
    annotations = folder / sequence.name / "Annotations"
    frames.mkdir(parents=True, exist_ok=True)
    annotations.mkdir(parents=True, exist_ok=True)
    for index in range(len(sequence)):
        image, truth = occluded_frame(sequence, index, pole)
        name = f"{index:05d}.png"
        written = cv2.imwrite(str(frames / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        written &= cv2.imwrite(str(annotations / name), truth.astype(np.uint8) * 255)
        if not written:
            raise WriterError(f"cannot write occluded frame {index} of {sequence.name!r}")
    return pole
