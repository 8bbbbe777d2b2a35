"""Which frames a change of prompts can change: the rules for re-tracking after a correction.

The tracker follows objects forward from their keyframes; its state after frame ``s`` depends
only on keyframes up to ``s``. Objects whose first keyframe comes after the range's start are
also tracked backward from that first keyframe, before the forward pass. So:

* a keyframe added, changed or removed on frame ``k`` changes results from ``k`` on only, and
  tracking resumes from the snapshot before ``k``;
* a change to the first keyframe of such a late object, a new or deleted object, or a new range
  start changes the backward pass or the set of objects: everything is tracked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from segany_video.studio.objects import StudioObject


@dataclass(frozen=True)
class TrackedPrompts:
    """What one tracking run was asked to do, in comparable form.

    Attributes:
        keyframes: object id -> frame -> keyframe signature (objects in output order).
        start, end: the range ``[start, end)``; ``end`` None for the end of the video.
    """

    keyframes: Mapping[int, Mapping[int, tuple]]
    start: int
    end: int | None

    @classmethod
    def of(cls, objects: list[StudioObject], start: int, end: int | None) -> TrackedPrompts:
        return cls(
            {obj.id: {f: kf.signature() for f, kf in obj.keyframes.items()} for obj in objects},
            start,
            end,
        )

    def backward_part(self) -> dict[int, tuple[int, tuple]]:
        """First keyframe of every object that starts after the range start."""
        out = {}
        for object_id, keyframes in self.keyframes.items():
            first = min(keyframes)
            if first > self.start:
                out[object_id] = (first, keyframes[first])
        return out


def first_changed_frame(old: TrackedPrompts | None, new: TrackedPrompts) -> int | None:
    """The earliest frame whose results may differ between a run with ``old`` and one with
    ``new``: ``new.start`` when everything must be tracked again, None when nothing changes.

    A range that only grows or shrinks at its end changes nothing before the old end.
    """
    if (
        old is None
        or old.start != new.start
        or list(old.keyframes) != list(new.keyframes)
        or old.backward_part() != new.backward_part()
    ):
        return new.start
    changed = [
        frame
        for object_id, keyframes in new.keyframes.items()
        for frame in set(keyframes) | set(old.keyframes[object_id])
        if keyframes.get(frame) != old.keyframes[object_id].get(frame)
    ]
    first = min(changed, default=None)
    if old.end is not None and (new.end is None or new.end > old.end):
        first = old.end if first is None else min(first, old.end)
    return None if first is None else max(first, new.start)
