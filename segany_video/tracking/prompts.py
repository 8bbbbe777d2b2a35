"""The user's prompts: which objects to track, and where they are on one or more keyframes.

A prompt set is written as JSON or YAML (or built in Python) and resolved against a video's
:class:`~segany_video.readers.frames.VideoInfo` into frame indices and arrays the tracker uses::

    {"objects": [{"id": 1, "name": "runner", "keyframes": [
        {"frame": 0, "box": [120, 40, 260, 330], "points": [[190, 120, 1], [230, 300, 0]]},
        {"frame": 75, "mask": "runner_075.png"}]}]}

Coordinates are pixels of the source frame: points ``(x, y, label)`` with label 1 = object and
0 = not the object, boxes ``XYXY``. A keyframe names its frame by index (``frame``) or by time in
seconds (``time``). Relative mask paths resolve against the prompts file's folder.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import PromptError
from segany_video.readers.frames import VideoInfo

_KEYFRAME_KEYS = frozenset({"frame", "time", "points", "box", "mask"})
_OBJECT_KEYS = frozenset({"id", "name", "keyframes"})
_TOP_KEYS = frozenset({"objects"})


@dataclass(frozen=True)
class KeyframeSpec:
    """Prompts for one object on one frame, as the user wrote them.

    Attributes:
        frame: 0-based frame index, or None when ``time`` is given.
        time: seconds from the start, or None when ``frame`` is given.
        points: ``[(x, y, label), ...]`` in pixels, label 1 = object, 0 = background.
        box: ``(x0, y0, x1, y1)`` in pixels.
        mask: ``(H, W)`` array (non-zero = object) or a path to a PNG.
    """

    frame: int | None = None
    time: float | None = None
    points: list[tuple[float, float, int]] | None = None
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | str | Path | None = None

    def describe(self) -> str:
        return f"frame {self.frame}" if self.frame is not None else f"time {self.time}s"


@dataclass(frozen=True)
class ObjectSpec:
    """One object: a stable user id, an optional display name, and its keyframes."""

    id: int | str
    name: str | None = None
    keyframes: list[KeyframeSpec] = field(default_factory=list)


@dataclass(frozen=True)
class ResolvedKeyframe:
    """A keyframe ready for the tracker.

    Attributes:
        frame: 0-based frame index.
        points: ``(P, 2)`` float32 ``(x, y)`` or None.
        point_labels: ``(P,)`` int64 or None.
        box: ``(4,)`` float32 ``XYXY`` or None.
        mask: ``(H, W)`` bool or None.
    """

    frame: int
    points: np.ndarray | None
    point_labels: np.ndarray | None
    box: np.ndarray | None
    mask: np.ndarray | None


@dataclass(frozen=True)
class ResolvedObject:
    """One object with its keyframes sorted by frame (at most one keyframe per frame)."""

    id: int | str
    name: str | None
    keyframes: tuple[ResolvedKeyframe, ...]

    @property
    def first_frame(self) -> int:
        return self.keyframes[0].frame

    def keyframe_at(self, frame: int) -> ResolvedKeyframe | None:
        for keyframe in self.keyframes:
            if keyframe.frame == frame:
                return keyframe
        return None


@dataclass(frozen=True)
class ResolvedPrompts:
    """All objects of a video, in the order the user listed them (their output order)."""

    objects: tuple[ResolvedObject, ...]
    frame_size: tuple[int, int]  # (H, W)

    @property
    def ids(self) -> list[int | str]:
        return [obj.id for obj in self.objects]

    def by_id(self, object_id: int | str) -> ResolvedObject:
        for obj in self.objects:
            if obj.id == object_id:
                return obj
        raise KeyError(object_id)


@dataclass(frozen=True)
class PromptSet:
    """The objects to track, as specified by the user; see the module docstring for the format."""

    objects: list[ObjectSpec]

    def __post_init__(self) -> None:
        if not self.objects:
            raise PromptError(
                "the prompt set has no objects: add at least one object with a prompt"
            )
        seen: set[int | str] = set()
        for obj in self.objects:
            if not isinstance(obj.id, (int, str)) or isinstance(obj.id, bool):
                raise PromptError(f"object id must be an int or a string, got {obj.id!r}")
            if obj.id in seen:
                raise PromptError(f"object {obj.id!r}: duplicate id, ids must be unique")
            seen.add(obj.id)
            if not obj.keyframes:
                raise PromptError(
                    f"object {obj.id!r} has no keyframes: give it at least one prompt"
                )
            for keyframe in obj.keyframes:
                _check_keyframe(obj.id, keyframe)

    @classmethod
    def load(cls, path: str | Path) -> PromptSet:
        """Read a JSON (``.json``) or YAML (``.yaml``/``.yml``) prompts file."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PromptError(f"cannot read prompts file {path}: {exc}") from exc
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # json and yaml raise unrelated types
            raise PromptError(f"prompts file {path} is not valid {path.suffix[1:]}: {exc}") from exc
        if not isinstance(data, Mapping):
            raise PromptError(f"prompts file {path}: expected a mapping with 'objects' at the top")
        return cls.from_dict(data, base_dir=path.parent)

    @classmethod
    def from_dict(cls, d: Mapping, base_dir: str | Path | None = None) -> PromptSet:
        """Build from plain data (parsed JSON/YAML); unknown keys are errors."""
        _reject_unknown(d, _TOP_KEYS, "the prompt set")
        raw_objects = d.get("objects")
        if not isinstance(raw_objects, Sequence) or isinstance(raw_objects, str):
            raise PromptError("'objects' must be a list of objects")
        base = Path(base_dir) if base_dir is not None else None
        objects = []
        for raw in raw_objects:
            if not isinstance(raw, Mapping):
                raise PromptError(f"each object must be a mapping, got {raw!r}")
            if "id" not in raw:
                raise PromptError(f"object {raw.get('name', '?')!r} has no 'id'")
            obj_id = raw["id"]
            _reject_unknown(raw, _OBJECT_KEYS, f"object {obj_id!r}")
            keyframes = [_keyframe_from_dict(obj_id, k, base) for k in raw.get("keyframes") or []]
            objects.append(ObjectSpec(id=obj_id, name=raw.get("name"), keyframes=keyframes))
        return cls(objects=objects)

    def resolve(self, info: VideoInfo) -> ResolvedPrompts:
        """Turn times into frame indices, load masks, and check everything against the video.

        Raises:
            PromptError: naming the object and frame, for a frame outside the video, coordinates
                outside the frame, a mask of the wrong size, or two keyframes on one frame.
        """
        resolved = []
        for obj in self.objects:
            keyframes: dict[int, ResolvedKeyframe] = {}
            for spec in obj.keyframes:
                keyframe = _resolve_keyframe(obj.id, spec, info)
                if keyframe.frame in keyframes:
                    raise PromptError(
                        f"object {obj.id!r}: two keyframes on frame {keyframe.frame}; "
                        "merge their prompts into one keyframe"
                    )
                keyframes[keyframe.frame] = keyframe
            ordered = tuple(keyframes[f] for f in sorted(keyframes))
            resolved.append(ResolvedObject(obj.id, obj.name, ordered))
        return ResolvedPrompts(tuple(resolved), (info.height, info.width))


