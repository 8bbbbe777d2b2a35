"""PyAV backend: any FFmpeg input (files, URLs, pipes), streamed, with seeking on files.

Frame indices are counted while decoding, never guessed from timestamps, so files whose headers
or timestamps are wrong (AVI with packed B-frames, a header frame count that is too high) still
get exact indices. What sequential decoding has seen is remembered in a ``FrameIndex`` (one
stamp per frame plus the keyframes): random access seeks to a keyframe it has seen, checks that
the decoder landed exactly there, and falls back to decoding from the start when it did not.
Frames decoded for random access stay in a small ``RecentFrames`` cache, so reading backwards
in short runs (backward propagation) decodes each stretch from its keyframe once, not per run.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from segany_video.errors import FrameIndexError, VideoOpenError
from segany_video.readers.frame_cache import RecentFrames
from segany_video.readers.frame_index import NO_STAMP, FrameIndex, choose_stamp_mode, frame_stamp
from segany_video.readers.frames import VideoInfo
from segany_video.readers.prefetch import Prefetcher, prefetch
from segany_video.readers.reader import ReaderSettings, VideoSource, upright

# Frames decoded at open: enough to check the codec works and to see whether PTS or DTS
# increase in presentation order, few enough to keep opening cheap.
PROBE_FRAMES = 8
_LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "srt", "rtp", "pipe")
_URL_TIMEOUT_S = (15.0, 30.0)  # (open, read): a dead camera fails instead of hanging
# Decoded frames (still YUV, about half the size of RGB) queued between the decode thread and
# the conversion: enough to ride out the uneven cost of I/P/B frames, few enough to stay small.
_DECODE_AHEAD = 4


class _Broken(Exception):
    """Internal: the demuxer or decoder failed part-way."""


def _is_live(source: str) -> bool:
    scheme = source.split(":", 1)[0].lower()
    return source == "-" or scheme in _LIVE_SCHEMES


def _rotation_cw(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Degrees clockwise to turn decoded frames so they come out upright."""
    ccw = float(frame.rotation or 0)  # display matrix, counter-clockwise
    if ccw:
        return round(-ccw / 90.0) * 90 % 360
    # Legacy tag, clockwise; Matroska spells it "ROTATE".
    tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), None)
    if tag:
        try:
            return round(float(tag) / 90.0) * 90 % 360
        except ValueError:
            return 0
    return 0


class _Cursor:
    """One open demuxer/decoder and the index of the next frame it will produce."""

    def __init__(self, container: av.container.InputContainer) -> None:
        self.container = container
        self.stream = container.streams.video[0]
        # Frame threading ("AUTO") is left off on purpose: with it FFmpeg 7 drops the frames
        # still in flight and the error when a stream breaks off, hiding truncation.
        self.pending: deque[av.VideoFrame] = deque()
        self.broken: str | None = None
        self.next_index = 0
        self._decoder: Iterator[av.VideoFrame] | None = None

    def next_frame(self) -> av.VideoFrame | None:
        """The next decoded frame, or None at a clean end; raises _Broken on failure."""
        if self.pending:
            return self.pending.popleft()
        if self.broken is not None:
            raise _Broken(self.broken)
        if self._decoder is None:
            self._decoder = self.container.decode(self.stream)
        try:
            return next(self._decoder)
        except StopIteration:
            return None
        except av.FFmpegError as exc:
            self.broken = str(exc)
            # Frames the decoder still holds (B-frame reordering) decoded fine: deliver them.
            with contextlib.suppress(av.FFmpegError):
                self.pending.extend(self.stream.codec_context.decode(None))
            if self.pending:
                return self.pending.popleft()
            raise _Broken(self.broken) from exc

    def seek(self, stamp: int) -> None:
        self.container.seek(stamp, backward=True, any_frame=False, stream=self.stream)
        self._decoder = None
        self.pending.clear()
        self.broken = None

    def close(self) -> None:
        self.container.close()


