"""Frames an object was lost on, filled by tracking it backward from where it was found again.

Going forward, a fast or deforming object is often lost for a few frames before the search finds
it again; on those frames it has no mask, though it is in view. Once it is found again, the
tracker follows it backward from that frame over the stretch it was lost for, as it follows
late-prompted objects back to the start, until the backward track loses it too (where it was
really hidden or out of the frame). To do that, results are held back while an object is lost,
for at most ``limit`` frames: a stretch lost longer than that is left as it is and the held
frames go out. Output stays in frame order; only its timing changes.

An object counts as lost-and-fillable from a frame where it is LOST right after being seen
(PROMPTED or TRACKED). Filled frames report TRACKED with the backward pass's score, capped at the
score of the find (a fill is no surer than the frame it starts from); where a filled mask
overlaps another object's, the higher score keeps the pixel (:func:`merge_frame`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from segany_video.models.base import PromptableSegmenter
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.runtime.encoded import Rewind
from segany_video.tracking.backward import mask_from_runs, mask_runs, merge_frame
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.settings import TrackerSettings

_SEEN = (TrackState.PROMPTED, TrackState.TRACKED)


class LostStretchFiller:
    """Holds results while an object is lost and fills its stretch once it is found again.

    Args:
        model: the engine the backward passes decode with.
        order: object ids in output order.
        settings: tracker settings (the backward passes use them too).
        limit: the longest lost stretch filled, in frames (also the most frames held).
    """

    def __init__(
        self,
        model: PromptableSegmenter,
        order: Sequence[int | str],
        settings: TrackerSettings,
        limit: int,
    ) -> None:
        self.model = model
        self.order = list(order)
        self.settings = settings
        self.limit = limit
        # Held results are run-length coded: a few kilobytes a mask instead of H x W bytes.
        self._held: deque[FrameResult | _Packed] = deque()
        self._lost_since: dict[int | str, int] = {}

    @property
    def holding(self) -> bool:
        """Whether results are held back (a snapshot now would not match the output)."""
        return bool(self._held)

    def push(
        self,
        result: FrameResult,
        before: Mapping[int | str, TrackState],
        rewind: Rewind,
    ) -> Iterator[FrameResult]:
        """Take the next frame's forward result, given each object's state on the frame before
        it (where a lost stretch begins); yield the results that may go out now."""
        self._held.append(result)
        for object_id, outcome in result.objects.items():
            if outcome.state is TrackState.LOST:
                if before.get(object_id) in _SEEN:
                    self._lost_since[object_id] = result.index
                continue
            start = self._lost_since.pop(object_id, None)
            if start is not None and outcome.state is TrackState.TRACKED:
                self._fill(object_id, start, result, rewind)
        while self._held and (
            len(self._held) > self.limit or not self._waits_for(self._held[0].index)
        ):
            yield self._release()
        if self._held and self._held[-1] is result:
            self._held[-1] = _Packed.of(result)

    def flush(self) -> Iterator[FrameResult]:
        """The end of the stream: everything held goes out as it is."""
        while self._held:
            yield self._release()
        self._lost_since.clear()

    def _waits_for(self, index: int) -> bool:
        return any(start <= index for start in self._lost_since.values())

    def _release(self) -> FrameResult:
        held = self._held.popleft()
        result = held.unpacked() if isinstance(held, _Packed) else held
        # A stretch that began on a frame now out can no longer be filled whole.
        for object_id, start in list(self._lost_since.items()):
            if start <= result.index:
                del self._lost_since[object_id]
        return result

    def _fill(self, object_id: int | str, start: int, found: FrameResult, rewind: Rewind) -> None:
        """Track ``object_id`` backward from ``found`` over its lost frames ``start..``."""
        held = {r.index: position for position, r in enumerate(self._held)}
        indices = list(range(found.index, start - 1, -1))
        if any(index not in held for index in indices):
            return
        found_score = found.objects[object_id].score
        seed = ResolvedKeyframe(found.index, None, None, None, found.objects[object_id].mask)
        backward = Propagator(self.model, [object_id], {found.index: [(0, seed)]}, self.settings)
        frames = rewind(indices)
        try:
            for frame in frames:
                (outcome,) = backward.step(frame)
                if frame.index == found.index:
                    continue
                if outcome.state is not TrackState.TRACKED:
                    break
                # A fill is only as sure as the find it starts from.
                outcome = replace(outcome, score=min(outcome.score, found_score))
                position = held[frame.index]
                before = self._held[position]
                assert isinstance(before, _Packed)  # only the find itself is not packed yet
                objects = dict(before.unpacked().objects)
                objects = merge_frame(self.order, objects, {object_id: outcome})
                self._held[position] = _Packed.of(
                    FrameResult(frame.index, before.timestamp, objects)
                )
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()  # stops the re-reading where the backward track ended


@dataclass(frozen=True)
class _Packed:
    """A held frame result with run-length coded masks (see :func:`.backward.mask_runs`)."""

    index: int
    timestamp: float
    shape: tuple[int, int]
    objects: dict[int | str, tuple[np.ndarray | None, np.ndarray | None, float, TrackState]]

    @classmethod
    def of(cls, result: FrameResult) -> _Packed:
        first = next(iter(result.objects.values()))
        return cls(
            result.index,
            result.timestamp,
            first.mask.shape,
            {
                object_id: (mask_runs(o.mask), o.box, o.score, o.state)
                for object_id, o in result.objects.items()
            },
        )

    def unpacked(self) -> FrameResult:
        height, width = self.shape
        objects = {
            object_id: ObjectResult(
                object_id, mask_from_runs(runs, height, width), box, score, state
            )
            for object_id, (runs, box, score, state) in self.objects.items()
        }
        return FrameResult(self.index, self.timestamp, objects)