def _reject_unknown(d: Mapping, allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(d) - allowed, key=str)
    if unknown:
        raise PromptError(f"{where}: unknown keys {unknown}; allowed keys are {sorted(allowed)}")


def _keyframe_from_dict(obj_id: int | str, raw: object, base: Path | None) -> KeyframeSpec:
    if not isinstance(raw, Mapping):
        raise PromptError(f"object {obj_id!r}: each keyframe must be a mapping, got {raw!r}")
    where = f"object {obj_id!r}, keyframe {raw.get('frame', raw.get('time', '?'))}"
    _reject_unknown(raw, _KEYFRAME_KEYS, where)
    points = raw.get("points")
    if points is not None:
        try:
            points = [(float(p[0]), float(p[1]), int(p[2])) for p in points]
        except (TypeError, ValueError, IndexError) as exc:
            raise PromptError(f"{where}: points must be [[x, y, label], ...]: {exc}") from exc
    box = raw.get("box")
    if box is not None:
        if len(box) != 4:
            raise PromptError(f"{where}: box must be [x0, y0, x1, y1], got {box!r}")
        box = tuple(float(v) for v in box)
    mask = raw.get("mask")
    if isinstance(mask, str) and base is not None and not Path(mask).is_absolute():
        mask = base / mask
    return KeyframeSpec(raw.get("frame"), raw.get("time"), points, box, mask)


