"""decord backend: batched random access on local files.

Metadata (size, rotation, fps, codec) comes from a short PyAV probe so both backends describe a
file the same way and reject bad files with the same messages. decord is only used when asked
for (``backend="decord"``): it reads local files only and builds a packet index at open, which
costs a full pass over the file.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from segany_video.errors import FrameIndexError, VideoDecodeError, VideoOpenError
from segany_video.readers.frames import VideoInfo
from segany_video.readers.reader import ReaderSettings, VideoSource

# Frames fetched per decord call when streaming: decord decodes a sequential run in one pass.
_CHUNK = 8


class DecordSource(VideoSource):
    """A video file read through decord. Build it with ``open_video(path, backend="decord")``."""

    def __init__(self, source: str, settings: ReaderSettings) -> None:
        super().__init__(settings)
        if "://" in source or source.startswith("pipe:") or source == "-":
            raise VideoOpenError(
                f"{source}: the decord backend reads local files only; use backend 'pyav'"
            )
        # Probe first: a bad file gets the same error whichever backend was asked for.
        from segany_video.readers.pyav_source import PyAVSource

        with PyAVSource(source, replace(settings, prefetch_batches=0)) as probe:
            probed = probe.info
        try:
            import decord
        except ImportError as exc:
            raise VideoOpenError(
                f"{source}: the decord backend needs the 'decord' package, which is not "
                "installed (wheels exist for x86_64 Linux/Windows); use backend 'pyav'"
            ) from exc
        if probed.rotation:
            # decord 0.6 swaps width and height for rotated video but returns unrotated,
            # mis-sized buffers; refuse rather than return garbage.
            raise VideoOpenError(
                f"{source}: has {probed.rotation}° rotation metadata, which decord cannot "
                "handle; use backend 'pyav'"
            )
        self._decord_error: type[Exception] = decord.DECORDError
        try:
            self._reader = decord.VideoReader(source, ctx=decord.cpu(0))
        except decord.DECORDError as exc:
            raise VideoOpenError(f"{source}: decord cannot open it: {exc}") from exc
        self._lock = threading.Lock()  # a decord reader is not safe across threads
        count = len(self._reader)
        fps = probed.fps
        self._seconds = self._timestamps(count, float(fps))
        self.info = VideoInfo(
            source=source,
            width=probed.width,
            height=probed.height,
            fps=fps,
            frame_count=count,
            duration=probed.duration,
            rotation=0,
            codec=probed.codec,
            backend="decord",
        )

    def _timestamps(self, count: int, fps: float) -> np.ndarray:
        """Frame start times from decord, relative to frame 0; ``index / fps`` if unusable."""
        fallback = np.arange(count, dtype=np.float64) / (fps if fps > 0 else 30.0)
        if count == 0:
            return fallback
        try:
            starts = np.asarray(
                self._reader.get_frame_timestamp(np.arange(count))[:, 0], np.float64
            )
        except self._decord_error:
            return fallback
        # decord reports huge negative values when a container has no usable PTS (AVI).
        if not all(math.isfinite(t) and t >= 0 for t in starts) or np.any(np.diff(starts) <= 0):
            return fallback
        return starts - starts[0]

    def _decode(self, indices: list[int]) -> np.ndarray:
        with self._lock:
            return self._reader.get_batch(indices).asnumpy()

    def _iter_frames(self, start: int, end: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        count = len(self._seconds)
        stop = count if end is None else min(end, count)
        for first in range(start, stop, _CHUNK):
            chunk = list(range(first, min(first + _CHUNK, stop)))
            try:
                frames = self._decode(chunk)
            except self._decord_error as exc:
                self._stream_broke(first - 1 if first else None, str(exc).strip())
                return
            for i, frame in zip(chunk, frames, strict=True):
                yield i, float(self._seconds[i]), frame

    def _read_frames(self, indices: list[int]) -> dict[int, tuple[float, np.ndarray]]:
        count = len(self._seconds)
        if indices[-1] >= count:
            raise FrameIndexError(
                f"{self.info.source}: frame {indices[-1]} is past the end ({count} frames)"
            )
        try:
            frames = self._decode(indices)
        except self._decord_error as exc:
            raise VideoDecodeError(
                f"{self.info.source}: decord failed to decode frames {indices[0]}..{indices[-1]}: "
                f"{str(exc).strip()}"
            ) from exc
        return {i: (float(self._seconds[i]), frames[k]) for k, i in enumerate(indices)}

    def _exact_count(self) -> int | None:
        return len(self._seconds)

    def _close_backend(self) -> None:
        with self._lock:
            self._reader = None
