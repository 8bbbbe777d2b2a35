"""Synthetic test clips with exact ground truth: textured objects that cross, hide and come back.

The default scenario (3 objects) is scripted so that, whatever the seed, it contains the events a
video tracker must survive; the seed only varies textures, colours, shapes, mirroring, the pan
direction and small jitter of the paths. In clip time ``u = frame / (num_frames - 1)``:

- object 1, the **occluder**: the largest blob, drifting slowly across the middle of the frame.
- object 2, the **hidden** one: a small blob that slips *behind* the occluder and travels with
  it fully covered from about ``u = 0.31`` to ``u = 0.6`` (about 40 frames at the default 150, at
  least 10 for ``num_frames >= 60``), then comes out on the other side.
- object 3, the **wanderer**: in front of the others; it crosses over the occluder (partly
  covering it) near ``u = 0.11``, leaves the frame (fully out from about ``u = 0.39``), stays
  out, and is back in view from about ``u = 0.66``.

Depth order, back to front: hidden (2), occluder (1), wanderer (3). The camera pans slowly over a
ground texture larger than the frame (optionally with shake, as from a drone); objects are placed
in screen coordinates and shake with the camera.

Ground truth: ``masks(i)`` are the *visible* parts (after occlusion and cropping to the frame), so
no pixel belongs to two objects. An object counts as visible on a frame when its visible part has
at least ``min_visible_fraction`` (default 1%) of the pixels of its whole outline (uncropped,
unoccluded; so at least one pixel). Disappearing and reappearing take only 2-5 frames from fully
visible to hidden (about 10 px/frame), so few frames are ambiguous around that threshold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from segany_video.errors import FrameIndexError
from segany_video.results import mask_box
from segany_video.synthetic.motion import outline_harmonics, trajectories
from segany_video.synthetic.texture import (
    PATTERNS,
    ground_texture,
    hue_name,
    object_hues,
    object_texture,
)
from segany_video.synthetic.writer import ClipPaths, write_clip

__all__ = ["ClipPaths", "SyntheticClip", "SyntheticObject", "make_clip", "write_clip"]

ROLES = ("occluder", "hidden", "wanderer")
_DEPTH = {"hidden": 0, "occluder": 1, "wanderer": 2}  # back to front
_VERTICES = 96
_HARMONICS = np.array([2, 3, 4, 5])


@dataclass(frozen=True, eq=False)
class SyntheticObject:
    """One scripted object.

    Attributes:
        id: 1-based object id (also its value in label maps).
        name: colour and pattern, e.g. ``"orange-striped"``.
        role: ``"occluder"``, ``"hidden"`` or ``"wanderer"`` (see the module docstring).
        depth: drawing order, 0 = furthest back.
        radius: mean radius of the outline in pixels.
        centres: ``(N, 2)`` float ``(x, y)`` screen position per frame (camera shake included).
        angles: ``(N,)`` rotation per frame in radians.
        harmonics: ``(N, 4, 2)`` amplitude and phase of the outline's harmonics 2..5 per frame.
        texture: ``(S, S, 3)`` float32 RGB skin, centred on the object.
    """

    id: int
    name: str
    role: str
    depth: int
    radius: float
    centres: np.ndarray = field(repr=False)
    angles: np.ndarray = field(repr=False)
    harmonics: np.ndarray = field(repr=False)
    texture: np.ndarray = field(repr=False)

    def outline(self, index: int) -> np.ndarray:
        """``(V, 2)`` float ``(x, y)`` polygon of the whole outline on frame ``index``."""
        phi = np.linspace(0, 2 * np.pi, _VERTICES, endpoint=False)
        amp, phase = self.harmonics[index, :, 0], self.harmonics[index, :, 1]
        r = self.radius * (
            1 + (amp[:, None] * np.cos(_HARMONICS[:, None] * phi + phase[:, None])).sum(0)
        )
        a = phi + self.angles[index]
        return self.centres[index] + np.stack([r * np.cos(a), r * np.sin(a)], axis=1)


def _fill(
    polygon: np.ndarray, height: int, width: int, offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Rasterise a polygon into an ``(height, width)`` bool mask whose origin is ``offset``."""
    canvas = np.zeros((height, width), np.uint8)
    pts = np.round((polygon - np.asarray(offset)) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.view(bool)


def _whole_area(polygon: np.ndarray) -> int:
    """Pixels of the whole outline, uncropped, rasterised on the same grid as the frame."""
    lo = np.floor(polygon.min(0)).astype(int) - 1
    hi = np.ceil(polygon.max(0)).astype(int) + 2
    return max(1, int(np.count_nonzero(_fill(polygon, hi[1] - lo[1], hi[0] - lo[0], tuple(lo)))))


@dataclass(eq=False)
class SyntheticClip:
    """A rendered-on-demand synthetic clip with its ground truth. Build it with :func:`make_clip`.

    Attributes:
        seed: the seed it was made from.
        num_frames: number of frames.
        size: ``(width, height)`` in pixels.
        fps: nominal frame rate.
        objects: the objects, ordered by id (1..N).
        min_visible_fraction: share of its outline's area an object must show to count as visible.
    """

    seed: int
    num_frames: int
    size: tuple[int, int]
    fps: float
    objects: tuple[SyntheticObject, ...]
    min_visible_fraction: float
    _ground: np.ndarray = field(repr=False)
    _camera: np.ndarray = field(repr=False)  # (N, 2) top-left of the view on the ground
    _gain: np.ndarray = field(repr=False)  # (N,) global brightness
    _noise: float = field(repr=False)
    _shadow: float = field(repr=False)
    _fractions: np.ndarray | None = field(default=None, repr=False)
    _grain_field: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.num_frames

    @property
    def width(self) -> int:
        return self.size[0]

    @property
    def height(self) -> int:
        return self.size[1]

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(obj.id for obj in self.objects)

    def object(self, object_id: int) -> SyntheticObject:
        """The object with this id (``KeyError`` naming the valid ids otherwise)."""
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(f"no object {object_id!r} in this clip; ids are {self.object_ids}")

    def _check_index(self, index: int) -> int:
        if not 0 <= index < self.num_frames:
            raise FrameIndexError(
                f"frame {index} is outside the synthetic clip (frames 0..{self.num_frames - 1})"
            )
        return int(index)

    def full_masks(self, index: int) -> dict[int, np.ndarray]:
        """Whole outlines on frame ``index``, cropped to the frame but ignoring occlusion.

        Returns:
            object id -> ``(H, W)`` bool.
        """
        index = self._check_index(index)
        return {o.id: _fill(o.outline(index), self.height, self.width) for o in self.objects}

    def masks(self, index: int) -> dict[int, np.ndarray]:
        """Ground truth of frame ``index``: the visible part of each object.

        Returns:
            object id -> ``(H, W)`` bool (all False when hidden); no pixel is in two masks.
        """
        full = self.full_masks(index)
        covered = np.zeros((self.height, self.width), bool)
        visible: dict[int, np.ndarray] = {}
        for obj in sorted(self.objects, key=lambda o: -o.depth):  # front to back
            visible[obj.id] = full[obj.id] & ~covered
            covered |= full[obj.id]
        return {obj.id: visible[obj.id] for obj in self.objects}

    def label_map(self, index: int) -> np.ndarray:
        """``(H, W)`` uint8 of frame ``index``: pixel = object id, 0 = background."""
        labels = np.zeros((self.height, self.width), np.uint8)
        for object_id, mask in self.masks(index).items():
            labels[mask] = object_id
        return labels

    def boxes(self, index: int) -> dict[int, np.ndarray | None]:
        """Tight ``XYXY`` boxes of the visible masks (pixel edges, as :func:`mask_box`)."""
        return {oid: mask_box(mask) for oid, mask in self.masks(index).items()}

    def first_frame_boxes(self) -> dict[int, np.ndarray]:
        """Tight ``XYXY`` float32 boxes of every object on frame 0 (all are visible there)."""
        boxes = self.boxes(0)
        missing = [oid for oid, box in boxes.items() if box is None]
        assert not missing, f"scenario bug: objects {missing} not visible on frame 0"
        return {oid: box for oid, box in boxes.items() if box is not None}

    def visible_fractions(self) -> np.ndarray:
        """``(N, K)`` float: visible area / whole-outline area, frames x objects (ids order)."""
        if self._fractions is None:
            table = np.zeros((self.num_frames, len(self.objects)))
            for i in range(self.num_frames):
                visible = self.masks(i)
                for k, obj in enumerate(self.objects):
                    table[i, k] = np.count_nonzero(visible[obj.id]) / _whole_area(obj.outline(i))
            self._fractions = table
        return self._fractions

    def visible_fraction(self, index: int, object_id: int) -> float:
        """Visible pixels / pixels of the whole (uncropped, unoccluded) outline on that frame."""
        index = self._check_index(index)
        return float(self.visible_fractions()[index, self.objects.index(self.object(object_id))])

    def visible(self, index: int, object_id: int) -> bool:
        """True when the object shows at least ``min_visible_fraction`` of its whole outline."""
        index = self._check_index(index)
        return self.visible_fraction(index, object_id) >= self.min_visible_fraction

    def hidden_ranges(self, object_id: int) -> list[range]:
        """Runs of consecutive frames where the object is not visible, as half-open ``range``s."""
        flags = [not self.visible(i, object_id) for i in range(self.num_frames)]
        runs: list[range] = []
        start = None
        for i, hidden in enumerate([*flags, False]):
            if hidden and start is None:
                start = i
            elif not hidden and start is not None:
                runs.append(range(start, i))
                start = None
        return runs

    def frame(self, index: int) -> np.ndarray:
        """Render frame ``index``: ``(H, W, 3)`` uint8 RGB (deterministic per seed and index)."""
        index = self._check_index(index)
        h, w = self.height, self.width
        x0, y0 = self._camera[index]
        shift = np.float32([[1, 0, -x0], [0, 1, -y0]])
        image = cv2.warpAffine(self._ground, shift, (w, h), flags=cv2.INTER_LINEAR)
        for obj in sorted(self.objects, key=lambda o: o.depth):  # back to front
            self._draw(image, obj, index)
        image *= np.float32(255 * self._gain[index])
        if self._noise > 0:
            image += self._grain(index)
        return np.clip(image, 0, 255, out=image).astype(np.uint8)

    def _grain(self, index: int) -> np.ndarray:
        """Sensor noise for one frame: a random window of one stored noise field.

        Drawing fresh Gaussian noise for every frame costs more than drawing the rest of the
        frame; windows at random offsets of a larger field (random sign too) are just as
        uncorrelated from frame to frame to the eye and to an encoder.
        """
        pad = 64
        if self._grain_field is None:
            rng = np.random.default_rng([self.seed, 1])
            shape = (self.height + pad, self.width + pad, 3)
            self._grain_field = rng.standard_normal(shape, dtype=np.float32) * np.float32(
                self._noise
            )
        rng = np.random.default_rng([self.seed, 2, index])
        dy, dx = rng.integers(pad, size=2)
        window = self._grain_field[dy : dy + self.height, dx : dx + self.width]
        return window if rng.random() < 0.5 else -window

    def frames(self) -> Iterator[np.ndarray]:
        """Yield every frame in order (one at a time; nothing is kept)."""
        for i in range(self.num_frames):
            yield self.frame(i)

    def _draw(self, image: np.ndarray, obj: SyntheticObject, index: int) -> None:
        h, w = self.height, self.width
        outline = obj.outline(index)
        # a soft shadow below and to the right, cast on whatever is already drawn
        offset = np.array([0.6, 1.0]) * 0.02 * h
        pad = int(np.ceil(0.05 * h)) + 4
        lo = np.floor(outline.min(0)).astype(int) - pad
        hi = np.ceil(outline.max(0) + offset).astype(int) + pad
        x0, y0 = max(lo[0], 0), max(lo[1], 0)
        x1, y1 = min(hi[0], w), min(hi[1], h)
        if x1 <= x0 or y1 <= y0:
            return  # entirely outside the frame
        roi = image[y0:y1, x0:x1]
        shadow = _fill(outline + offset, y1 - y0, x1 - x0, (x0, y0)).astype(np.float32)
        shadow = cv2.GaussianBlur(shadow, (0, 0), 0.01 * h + 0.5)
        roi *= 1 - self._shadow * shadow[..., None]
        mask = _fill(outline, y1 - y0, x1 - x0, (x0, y0)).astype(np.float32)
        alpha = cv2.GaussianBlur(mask, (0, 0), 0.6)[..., None]  # anti-aliased edge
        side = obj.texture.shape[0]
        c, s = np.cos(obj.angles[index]), np.sin(obj.angles[index])
        cx, cy = obj.centres[index] - (x0, y0)
        skin_to_roi = np.float32(
            [
                [c, -s, cx - (c - s) * side / 2],
                [s, c, cy - (s + c) * side / 2],
            ]
        )
        skin = cv2.warpAffine(
            obj.texture,
            skin_to_roi,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT,
        )
        roi[:] = roi * (1 - alpha) + skin * alpha

    def prompts(self) -> dict:
        """The prompts file content: each object's tight box on frame 0.

        Returns:
            ``{"objects": [{"id", "name", "keyframes": [{"frame": 0, "box": [x0, y0, x1, y1]}]}]}``
            with integer ``XYXY`` pixel-edge boxes.
        """
        boxes = self.first_frame_boxes()
        return {
            "objects": [
                {
                    "id": obj.id,
                    "name": obj.name,
                    "keyframes": [{"frame": 0, "box": [int(v) for v in boxes[obj.id]]}],
                }
                for obj in self.objects
            ]
        }


def make_clip(
    seed: int = 0,
    *,
    num_frames: int = 150,
    size: tuple[int, int] = (640, 360),
    num_objects: int = 3,
    fps: float = 30.0,
    pan_speed: float = 1.0,
    shake: float = 0.0,
    noise: float = 1.5,
    shadow: float = 0.35,
    min_visible_fraction: float = 0.01,
) -> SyntheticClip:
    """Build the scripted scenario for one seed (textures and paths; frames render on demand).

    Args:
        seed: any int >= 0; the same seed gives the same clip.
        num_frames: clip length; the event guarantees (>= 10 frames fully hidden) need >= 60.
        size: ``(width, height)`` in pixels.
        num_objects: 1 (occluder), 2 (+ hidden) or 3 (+ wanderer).
        fps: nominal frame rate (sets the deformation speed and the written video's rate).
        pan_speed: camera pan in pixels per frame (direction chosen by the seed); 0 = static.
        shake: camera shake amplitude in pixels (a few pixels imitates a drone); 0 = steady.
        noise: sensor noise standard deviation in 8-bit grey levels.
        shadow: darkness of the objects' soft shadows, 0..1.
        min_visible_fraction: see :meth:`SyntheticClip.visible`.

    Returns:
        The clip.

    Raises:
        ValueError: an argument out of range (the message gives the expected range).
    """
    width, height = size
    checks = [
        (seed >= 0, f"seed must be >= 0, got {seed}"),
        (num_frames >= 2, f"num_frames must be >= 2, got {num_frames}"),
        (width >= 64 and height >= 64, f"size must be at least 64x64, got {width}x{height}"),
        (1 <= num_objects <= 3, f"num_objects must be 1, 2 or 3, got {num_objects}"),
        (fps > 0, f"fps must be > 0, got {fps}"),
        (pan_speed >= 0 and shake >= 0 and noise >= 0, "pan_speed, shake and noise must be >= 0"),
        (0 <= shadow <= 1, f"shadow must be in [0, 1], got {shadow}"),
        (
            0 < min_visible_fraction < 1,
            f"min_visible_fraction must be in (0, 1), got {min_visible_fraction}",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    rng = np.random.default_rng(seed)
    u = np.linspace(0, 1, num_frames)
    times = np.arange(num_frames) / fps

    # camera: pan direction from the seed, shake as smoothed noise, ground big enough for both
    heading = rng.uniform(0, 2 * np.pi)
    pan = pan_speed * np.array([np.cos(heading), 0.4 * np.sin(heading)])
    jitter = gaussian_filter1d(rng.normal(size=(num_frames, 2)), 2.0, axis=0)
    jitter = shake * jitter / max(float(jitter.std()), 1e-6) if shake > 0 else np.zeros_like(jitter)
    travel = np.arange(num_frames)[:, None] * pan + jitter
    margin = np.ceil(np.abs(travel).max(0)).astype(int) + 2
    ground, ground_hue = ground_texture(rng, height + 2 * margin[1], width + 2 * margin[0])
    camera = margin + travel

    roles = ROLES[:num_objects]
    # Mean radius (fraction of the height, +-5% per seed) and bound on the outline's wiggle. The
    # hidden object must fit inside the occluder with room for its wobble (0.008 h per axis):
    # 0.16 * 0.95 * (1 - 0.22) = 0.119 h > 0.065 * 1.05 * (1 + 0.2) + 0.0113 = 0.093 h.
    scale = {"occluder": 0.16, "hidden": 0.065, "wanderer": 0.11}
    wiggle = {"occluder": 0.22, "hidden": 0.2, "wanderer": 0.2}  # max summed harmonic amplitude
    radii = {role: scale[role] * height * rng.uniform(0.95, 1.05) for role in ROLES}
    paths = trajectories(rng, u, width, height, radii)
    mirror_x, mirror_y = rng.random() < 0.5, rng.random() < 0.5
    hues = object_hues(rng, ground_hue, num_objects)
    patterns = rng.permutation(len(PATTERNS))
    objects = []
    for k, role in enumerate(roles):
        centres = paths[role].copy()
        if mirror_x:
            centres[:, 0] = width - centres[:, 0]
        if mirror_y:
            centres[:, 1] = height - centres[:, 1]
        centres -= jitter  # the camera shakes, so everything in view moves the other way
        pattern = PATTERNS[patterns[k]]
        side = int(np.ceil(2 * radii[role] * (1 + wiggle[role]))) + 8
        objects.append(
            SyntheticObject(
                id=k + 1,
                name=f"{hue_name(hues[k])}-{pattern}",
                role=role,
                depth=_DEPTH[role],
                radius=radii[role],
                centres=centres,
                angles=rng.uniform(0, 2 * np.pi) + rng.uniform(-0.3, 0.3) * times,
                harmonics=outline_harmonics(rng, times, wiggle[role]),
                texture=object_texture(rng, side, hues[k], pattern),
            )
        )
    gain = 1 + 0.03 * np.sin(2 * np.pi * 0.3 * times + rng.uniform(0, 2 * np.pi))
    return SyntheticClip(
        seed=seed,
        num_frames=num_frames,
        size=(width, height),
        fps=fps,
        objects=tuple(objects),
        min_visible_fraction=min_visible_fraction,
        _ground=ground,
        _camera=camera,
        _gain=gain,
        _noise=noise,
        _shadow=shadow,
    )
