"""One tracking run of the studio: re-track only what a change of prompts can change.

The kept results live in a :class:`ResultStore`; :func:`first_changed_frame` says where the new
prompts start to differ; tracking resumes from the tracker snapshot kept just before that
frame (or from the range start when the rules require everything again).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from segany_video.errors import PromptError
from segany_video.readers.reader import open_video
from segany_video.segmenter import VideoSegmenter
from segany_video.studio.retrack import TrackedPrompts, first_changed_frame
from segany_video.studio.store import ResultStore
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.tracker import Tracker

Publish = Callable[[ResultStore, int], None]
Tick = Callable[[int, int | None], None]


def run_tracking(
    segmenter: VideoSegmenter,
    video_path: Path,
    prompts: PromptSet,
    wanted: TrackedPrompts,
    previous: TrackedPrompts | None,
    store: ResultStore | None,
    publish: Publish,
    tick: Tick,
) -> str:
    """Bring ``store`` up to date with ``wanted`` over ``wanted``'s range.

    Args:
        segmenter: engine, runtime and config.
        video_path: the video.
        prompts: the prompts ``wanted`` was made from.
        wanted, previous: what is asked now, and what the kept results were tracked with.
        store: the kept results, or None.
        publish: called as ``publish(store, first_frame)`` once the results that stay are
            known and before any frame is tracked (so the page shows progress as it comes).
        tick: progress callback ``tick(done, total)``; it may raise to cancel.

    Returns:
        A one-line summary for the page.

    Raises:
        PromptError: a first keyframe outside the range, or prompts the video rejects.
    """
    start, end = wanted.start, wanted.end
    with open_video(video_path, settings=segmenter.config.reader) as video:
        info = video.info
        stop = end if end is not None else info.frame_count
        resolved = prompts.resolve(info)
        for obj in resolved.objects:
            if not start <= obj.first_frame < stop:
                raise PromptError(
                    f"object {obj.id!r}: its first keyframe (frame {obj.first_frame}) is "
                    f"outside the tracked range [{start}, {stop})"
                )
        changed = first_changed_frame(previous, wanted)
        if store is None or changed == start or store.object_ids != resolved.ids:
            store = ResultStore((info.height, info.width), resolved.ids, start)
        store.drop_from(stop)
        resume = min(changed if changed is not None else stop, store.done_until(), stop)
        store.drop_from(resume)
        tracker = Tracker(segmenter.model, resolved, segmenter.config.tracker)
        snapshot = store.snapshot_before(resume) if resume > start else None
        begin = start
        if snapshot is not None:
            tracker.restore(snapshot[1])
            begin = snapshot[0] + 1
        publish(store, begin)
        if resume >= stop:
            return "nothing to track: the results are up to date"
        runtime = segmenter.runtime
        results = tracker.track(
            runtime.stream(video, begin, end),
            lambda indices: runtime.stream_indices(video, indices),
        )
        total = stop - begin
        tick(0, total)
        try:
            for done, result in enumerate(results, start=1):
                store.add(result)
                if store.wants_snapshot(result.index) and tracker.settled():
                    store.add_snapshot(result.index, tracker.snapshot())
                tick(done, total)
        finally:
            results.close()
    return f"tracked frames {begin}..{stop - 1}"
