"""The Python API: :class:`VideoSegmenter` ties reader, engine, runtime, tracker and writers.

>>> seg = VideoSegmenter()                       # classic engine, no learned weights
>>> for frame in seg.track("clip.mp4", "prompts.json"):
...     print(frame.index, {i: o.state.value for i, o in frame.objects.items()})
>>> summary = seg.run("clip.mp4", "prompts.json", "out/", formats=["masks", "overlay"])
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segany_video.config import Config, load_config
from segany_video.errors import ConfigError, FrameIndexError, PromptError
from segany_video.models.base import PromptableSegmenter
from segany_video.models.registry import build_model
from segany_video.readers.reader import VideoSource, open_video
from segany_video.results import FrameResult, TrackState
from segany_video.resume import SNAPSHOT_EVERY, JournalReplay, RunJournal
from segany_video.runtime.device import plan_device
from segany_video.runtime.encoded import EncodedFrame
from segany_video.runtime.runtime import Runtime
from segany_video.tracking.prompts import PromptSet, ResolvedPrompts
from segany_video.tracking.selection import make_tracker, tracking_mode
from segany_video.writers.atomic import remove_quietly, write_text_atomically
from segany_video.writers.outputs import FORMATS, OutputSet
from segany_video.writers.run_lock import RunLock

Prompts = PromptSet | Mapping[str, Any] | str | os.PathLike[str]
# A path or URL is opened (and closed) by the call; an open VideoSource is used as it is and
# stays open, which is how a caller that already opened a pipe or live stream passes it on.
Source = str | os.PathLike[str] | VideoSource
FramePosition = int | float | None  # int: frame index; float: seconds
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class ObjectSummary:
    """How one object fared over a run: frames per state."""

    id: int | str
    name: str | None
    frames: dict[str, int] = field(default_factory=dict)  # state value -> frame count


@dataclass(frozen=True)
class RunSummary:
    """What :meth:`VideoSegmenter.run` did; ``run.json`` holds :meth:`to_dict`."""

    source: str
    engine: str
    mode: str  # "video" (SAM 2 memory) or "image" (per-frame engine with propagated prompts)
    engine_description: str
    weights: str | None
    device: str
    frames: int
    first_frame: int
    objects: tuple[ObjectSummary, ...]
    wall_time_s: float
    outputs: dict[str, list[str]]
    config: dict[str, Any]
    resumed_at: int | None = None

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_time_s if self.wall_time_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["frames_per_s"] = round(self.frames_per_s, 3)
        return data


class VideoSegmenter:
    """Segments and tracks prompted objects through videos.

    Args:
        model: a registry name (``"classic"``, ``"sam_vit_b"``, ...), a checkpoint path, an
            engine instance, or None for the config's model (default: the classic engine).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; overrides the
            config's runtime device.
        config: a :class:`Config`, a YAML config file path, or None for the defaults.

    Raises:
        ModelNotFoundError, CheckpointError: the model cannot be found or loaded.
        DeviceError: the device is unavailable.
        ConfigError: an invalid config.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | PromptableSegmenter | None = None,
        device: str | None = None,
        config: Config | str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(config, Config):
            config = load_config(config)
        if device is not None:
            config = dataclasses.replace(
                config, runtime=dataclasses.replace(config.runtime, device=device)
            )
        if isinstance(model, (str, os.PathLike)):
            config = dataclasses.replace(config, model=os.fspath(model))
        self.config = config
        if model is None or isinstance(model, (str, os.PathLike)):
            model = build_model(
                config.model, device=plan_device(config.runtime).device, classic=config.classic
            )
        self.model = model
        self.runtime = Runtime(model, config.runtime)

    # ------------------------------------------------------------------------------ tracking

    def track(
        self,
        source: Source,
        prompts: Prompts,
        *,
        start: FramePosition = None,
        end: FramePosition = None,
    ) -> Iterator[FrameResult]:
        """Yield one :class:`FrameResult` per frame from ``start`` to ``end``, streaming.

        Args:
            source: a video file, URL, pipe or folder of frames, or an open
                :class:`VideoSource` (left open).
            prompts: a :class:`PromptSet`, its dict form, or a JSON/YAML prompts file.
            start, end: first frame and one past the last: an int is a frame index, a float
                is seconds; None for the video's start/end.
        """
        with self._open(source) as video:
            resolved, first, last = self._prepare(video, prompts, start, end)
            tracker = make_tracker(
                self.model, resolved, self.config.tracker, video.info.frame_count
            )
            # Closed explicitly: on an error the generator would otherwise live on in the
            # traceback, and its encoder thread with it until interpreter exit.
            with closing(self.runtime.stream(video, first, last)) as frames:
                yield from tracker.track(frames, self._rewind(video))

    def run(
        self,
        source: Source,
        prompts: Prompts,
        out_dir: str | os.PathLike[str],
        formats: Sequence[str] | None = None,
        *,
        start: FramePosition = None,
        end: FramePosition = None,
        resume: bool = False,
        progress: Progress | None = None,
        snapshot_every: int = SNAPSHOT_EVERY,
        lock: RunLock | None = None,
    ) -> RunSummary:
        """Track and write every requested output into ``out_dir``; return the summary.

        Outputs are written under temporary names and renamed only when the whole run
        completes. An interrupted run leaves ``out_dir/.resume`` so that ``resume=True`` with
        the same arguments continues after the last snapshot and produces identical outputs.

        Only one run at a time may write into ``out_dir``: the run holds a :class:`RunLock` on
        it, and a second run is refused at once.

        Args:
            source: a video file, URL, pipe or folder of frames, or an open
                :class:`VideoSource` (left open; a pipe can be read only once, so a caller that
                has opened it to check prompts passes it here instead of its name).
            formats: output formats (see :class:`WriterSettings`); None for the config's.
            resume: continue an interrupted run in ``out_dir``.
            progress: called as ``progress(frames_done, frames_total_or_None)``.
            snapshot_every: frames between tracker snapshots for resuming.
            lock: the caller's held lock on ``out_dir`` (taken before a slow model load, say);
                None takes one for the duration of the run.

        Raises:
            OutputError: ``out_dir`` cannot be created or written, or another run holds it.
            ConfigError: no output format is asked for.
            VideoOpenError, PromptError, FrameIndexError: bad input, prompts or range.
        """
        t0 = time.perf_counter()
        out = Path(out_dir)
        if lock is not None and lock.folder.resolve() != out.resolve():
            raise ValueError(f"the lock given is for {lock.folder}, not for {out}")
        writers = self.config.writers
        if formats is not None:
            writers = dataclasses.replace(writers, formats=tuple(formats))
        config = dataclasses.replace(self.config, writers=writers)
        require_formats(writers.formats, out)
        with self._open(source) as video, ExitStack() as held:
            resolved, first, last = self._prepare(video, prompts, start, end)
            if lock is None:
                held.enter_context(RunLock(out))
            # The bar's total: the requested range, else the container's frame count (the
            # header's count; a truncated file simply ends the bar early).
            stop = last if last is not None else video.info.frame_count
            total = None if stop is None else max(stop - first, 0)
            identity = {
                "source": _source_key(video.info.source),
                "prompts": _prompts_digest(resolved),
                "config": config.to_dict(),
                "range": [first, last],
            }
            journal = RunJournal(out, identity, snapshot_every)
            tracker = make_tracker(self.model, resolved, config.tracker, video.info.frame_count)
            replay: JournalReplay | None = None
            if resume:
                snapshot, replay = journal.load()
                if snapshot is not None:
                    tracker.restore(snapshot)
            else:
                journal.start_fresh()
            counts = {
                obj.id: dict.fromkeys([s.value for s in TrackState], 0) for obj in resolved.objects
            }
            done = 0
            try:
                with OutputSet(out, video.info, resolved.ids, writers) as outputs:
                    for result, image in self._replayed(video, replay, writers.formats):
                        outputs.write(result, image)
                        _count(counts, result)
                        done += 1
                    resume_at = replay.last + 1 if replay else first
                    images: dict[int, np.ndarray] = {}
                    with closing(self.runtime.stream(video, resume_at, last)) as frames:
                        stream = _remember_images(frames, images)
                        for result in tracker.track(stream, self._rewind(video)):
                            outputs.write(result, images.pop(result.index))
                            journal.record(result, tracker.snapshot, tracker.settled())
                            _count(counts, result)
                            done += 1
                            if progress is not None:
                                progress(done, total)
            finally:
                journal.close()
            paths = {fmt: [str(p) for p in ps] for fmt, ps in outputs.paths.items()}
            paths["run"] = [str(out / "run.json")]
            summary = RunSummary(
                source=video.info.source,
                engine=self.model.info.name,
                mode=tracking_mode(self.model, config.tracker),
                engine_description=self.model.info.description,
                weights=self.model.info.weights,
                device=str(self.runtime.device),
                frames=done,
                first_frame=first,
                objects=tuple(
                    ObjectSummary(obj.id, obj.name, counts[obj.id]) for obj in resolved.objects
                ),
                wall_time_s=round(time.perf_counter() - t0, 3),
                outputs=paths,
                config=config.to_dict(),
                resumed_at=replay.last + 1 if replay else None,
            )
            try:
                write_text_atomically(
                    out / "run.json", json.dumps(summary.to_dict(), indent=2) + "\n"
                )
            except BaseException:
                # Outputs without their run.json would look like a finished run that is not.
                for written in outputs.paths.values():
                    for path in written:
                        remove_quietly(path)
                raise
            journal.finish()
        return summary

    # ------------------------------------------------------------------------------ helpers

    @contextmanager
    def _open(self, source: Source) -> Iterator[VideoSource]:
        if isinstance(source, VideoSource):
            yield source  # the caller's, and the caller closes it
            return
        with open_video(source, settings=self.config.reader) as video:
            yield video

    def _rewind(
        self, video: VideoSource
    ) -> Callable[[Sequence[int]], Iterator[EncodedFrame]] | None:
        """How the tracker re-reads earlier frames for objects prompted late; None if it cannot.

        A pipe or live stream cannot be read again: its late objects are inactive before their
        first keyframe instead of being tracked back.
        """
        if not video.rereadable:
            return None
        return lambda indices: self.runtime.stream_indices(video, indices)

    def _prepare(
        self, video: VideoSource, prompts: Prompts, start: FramePosition, end: FramePosition
    ) -> tuple[ResolvedPrompts, int, int | None]:
        resolved = _prompt_set(prompts).resolve(video.info)
        first = _frame_index(video, start, "start") if start is not None else 0
        last = _frame_index(video, end, "end") if end is not None else None
        if last is not None and last <= first:
            raise FrameIndexError(
                f"{video.info.source}: the end (frame {last}) must come after the start "
                f"(frame {first})"
            )
        for obj in resolved.objects:
            if obj.first_frame < first or (last is not None and obj.first_frame >= last):
                raise PromptError(
                    f"object {obj.id!r}: its first keyframe (frame {obj.first_frame}) lies "
                    f"outside the processed range [{first}, {last if last is not None else 'end'})"
                )
        return resolved, first, last

    def _replayed(
        self, video: VideoSource, replay: JournalReplay | None, formats: Sequence[str]
    ) -> Iterator[tuple[FrameResult, np.ndarray | None]]:
        """Journaled results with their frames re-read only when an output needs pixels."""
        if not replay:
            return
        if not {"overlay", "cutout"}.intersection(formats):
            for result in replay:
                yield result, None
            return
        by_index = iter(replay)
        size = max(1, self.runtime.batch_size or 8)
        for batch in video.batches(size, start=replay.first, end=replay.last + 1):
            for index, image in zip(batch.indices, batch.frames, strict=True):
                result = next(by_index)
                assert result.index == int(index), (result.index, index)
                yield result, image


