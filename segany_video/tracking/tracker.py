"""The tracker: keyframe prompts in, one :class:`FrameResult` per frame out.

Objects are followed forward from their first keyframe. An object whose first keyframe comes
after the first frame is also followed *backward* to the start: before the forward stream begins,
the tracker asks ``rewind`` for the frames from the latest such keyframe down to the first frame,
tracks the late objects through them, and holds their results run-length coded until the
forward stream reaches those frames (merge rule in :mod:`.backward`). Without ``rewind``, late
objects are INACTIVE before their first keyframe.

The tracker's state after any frame can be captured with :meth:`Tracker.snapshot` (numpy arrays
and JSON values only) and loaded into a new tracker with :meth:`Tracker.restore`; continuing
from there gives bit-identical results to an uninterrupted run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain

from segany_video.errors import PromptError
from segany_video.models.base import PromptableSegmenter
from segany_video.results import FrameResult, TrackState
from segany_video.runtime.encoded import EncodedFrame, Rewind
from segany_video.tracking.backward import BackwardResults, merge_frame
from segany_video.tracking.prompts import ResolvedKeyframe, ResolvedPrompts
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.refill import LostStretchFiller
from segany_video.tracking.settings import TrackerSettings

# 3: each object's last state, where a lost stretch may begin (2: backward results
# run-length coded; 1: bit-packed).
SNAPSHOT_VERSION = 3


class BackwardFirstLoop:
    """The frame loop both trackers share: late objects' backward pass first, then each frame.

    Subclasses set ``_backward_done`` and ``_last_index`` and implement :meth:`step` and
    ``_run_backward(start, rewind)``.
    """

    _backward_done: bool
    _last_index: int | None

    def step(self, frame: EncodedFrame) -> FrameResult:
        raise NotImplementedError

    def _run_backward(self, start: int, rewind: Rewind | None) -> None:
        raise NotImplementedError

    def track(
        self, frames: Iterable[EncodedFrame], rewind: Rewind | None = None
    ) -> Iterator[FrameResult]:
        """Yield one result per input frame, in order, with every object present.

        Args:
            frames: consecutive encoded frames, from the first to process.
            rewind: returns encoded frames for given indices, in the order given (descending for
                the backward pass); None to skip backward tracking.

        Yields:
            One :class:`FrameResult` per frame; objects in prompt order with states
            PROMPTED / TRACKED / LOST / INACTIVE.
        """
        iterator = iter(frames)
        first = next(iterator, None)
        if first is None:
            return
        if not self._backward_done:
            self._run_backward(first.index, rewind)
        for frame in chain([first], iterator):
            yield self.step(frame)

    @property
    def last_index(self) -> int | None:
        """Index of the last frame processed (None before the first)."""
        return self._last_index

    def settled(self) -> bool:
        """Whether every result so far has been yielded, so :meth:`snapshot` is the state
        after the last one."""
        return True


class Tracker(BackwardFirstLoop):
    """Tracks the prompted objects of one video.

    Args:
        model: any engine with the :class:`PromptableSegmenter` interface.
        prompts: resolved prompts (see :meth:`PromptSet.resolve`).
        settings: tracker settings (defaults when None).
    """

    def __init__(
        self,
        model: PromptableSegmenter,
        prompts: ResolvedPrompts,
        settings: TrackerSettings | None = None,
    ) -> None:
        self.model = model
        self.prompts = prompts
        self.settings = settings or TrackerSettings()
        self._order = prompts.ids
        keyframes: dict[int, list[tuple[int, ResolvedKeyframe]]] = {}
        for slot, obj in enumerate(prompts.objects):
            for keyframe in obj.keyframes:
                keyframes.setdefault(keyframe.frame, []).append((slot, keyframe))
        self._forward = Propagator(model, self._order, keyframes, self.settings)
        self._backward = BackwardResults(prompts.frame_size)
        self._backward_done = False
        self._last_index: int | None = None
        self._filler: LostStretchFiller | None = None
        # Each object's state on the last frame processed: where a lost stretch may begin.
        self._states = dict.fromkeys(self._order, TrackState.INACTIVE)

    def track(
        self, frames: Iterable[EncodedFrame], rewind: Rewind | None = None
    ) -> Iterator[FrameResult]:
        """As :meth:`BackwardFirstLoop.track`, with each object's lost stretches of up to
        ``settings.refill_frames`` frames filled backward from where it is found again (frames
        re-read with ``rewind``; without it, or with the setting 0, nothing is held)."""
        limit = self.settings.refill_frames
        if rewind is None or limit == 0:
            yield from super().track(frames, rewind)
            return
        self._filler = LostStretchFiller(self.model, self._order, self.settings, limit)
        try:
            before = self._states
            for result in super().track(frames, rewind):
                # step() has moved self._states on to this result; `before` is the frame before.
                yield from self._filler.push(result, before, rewind)
                before = self._states
            yield from self._filler.flush()
        finally:
            self._filler = None

    def settled(self) -> bool:
        return self._filler is None or not self._filler.holding

    def step(self, frame: EncodedFrame) -> FrameResult:
        """Track one frame forward and merge in any held backward results for it."""
        forward = {r.object_id: r for r in self._forward.step(frame)}
        backward = self._backward.pop(frame.index)
        self._last_index = frame.index
        objects = merge_frame(self._order, forward, backward)
        self._states = {object_id: result.state for object_id, result in objects.items()}
        return FrameResult(frame.index, frame.timestamp, objects)

    def _run_backward(self, start: int, rewind: Rewind | None) -> None:
        self._backward_done = True
        late = [obj for obj in self.prompts.objects if obj.first_frame > start]
        if not late or rewind is None:
            return
        keyframes: dict[int, list[tuple[int, ResolvedKeyframe]]] = {}
        for slot, obj in enumerate(late):
            keyframes.setdefault(obj.first_frame, []).append((slot, obj.keyframes[0]))
        first_frames = {obj.id: obj.first_frame for obj in late}
        backward = Propagator(self.model, [obj.id for obj in late], keyframes, self.settings)
        indices = list(range(max(first_frames.values()), start - 1, -1))
        for frame in rewind(indices):
            for result in backward.step(frame):
                if frame.index < first_frames[result.object_id]:
                    self._backward.add(frame.index, result)

    def snapshot(self) -> dict:
        """The complete state after the last processed frame, as numpy arrays and JSON values."""
        return {
            "version": SNAPSHOT_VERSION,
            "object_ids": list(self._order),
            "last_index": self._last_index,
            "backward_done": self._backward_done,
            "states": [self._states[object_id].value for object_id in self._order],
            "forward": self._forward.snapshot(),
            "backward": self._backward.snapshot(),
        }

    def restore(self, snapshot: dict) -> None:
        """Load a :meth:`snapshot` taken from a tracker with the same prompts and settings.

        Raises:
            PromptError: when the snapshot belongs to another prompt set or version.
        """
        check_snapshot(snapshot, SNAPSHOT_VERSION, None, self._order)
        self._last_index = snapshot["last_index"]
        self._backward_done = bool(snapshot["backward_done"])
        self._states = {
            object_id: TrackState(state)
            for object_id, state in zip(self._order, snapshot["states"], strict=True)
        }
        self._forward.restore(snapshot["forward"])
        self._backward = BackwardResults.restore(snapshot["backward"])


def check_snapshot(
    snapshot: dict, version: int, kind: str | None, object_ids: Sequence[int | str]
) -> None:
    """Refuse a tracker snapshot of another version, tracker kind or prompt set.

    Raises:
        PromptError: naming what the snapshot holds and what was expected.
    """
    if snapshot.get("version") != version or snapshot.get("kind") != kind:
        raise PromptError(
            f"tracker snapshot {snapshot.get('kind') or 'classic'!r} version "
            f"{snapshot.get('version')!r}, expected {kind or 'classic'!r} version {version}"
        )
    if list(snapshot["object_ids"]) != list(object_ids):
        raise PromptError(
            f"tracker snapshot is for objects {snapshot['object_ids']}, "
            f"but these prompts have {list(object_ids)}"
        )