class PyAVSource(VideoSource):
    """A video read through PyAV. Build it with ``open_video(source, backend="pyav")``."""

    def __init__(self, source: str, settings: ReaderSettings) -> None:
        super().__init__(settings)
        self._url = "pipe:0" if source == "-" else source
        self._reopenable = not _is_live(source)
        self._lock = threading.Lock()
        self._cursors: set[_Cursor] = set()
        cursor = self._open_cursor(source)
        try:
            probe = self._probe(cursor, source)
        except BaseException:
            cursor.close()
            raise
        stream = cursor.stream
        fps = Fraction(stream.average_rate or stream.guessed_rate or stream.base_rate or 30)
        rotation = _rotation_cw(probe[0], stream)
        width, height = probe[0].width, probe[0].height
        if rotation in (90, 270):
            width, height = height, width
        time_base = stream.time_base or Fraction(1, 1)
        duration = None
        if stream.duration:
            duration = float(stream.duration * time_base)
        elif cursor.container.duration:
            duration = cursor.container.duration / av.time_base
        self.info = VideoInfo(
            source=source,
            width=width,
            height=height,
            fps=fps,
            frame_count=(stream.frames or None) if not _is_live(source) else None,
            duration=duration,
            rotation=rotation,
            codec=stream.codec_context.name,
            backend="pyav",
        )
        # What the header promises, to tell a file cut short (clean EOF, no error) from a
        # normal end; container duration only counts when no other stream (audio) can set it.
        self._expected_frames = stream.frames or None
        self._expected_duration = (
            duration if stream.duration or len(cursor.container.streams) == 1 else None
        )
        self._index = FrameIndex(choose_stamp_mode(probe), time_base, fps)
        cursor.pending.extend(probe)
        for i, frame in enumerate(probe):
            self._index.learn(i, frame)
        self._spare: _Cursor | None = cursor
        frame_bytes = sum(plane.buffer_size for plane in probe[0].planes)
        self._recent: RecentFrames[av.VideoFrame] = RecentFrames(
            settings.reread_cache_mb * 2**20, max(frame_bytes, 1)
        )
        # PyAV converts with a converter stored on the frame object; a cached frame may be
        # asked for by two threads at once, so frames from the cache convert under this lock.
        self._convert_lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------

    def _open_cursor(self, source: str) -> _Cursor:
        options = {"timeout": _URL_TIMEOUT_S} if "://" in source else {}
        try:
            container = av.open(self._url, mode="r", **options)
        except FileNotFoundError:
            raise VideoOpenError(f"{source}: no such file; check the path") from None
        except av.error.EOFError as exc:
            raise VideoOpenError(
                f"{source}: zero decodable frames: the file ends before its first frame "
                "(empty or cut short)"
            ) from exc
        except av.error.InvalidDataError as exc:
            raise VideoOpenError(
                f"{source}: not a video FFmpeg can read (invalid data: {exc.strerror}); "
                "is it a video file, complete and not encrypted?"
            ) from exc
        except (av.FFmpegError, OSError) as exc:
            raise VideoOpenError(f"{source}: cannot open: {exc}") from exc
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            container.close()
            raise VideoOpenError(
                f"{source}: has no video stream (streams found: {', '.join(kinds)})"
            )
        if container.streams.video[0].codec_context is None:
            container.close()
            raise VideoOpenError(
                f"{source}: its video codec is not supported by this FFmpeg build (no decoder); "
                "convert it first, e.g. ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        cursor = _Cursor(container)
        with self._lock:
            self._cursors.add(cursor)
        return cursor

    def _probe(self, cursor: _Cursor, source: str) -> list[av.VideoFrame]:
        frames: list[av.VideoFrame] = []
        try:
            while len(frames) < PROBE_FRAMES:
                frame = cursor.next_frame()
                if frame is None:
                    break
                frames.append(frame)
        except _Broken as exc:
            if not frames:
                raise VideoOpenError(
                    f"{source}: zero decodable frames (decoding failed: {exc}); "
                    "the file is damaged or not a video"
                ) from None
        if not frames:
            raise VideoOpenError(f"{source}: zero decodable frames; the video stream is empty")
        return frames

    def _acquire(self) -> _Cursor:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            return spare
        if not self._reopenable:
            raise FrameIndexError(
                f"{self.info.source}: a live stream or pipe can only be read once, by one "
                "iterator at a time; close the other iterator first"
            )
        return self._open_cursor(self.info.source)

    def _release(self, cursor: _Cursor) -> None:
        with self._lock:
            if self._spare is None and not self._closed:
                self._spare = cursor
                return
            self._cursors.discard(cursor)
        cursor.close()

    def _close_backend(self) -> None:
        self._recent.clear()
        with self._lock:
            cursors, self._cursors, self._spare = list(self._cursors), set(), None
        for cursor in cursors:
            cursor.close()

    # -- positioning and decoding ----------------------------------------------------------

    def _restart(self, cursor: _Cursor, target: int) -> _Cursor:
        """A cursor at frame 0, for when seeking cannot reach ``target``."""
        if not self._reopenable:
            raise FrameIndexError(
                f"{self.info.source}: frame {target} has already gone by in this live stream "
                "or pipe; it cannot be read again"
            )
        with self._lock:
            self._cursors.discard(cursor)
        cursor.close()
        return self._open_cursor(self.info.source)

    def _position(self, cursor: _Cursor, target: int) -> _Cursor:
        """Return a cursor whose next frame index is ``<= target``, seeking when it saves work."""
        index = self._index
        key = index.keyframe_at_or_before(target)
        ahead = cursor.next_index > target
        if not ahead and (key is None or key <= cursor.next_index):
            return cursor  # decoding forward from here is the cheapest way
        if key is None or key == 0 or index.mode == "count":
            return self._restart(cursor, target)
        stamp = index.stamps[key]
        try:
            cursor.seek(stamp)
            while True:
                frame = cursor.next_frame()
                if frame is None:
                    break
                got = frame_stamp(frame, index.mode)
                if got == stamp:
                    cursor.pending.appendleft(frame)
                    cursor.next_index = key
                    return cursor
                if got != NO_STAMP and got > stamp:
                    break  # landed past the keyframe: fall back below
        except (_Broken, av.FFmpegError):
            pass
        return self._restart(cursor, target)

    def _decode_from(
        self, cursor: _Cursor, target: int, keep: bool = False
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield ``(index, frame)`` from ``target`` on; stops at the end or where it broke.

        With ``keep``, every decoded frame, wanted or passed over, goes to the re-read cache.
        """
        while True:
            try:
                frame = cursor.next_frame()
            except _Broken as exc:
                last_good = cursor.next_index - 1
                with self._index.lock:
                    self._index.count = cursor.next_index
                self._stream_broke(last_good if last_good >= 0 else None, str(exc))
                return
            if frame is None:
                self._reached_end(cursor.next_index)
                return
            i = cursor.next_index
            cursor.next_index += 1
            self._index.learn(i, frame)
            if keep:
                self._recent.put(i, frame)
            if i >= target:
                yield i, frame

    def _reached_end(self, count: int) -> None:
        with self._index.lock:
            self._index.count = count
            last_seconds = self._index.seconds[count - 1] if count else 0.0
        frames = self._expected_frames
        if frames is not None:
            # A few frames short is normal (AVI headers count dropped/placeholder frames).
            if count < frames - max(3, frames // 50):
                self._stream_broke(
                    count - 1, f"the stream ended at {count} frames, its header declares {frames}"
                )
            return
        duration = self._expected_duration
        if duration is not None:
            # The last frame's own display time and VFR gaps make some shortfall normal.
            slack = max(0.5, 5 / float(self.info.fps or 30), 0.02 * duration)
            if last_seconds < duration - slack:
                self._stream_broke(
                    count - 1,
                    f"the stream ended at {last_seconds:.2f} s, its header declares "
                    f"{duration:.2f} s",
                )

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return upright(frame.to_ndarray(format="rgb24"), self.info.rotation)

    def _iter_frames(self, start: int, end: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        cursor = self._acquire()
        decoded: Iterator[tuple[int, av.VideoFrame]] | None = None
        try:
            cursor = self._position(cursor, start)
            decoded = self._decode_from(cursor, start)
            if self.settings.prefetch_batches > 0:
                decoded = self._decode_ahead(decoded)
            produced = False
            for i, frame in decoded:
                if end is not None and i >= end:
                    break
                produced = True
                yield i, self._index.seconds[i], self._rgb(frame)
            if not produced and (end is None or end > start):
                self._past_end(start)
        finally:
            if decoded is not None:
                decoded.close()  # type: ignore[attr-defined]  # stops the decode thread first
            self._release(cursor)

    def _decode_ahead(
        self, decoded: Iterator[tuple[int, av.VideoFrame]]
    ) -> Prefetcher[tuple[int, av.VideoFrame]]:
        """Run the decoder in its own thread, a few frames ahead of the RGB conversion.

        FFmpeg decodes and converts with the GIL released, so on two or more cores decoding
        the next frame overlaps converting (and batching) this one: sequential reading then
        runs at about the decoder's own speed instead of decoder plus conversion.
        """
        notices = getattr(self._sink, "notices", None)

        def in_worker() -> Iterator[tuple[int, av.VideoFrame]]:
            # Truncation notices are collected per thread; the decode thread adds to the same
            # list as the batching thread so they still reach the caller after the last batch.
            self._sink.notices = notices
            try:
                yield from decoded
            finally:
                decoded.close()  # type: ignore[attr-defined]

        name = f"decoder[{Path(self.info.source).name}]"
        return prefetch(in_worker(), depth=_DECODE_AHEAD, name=name)

    def _read_frames(self, indices: list[int]) -> dict[int, tuple[float, np.ndarray]]:
        out: dict[int, tuple[float, np.ndarray]] = {}
        missing: list[int] = []
        for i in indices:
            cached = self._recent.get(i)
            if cached is None:
                missing.append(i)
            else:
                with self._convert_lock:
                    out[i] = (self._index.seconds[i], self._rgb(cached))
        if not missing:
            return out
        cursor = self._acquire()
        try:
            pos = 0
            while pos < len(missing):
                cursor = self._position(cursor, missing[pos])
                for i, frame in self._decode_from(cursor, missing[pos], keep=True):
                    if i == missing[pos]:
                        with self._convert_lock:  # the frame is in the cache already
                            out[i] = (self._index.seconds[i], self._rgb(frame))
                        pos += 1
                        if pos == len(missing):
                            break
                        # A keyframe closer to the next wanted frame: seek instead of decoding.
                        key = self._index.keyframe_at_or_before(missing[pos])
                        if key is not None and key > cursor.next_index:
                            break
                else:
                    self._past_end(missing[pos])
        finally:
            self._release(cursor)
        return out

    def _past_end(self, index: int) -> None:
        count = self._index.count
        raise FrameIndexError(
            f"{self.info.source}: frame {index} is past the end "
            f"(it has {count if count is not None else 'fewer'} decodable frames)"
        )

    def _exact_count(self) -> int | None:
        return self._index.count
