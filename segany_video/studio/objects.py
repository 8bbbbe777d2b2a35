"""The page's objects and their keyframes, with undo; turned into a :class:`PromptSet`.

Every edit the page makes (a click, a box, a mask, a chosen candidate, a new or deleted object)
goes through :class:`ObjectBoard`, which keeps the state before each edit for :meth:`undo`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from segany_video.errors import PromptError
from segany_video.tracking.prompts import KeyframeSpec, ObjectSpec, PromptSet

# Distinct, readable colours for objects 1, 2, 3, ... (cycled).
PALETTE = ("#ff4d4d", "#3d9bff", "#33cc66", "#ffb020", "#c05cff", "#00c8c8", "#ff6fb0", "#9acd32")
UNDO_DEPTH = 200


@dataclass
class Keyframe:
    """One object's prompts on one frame.

    Attributes:
        points: ``[(x, y, label), ...]`` pixels, label 1 = object, 0 = not the object.
        box: ``(x0, y0, x1, y1)`` pixels, or None.
        mask: ``(H, W)`` bool (an uploaded mask or a candidate the user picked), or None.
            When set, tracking starts from it and ignores the clicks and box.
        mask_origin: ``"upload"`` or ``"candidate"`` when ``mask`` is set.
    """

    points: list[tuple[float, float, int]] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None
    mask_origin: str | None = None

    @property
    def is_empty(self) -> bool:
        return not self.points and self.box is None and self.mask is None

    def signature(self) -> tuple:
        """A value that is equal exactly when two keyframes prompt the tracker alike."""
        mask = None if self.mask is None else np.packbits(self.mask).tobytes()
        return (tuple(self.points), self.box, mask)


@dataclass
class StudioObject:
    """An object on the page: a stable integer id, a name, a colour, keyframes by frame."""

    id: int
    name: str
    colour: str
    keyframes: dict[int, Keyframe] = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "colour": self.colour,
            "keyframes": sorted(self.keyframes),
            "prompts": {
                str(frame): {
                    "points": [list(p) for p in kf.points],
                    "box": None if kf.box is None else list(kf.box),
                    "mask": kf.mask_origin,
                }
                for frame, kf in sorted(self.keyframes.items())
            },
        }


class ObjectBoard:
    """All objects of the open video, in creation order (their output order).

    Args:
        frame_size: ``(H, W)`` of the video, to check coordinates and masks.
    """

    def __init__(self, frame_size: tuple[int, int]) -> None:
        self.frame_size = frame_size
        self.objects: dict[int, StudioObject] = {}
        self._next_id = 1
        self._undo: list[tuple[dict[int, StudioObject], int]] = []

    # ------------------------------------------------------------------------- objects

    def add(self, name: str | None = None, colour: str | None = None) -> StudioObject:
        self._remember()
        object_id = self._next_id
        self._next_id += 1
        obj = StudioObject(
            object_id,
            _clean_name(name) or f"object {object_id}",
            _clean_colour(colour) or PALETTE[(object_id - 1) % len(PALETTE)],
        )
        self.objects[object_id] = obj
        return obj

    def get(self, object_id: int) -> StudioObject:
        try:
            return self.objects[int(object_id)]
        except (KeyError, TypeError, ValueError):
            raise PromptError(f"object {object_id!r} does not exist") from None

    def update(self, object_id: int, name: str | None = None, colour: str | None = None) -> None:
        obj = self.get(object_id)
        self._remember()
        if name is not None:
            obj.name = _clean_name(name) or obj.name
        if colour is not None:
            checked = _clean_colour(colour)
            if checked is None:
                raise PromptError(f"colour {colour!r} must look like #rrggbb")
            obj.colour = checked

    def remove(self, object_id: int) -> None:
        self.get(object_id)
        self._remember()
        del self.objects[int(object_id)]

    # ------------------------------------------------------------------------- prompts

    def add_point(self, object_id: int, frame: int, x: float, y: float, label: int) -> Keyframe:
        """Add a click (label 1 = on the object, 0 = not on it); drops a picked mask."""
        self._check_point(x, y)
        if label not in (0, 1):
            raise PromptError(f"point label must be 0 or 1, got {label!r}")
        obj = self.get(object_id)
        self._remember()
        keyframe = obj.keyframes.setdefault(int(frame), Keyframe())
        keyframe.points.append((round(float(x), 1), round(float(y), 1), int(label)))
        keyframe.mask, keyframe.mask_origin = None, None
        return keyframe

    def set_box(
        self, object_id: int, frame: int, box: tuple[float, float, float, float]
    ) -> Keyframe:
        """Set the keyframe's box ``XYXY`` (clipped to the frame); drops a picked mask."""
        height, width = self.frame_size
        x0, y0, x1, y1 = (float(v) for v in box)
        x0, x1 = sorted((min(max(x0, 0.0), width), min(max(x1, 0.0), width)))
        y0, y1 = sorted((min(max(y0, 0.0), height), min(max(y1, 0.0), height)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise PromptError(f"box {list(box)} is too small: drag at least 2 pixels each way")
        obj = self.get(object_id)
        self._remember()
        keyframe = obj.keyframes.setdefault(int(frame), Keyframe())
        keyframe.box = (round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1))
        keyframe.mask, keyframe.mask_origin = None, None
        return keyframe

    def set_mask(self, object_id: int, frame: int, mask: np.ndarray, origin: str) -> Keyframe:
        """Give the keyframe a mask: ``"upload"`` replaces its prompts, ``"candidate"`` keeps them
        (the picked candidate stands in for the engine's own choice)."""
        if mask.shape != self.frame_size:
            raise PromptError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but the video is "
                f"{self.frame_size[1]}x{self.frame_size[0]}"
            )
        if not mask.any():
            raise PromptError(f"the mask for object {object_id} on frame {frame} is empty")
        obj = self.get(object_id)
        self._remember()
        keyframe = obj.keyframes.setdefault(int(frame), Keyframe())
        if origin == "upload":
            keyframe.points, keyframe.box = [], None
        keyframe.mask, keyframe.mask_origin = mask.astype(bool), origin
        return keyframe

    def clear_keyframe(self, object_id: int, frame: int) -> None:
        obj = self.get(object_id)
        if int(frame) not in obj.keyframes:
            raise PromptError(f"object {object_id} has no keyframe on frame {frame}")
        self._remember()
        del obj.keyframes[int(frame)]

    def undo(self) -> bool:
        """Go back to the state before the last edit; False when there is nothing to undo."""
        if not self._undo:
            return False
        self.objects, self._next_id = self._undo.pop()
        return True

    # ------------------------------------------------------------------------- views

    def prompted(self) -> list[StudioObject]:
        """Objects with at least one keyframe, in output order."""
        return [obj for obj in self.objects.values() if obj.keyframes]

    def prompt_set(self) -> PromptSet:
        """The tracker's prompts: every object that has a keyframe, masks as arrays.

        Raises:
            PromptError: no object has a keyframe yet.
        """
        objects = [
            ObjectSpec(
                obj.id,
                obj.name,
                [_spec(frame, kf, kf.mask) for frame, kf in sorted(obj.keyframes.items())],
            )
            for obj in self.prompted()
        ]
        if not objects:
            raise PromptError("no object has a prompt yet: click on an object first")
        return PromptSet(objects)

    def prompts_file(self, mask_name: str = "masks/{id}_{frame:05d}.png") -> tuple[dict, dict]:
        """The prompts file's content and the masks it refers to.

        Returns:
            ``(data, masks)``: ``data`` is the JSON-ready prompts dict; ``masks`` maps each
            relative mask file name in it to its ``(H, W)`` bool mask.
        """
        masks: dict[str, np.ndarray] = {}
        objects = []
        for obj in self.prompted():
            keyframes = []
            for frame, kf in sorted(obj.keyframes.items()):
                entry: dict = {"frame": frame}
                if kf.points:
                    entry["points"] = [[x, y, label] for x, y, label in kf.points]
                if kf.box is not None:
                    entry["box"] = list(kf.box)
                if kf.mask is not None:
                    name = mask_name.format(id=obj.id, frame=frame)
                    entry["mask"] = name
                    masks[name] = kf.mask
                keyframes.append(entry)
            objects.append({"id": obj.id, "name": obj.name, "keyframes": keyframes})
        return {"objects": objects}, masks

    def describe(self) -> list[dict]:
        return [obj.describe() for obj in self.objects.values()]

    def _remember(self) -> None:
        self._undo.append((copy.deepcopy(self.objects), self._next_id))
        del self._undo[:-UNDO_DEPTH]

    def _check_point(self, x: float, y: float) -> None:
        height, width = self.frame_size
        if not (0 <= float(x) <= width and 0 <= float(y) <= height):
            raise PromptError(f"point ({x}, {y}) is outside the {width}x{height} frame")


def _spec(frame: int, kf: Keyframe, mask: np.ndarray | None) -> KeyframeSpec:
    return KeyframeSpec(frame=frame, points=list(kf.points) or None, box=kf.box, mask=mask)


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    text = " ".join(str(name).split())[:60]
    return text or None


def _clean_colour(colour: str | None) -> str | None:
    if colour is None:
        return None
    text = str(colour).strip().lower()
    if len(text) == 7 and text[0] == "#" and all(c in "0123456789abcdef" for c in text[1:]):
        return text
    return None
