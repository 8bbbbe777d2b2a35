"""Open a video (file, URL, pipe or image folder) and read it in batches or at random.

``open_video`` picks a backend and returns a :class:`VideoSource`:

* ``"pyav"`` — any FFmpeg input: files, ``rtsp://``, ``http(s)://``, ``pipe:``; the streaming
  default for everything that is not a folder;
* ``"decord"`` — local files only, batched random access; used only when asked for;
* ``"images"`` — a folder of images, naturally sorted (``2.png`` before ``10.png``), at
  ``ReaderSettings.image_fps``.

Frame indices are 0-based in decode (= presentation) order. Timestamps are seconds from each
frame's PTS relative to the first frame's PTS, so variable-frame-rate video keeps its true times.
Rotation metadata is applied: frames come out upright and ``info.width/height`` are after rotation.
"""

from __future__ import annotations

import abc
import os
import threading
import warnings
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from segany_video.errors import ConfigError, FrameIndexError, VideoDecodeError, VideoOpenError
from segany_video.readers.frames import FrameBatch, VideoInfo
from segany_video.readers.prefetch import prefetch
from segany_video.settings_mapping import checked_fields

BACKENDS = ("auto", "pyav", "decord", "images")
TRUNCATION_POLICIES = ("warn", "error")


@dataclass(frozen=True)
class ReaderSettings:
    """Settings of the reader stage.

    Attributes:
        backend: "auto" (images for a folder, PyAV otherwise), "pyav", "decord" or "images".
        image_fps: frame rate given to image folders (they carry no timing); > 0.
        on_truncated: what a stream that breaks off mid-way does after delivering the frames
            that decoded: "warn" (``warnings.warn`` naming the last good frame, then stop) or
            "error" (raise :class:`VideoDecodeError`).
        prefetch_batches: batches decoded ahead in a worker thread (with PyAV, decoding and
            the RGB conversion then also run in separate threads); 0 decodes on the caller's
            thread.
        reread_cache_mb: memory (MiB) for frames decoded by ``read_frames`` on the way to the
            ones asked for, so reading backwards in short runs does not decode again from the
            keyframe each time (PyAV backend); 0 disables.
    """

    backend: str = "auto"
    image_fps: Fraction = Fraction(30)
    on_truncated: str = "warn"
    prefetch_batches: int = 2
    reread_cache_mb: int = 128

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"reader backend must be one of {BACKENDS}, got {self.backend!r}")
        fps = self.image_fps
        try:
            if isinstance(fps, float):
                fps = Fraction(fps).limit_denominator(100_000)
            elif not isinstance(fps, bool):
                fps = Fraction(fps)
        except (TypeError, ValueError, ZeroDivisionError):
            raise ConfigError(
                f"reader image_fps must be a positive number such as 30 or '30000/1001', "
                f"got {self.image_fps!r}"
            ) from None
        if not isinstance(fps, Fraction) or fps <= 0:
            raise ConfigError(f"reader image_fps must be > 0, got {self.image_fps!r}")
        object.__setattr__(self, "image_fps", fps)
        if self.on_truncated not in TRUNCATION_POLICIES:
            raise ConfigError(
                f"reader on_truncated must be one of {TRUNCATION_POLICIES}, "
                f"got {self.on_truncated!r}"
            )
        if (
            not isinstance(self.prefetch_batches, int)
            or isinstance(self.prefetch_batches, bool)
            or self.prefetch_batches < 0
        ):
            raise ConfigError(
                f"reader prefetch_batches must be an int >= 0, got {self.prefetch_batches!r}"
            )

        if (
            not isinstance(self.reread_cache_mb, int)
            or isinstance(self.reread_cache_mb, bool)
            or self.reread_cache_mb < 0
        ):
            raise ConfigError(
                f"reader reread_cache_mb must be an int >= 0, got {self.reread_cache_mb!r}"
            )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReaderSettings:
        """Build from a plain mapping (e.g. a YAML section); unknown keys raise ConfigError."""
        return cls(**checked_fields(cls, d, "reader"))