def _check_keyframe(obj_id: int | str, spec: KeyframeSpec) -> None:
    where = f"object {obj_id!r}, {spec.describe()}"
    if (spec.frame is None) == (spec.time is None):
        raise PromptError(f"object {obj_id!r}: a keyframe needs exactly one of 'frame' or 'time'")
    if spec.frame is not None and (
        isinstance(spec.frame, bool) or not isinstance(spec.frame, (int, np.integer))
    ):
        raise PromptError(f"{where}: frame must be an integer index, got {spec.frame!r}")
    if (spec.frame is not None and spec.frame < 0) or (spec.time is not None and spec.time < 0):
        raise PromptError(f"{where}: frame and time must be >= 0")
    if spec.points is None and spec.box is None and spec.mask is None:
        raise PromptError(f"{where}: no prompt; give points, a box or a mask")
    if spec.points is not None:
        if len(spec.points) == 0:
            raise PromptError(f"{where}: points is empty")
        for point in spec.points:
            if len(point) != 3 or point[2] not in (0, 1):
                raise PromptError(f"{where}: point {point!r} must be (x, y, label) with label 0/1")
    if spec.box is not None:
        x0, y0, x1, y1 = spec.box
        if not (x1 > x0 and y1 > y0):
            raise PromptError(
                f"{where}: box {list(spec.box)} is degenerate (need x1 > x0, y1 > y0)"
            )


def _resolve_keyframe(obj_id: int | str, spec: KeyframeSpec, info: VideoInfo) -> ResolvedKeyframe:
    by_index = spec.frame is not None
    frame = int(spec.frame) if by_index else round(float(spec.time) * float(info.fps))
    where = f"object {obj_id!r}, frame {frame}"
    if info.frame_count is not None and frame >= info.frame_count:
        raise PromptError(
            f"{where}: frame is outside the video ({info.frame_count} frames, last is "
            f"{info.frame_count - 1})"
        )
    width, height = info.width, info.height
    points = labels = box = mask = None
    if spec.points is not None:
        arr = np.asarray(spec.points, dtype=np.float64)
        points, labels = arr[:, :2].astype(np.float32), arr[:, 2].astype(np.int64)
        outside = (points[:, 0] < 0) | (points[:, 0] > width) | (points[:, 1] < 0)
        outside |= points[:, 1] > height
        if outside.any():
            bad = points[outside][0].tolist()
            raise PromptError(f"{where}: point {bad} is outside the {width}x{height} frame")
    if spec.box is not None:
        box = np.asarray(spec.box, dtype=np.float32)
        if box[0] < 0 or box[1] < 0 or box[2] > width or box[3] > height:
            raise PromptError(f"{where}: box {box.tolist()} is outside the {width}x{height} frame")
    if spec.mask is not None:
        mask = _load_mask(spec.mask, where)
        if mask.shape != (height, width):
            raise PromptError(
                f"{where}: mask is {mask.shape[1]}x{mask.shape[0]} but the video is "
                f"{width}x{height}"
            )
        if not mask.any():
            raise PromptError(f"{where}: mask is empty; draw the object or drop the mask")
    return ResolvedKeyframe(frame, points, labels, box, mask)


def _load_mask(mask: np.ndarray | str | Path, where: str) -> np.ndarray:
    if isinstance(mask, np.ndarray):
        arr = mask
    else:
        # Checked first: OpenCV would print its own warning line for a missing file.
        if not Path(mask).is_file():
            raise PromptError(f"{where}: mask image {mask} does not exist or is not a file")
        arr = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise PromptError(f"{where}: cannot read mask image {mask}")
    if arr.ndim == 3:
        arr = arr[..., :3].max(axis=2)
    if arr.ndim != 2:
        raise PromptError(f"{where}: mask must be 2-D (H, W), got shape {arr.shape}")
    return np.asarray(arr) > 0