def require_formats(formats: Sequence[str], out: Path) -> None:
    """Refuse a run into ``out`` that would write no output (only its ``run.json``).

    Raises:
        ConfigError: ``formats`` is empty (e.g. ``formats: []`` in a config file).
    """
    if not formats:
        raise ConfigError(
            f"no output formats for {out}: name one or more of {', '.join(FORMATS)} "
            "(or use VideoSegmenter.track to get results without writing files)"
        )


def _prompt_set(prompts: Prompts) -> PromptSet:
    if isinstance(prompts, PromptSet):
        return prompts
    if isinstance(prompts, Mapping):
        return PromptSet.from_dict(prompts)
    if isinstance(prompts, (str, os.PathLike)):
        return PromptSet.load(prompts)
    raise PromptError(
        f"prompts must be a PromptSet, a dict or a prompts file path, got {type(prompts).__name__}"
    )


def _frame_index(video: VideoSource, value: int | float, what: str) -> int:
    """A frame index from an int index or float seconds, checked against the video."""
    info = video.info
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FrameIndexError(f"{what} must be a frame index or seconds, got {value!r}")
    index = value if isinstance(value, int) else round(value * float(info.fps))
    if index < 0 or (info.frame_count is not None and index > info.frame_count):
        raise FrameIndexError(
            f"{info.source}: {what} {value!r} is outside the video "
            f"(frames 0..{info.frame_count if info.frame_count is not None else '?'})"
        )
    return int(index)


def _remember_images(
    frames: Iterator[EncodedFrame], images: dict[int, np.ndarray]
) -> Iterator[EncodedFrame]:
    """Pass frames through, keeping each image until its result is written (then popped)."""
    for frame in frames:
        images[frame.index] = frame.image
        yield frame


def _count(counts: dict[int | str, dict[str, int]], result: FrameResult) -> None:
    for object_id, obj in result.objects.items():
        counts[object_id][TrackState(obj.state).value] += 1


def _source_key(source: str) -> str:
    return os.path.abspath(source) if os.path.exists(source) else source


def _prompts_digest(resolved: ResolvedPrompts) -> str:
    """A digest of everything the prompts decide, masks included."""
    h = hashlib.sha256()
    for obj in resolved.objects:
        h.update(repr((obj.id, obj.name)).encode())
        for kf in obj.keyframes:
            h.update(str(kf.frame).encode())
            for part in (kf.points, kf.point_labels, kf.box, kf.mask):
                h.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
    return h.hexdigest()