class VideoSource(abc.ABC):
    """An open video. Use as a context manager, or call :meth:`close`.

    Attributes:
        info: the source's metadata (:class:`~segany_video.readers.frames.VideoInfo`).
        settings: the :class:`ReaderSettings` it was opened with.
    """

    info: VideoInfo

    def __init__(self, settings: ReaderSettings) -> None:
        self.settings = settings
        self._closed = False
        # Live batch iterators, closed first on close() so no worker decodes a closed input.
        self._live: weakref.WeakSet[Any] = weakref.WeakSet()
        # Where a batch iteration collects truncation warnings (per thread: see _group).
        self._sink = threading.local()

    # -- what each backend provides ------------------------------------------------------

    @abc.abstractmethod
    def _iter_frames(self, start: int, end: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        """Yield ``(index, seconds, frame (H, W, 3) uint8 RGB)`` for ``start <= index < end``.

        Raises FrameIndexError when ``start`` lies past the last frame. A stream that breaks off
        calls :meth:`_stream_broke` and stops.
        """

    @abc.abstractmethod
    def _read_frames(self, indices: list[int]) -> dict[int, tuple[float, np.ndarray]]:
        """Decode the distinct, ascending ``indices``; missing ones raise FrameIndexError."""

    @abc.abstractmethod
    def _close_backend(self) -> None:
        """Release the backend's decoders and files."""

    # -- public API ----------------------------------------------------------------------

    def batches(self, size: int, start: int = 0, end: int | None = None) -> Iterator[FrameBatch]:
        """Iterate frames ``start <= index < end`` in order, ``size`` at a time.

        Decoding runs ``settings.prefetch_batches`` batches ahead in a worker thread; the
        source holds no more than that many batches. Call ``close()`` on the returned iterator
        (or close the source) to stop early.

        Args:
            size: frames per batch (the last one may be shorter); >= 1.
            start: first frame index; >= 0.
            end: one past the last frame index, or None for the end of the video.

        Yields:
            FrameBatch with ``frames`` ``(B, H, W, 3)`` uint8 RGB, ``B <= size``.

        Raises:
            FrameIndexError: ``start`` is past the end of the video.
            VideoDecodeError: the stream broke off and ``on_truncated="error"``.
        """
        self._check_open()
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"batch size must be an int >= 1, got {size!r}")
        start = self._check_index(start, "start")
        if end is not None:
            end = self._check_index(end, "end")
            if end < start:
                raise ValueError(f"batch range end ({end}) is before start ({start})")
        grouped = self._group(int(size), start, end)
        if self.settings.prefetch_batches > 0:
            name = f"reader[{Path(self.info.source).name}]"
            grouped = prefetch(grouped, depth=self.settings.prefetch_batches, name=name)
        iterator = _deliver(grouped)
        self._live.add(iterator)
        return iterator

    def read_frames(self, indices: Sequence[int]) -> FrameBatch:
        """Read the given frames, returned in the order given (repeats allowed).

        Nearby indices are cheap in any order (descending runs for backward propagation): the
        backend seeks once to the keyframe before the smallest index and decodes forward, keeping
        only the frames asked for; with PyAV the frames passed on the way stay in a cache of
        ``settings.reread_cache_mb`` so the next run backwards comes from memory. Safe to call
        while a ``batches`` iteration is running (each uses its own decoder).

        Args:
            indices: 0-based frame indices.

        Returns:
            FrameBatch with ``frames`` ``(len(indices), H, W, 3)`` uint8 RGB.

        Raises:
            FrameIndexError: an index is negative or past the end of the video, or a live
                stream/pipe was asked for a frame that has already gone by.
            VideoDecodeError: the stream broke off before a wanted frame and
                ``on_truncated="error"``.
        """
        self._check_open()
        wanted = [self._check_index(i, "frame index") for i in indices]
        if not wanted:
            empty = np.empty((0, self.info.height, self.info.width, 3), np.uint8)
            return FrameBatch(np.empty(0, np.int64), np.empty(0, np.float64), empty)
        decoded = self._read_frames(sorted(set(wanted)))
        for index, (_, frame) in decoded.items():
            self._check_size(index, frame)
        return FrameBatch(
            indices=np.asarray(wanted, dtype=np.int64),
            timestamps=np.asarray([decoded[i][0] for i in wanted], dtype=np.float64),
            frames=np.stack([decoded[i][1] for i in wanted]),
        )

    def close(self) -> None:
        """Stop live batch iterators and release the input. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for iterator in list(self._live):
            iterator.close()
        self._close_backend()

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        i = self.info
        return (
            f"{type(self).__name__}({i.source!r}, {i.width}x{i.height}, fps={i.fps}, "
            f"frames={i.frame_count}, codec={i.codec!r})"
        )

    # -- shared helpers for backends -----------------------------------------------------

    def _group(self, size: int, start: int, end: int | None) -> Iterator[FrameBatch | _Notice]:
        """Batches of ``size`` frames, then a :class:`_Notice` if the stream broke off.

        Runs in the prefetch worker; truncation warnings travel through the queue so the
        caller sees them on its own thread, after the last batch.
        """
        filling = _BatchBuffer(size)
        self._sink.notices = notices = []
        frame_iter = self._iter_frames(start, end)
        try:
            try:
                for index, seconds, frame in frame_iter:
                    self._check_size(index, frame)
                    if filling.add(index, seconds, frame):
                        yield filling.take()
            except VideoDecodeError:
                # Frames that decoded before the break are delivered before the error.
                if filling.count:
                    yield filling.take()
                raise
            if filling.count:
                yield filling.take()
        finally:
            frame_iter.close()  # type: ignore[attr-defined]
            self._sink.notices = None
        if notices:
            yield _Notice(notices)

    def _check_size(self, index: int, frame: np.ndarray) -> None:
        if frame.shape[:2] != (self.info.height, self.info.width):
            raise VideoDecodeError(
                f"{self.info.source}: frame {index} is {frame.shape[1]}x{frame.shape[0]} but the "
                f"video is {self.info.width}x{self.info.height}; size changes mid-stream are not "
                "supported (re-encode to one size)"
            )

    def _stream_broke(self, last_good: int | None, problem: str) -> None:
        """Apply ``on_truncated`` to a stream that broke off after frame ``last_good``."""
        where = "before any frame" if last_good is None else f"after frame {last_good}"
        message = (
            f"{self.info.source}: video stream broke off {where} ({problem}); "
            f"frames after that cannot be read (re-encode or re-download the file)"
        )
        if self.settings.on_truncated == "error":
            raise VideoDecodeError(message)
        notices = getattr(self._sink, "notices", None)
        if notices is not None:
            notices.append(message)
        else:
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self.info.source}: the video source is closed")

    def _check_index(self, index: object, what: str) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{what} must be an int, got {index!r}")
        index = int(index)
        if index < 0:
            raise FrameIndexError(f"{self.info.source}: {what} {index} is negative")
        count = self._exact_count()
        if count is not None and what != "end" and index >= count:
            raise FrameIndexError(
                f"{self.info.source}: {what} {index} is past the end (frames 0 to {count - 1})"
            )
        return index

    def _exact_count(self) -> int | None:
        """The frame count once it is certain (headers can be wrong), else None."""
        return None


class _Notice:
    """Warnings raised while decoding in a worker, replayed on the caller's thread."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages


def _deliver(items: Iterator[FrameBatch | _Notice]) -> Iterator[FrameBatch]:
    try:
        for item in items:
            if isinstance(item, _Notice):
                for message in item.messages:
                    warnings.warn(message, RuntimeWarning, stacklevel=2)
            else:
                yield item
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


class _BatchBuffer:
    """Fills one ``(size, H, W, 3)`` array frame by frame.

    Each frame is copied in right after conversion, while it is still in the CPU cache, instead
    of stacking a list of frames at the end of the batch.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.count = 0
        self._frames: np.ndarray | None = None
        self._indices = np.empty(size, np.int64)
        self._times = np.empty(size, np.float64)

    def add(self, index: int, seconds: float, frame: np.ndarray) -> bool:
        """Append a frame; True when the batch is full."""
        if self._frames is None:
            self._frames = np.empty((self.size, *frame.shape), np.uint8)
        self._frames[self.count] = frame
        self._indices[self.count] = index
        self._times[self.count] = seconds
        self.count += 1
        return self.count == self.size

    def take(self) -> FrameBatch:
        """The filled part as a FrameBatch; the buffer starts a fresh array afterwards."""
        assert self._frames is not None and self.count > 0
        n = self.count
        # A short last batch is copied so it does not pin a full-size array.
        frames = self._frames if n == self.size else self._frames[:n].copy()
        batch = FrameBatch(self._indices[:n].copy(), self._times[:n].copy(), frames)
        self._frames, self.count = None, 0
        return batch


def upright(frame: np.ndarray, rotation_cw: int) -> np.ndarray:
    """Rotate an ``(H, W, 3)`` frame ``rotation_cw`` degrees clockwise (0/90/180/270)."""
    if rotation_cw == 0:
        return frame
    # np.rot90 turns counter-clockwise for positive k.
    return np.ascontiguousarray(np.rot90(frame, k=-(rotation_cw // 90)))


def _is_url(source: str) -> bool:
    return "://" in source or source.startswith("pipe:") or source == "-"


def open_video(
    source: str | os.PathLike[str],
    backend: str = "auto",
    settings: ReaderSettings | None = None,
) -> VideoSource:
    """Open a video file, URL, pipe or image folder.

    Args:
        source: a path to a video file or a folder of images, an FFmpeg URL (``rtsp://``,
            ``http(s)://``, ...) or ``pipe:`` / ``-`` for standard input.
        backend: "auto", "pyav", "decord" or "images"; anything but "auto" overrides
            ``settings.backend``.
        settings: reader settings; defaults to ``ReaderSettings()``.

    Returns:
        An open :class:`VideoSource` (close it, or use ``with``).

    Raises:
        VideoOpenError: missing file, not a video, no video stream, zero decodable frames,
            unsupported codec (the message names the file and the problem).
    """
    settings = settings if settings is not None else ReaderSettings()
    if backend not in BACKENDS:
        raise ConfigError(f"reader backend must be one of {BACKENDS}, got {backend!r}")
    chosen = backend if backend != "auto" else settings.backend
    text = os.fspath(source)
    if not isinstance(text, str):
        raise TypeError(f"video source must be a str or os.PathLike[str], got {source!r}")
    local = not _is_url(text)
    if local and not os.path.exists(text):
        raise VideoOpenError(f"{text}: no such file or folder; check the path")
    if chosen == "auto":
        chosen = "images" if local and os.path.isdir(text) else "pyav"
    if chosen != "images" and local and os.path.isdir(text):
        raise VideoOpenError(f"{text}: is a folder; use backend 'images' (or 'auto') for it")

    if chosen == "images":
        from segany_video.readers.image_folder import ImageFolderSource

        return ImageFolderSource(text, settings)
    if chosen == "decord":
        from segany_video.readers.decord_source import DecordSource

        return DecordSource(text, settings)
    from segany_video.readers.pyav_source import PyAVSource

    return PyAVSource(text, settings)
