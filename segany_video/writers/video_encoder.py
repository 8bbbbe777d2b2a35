"""One PyAV video stream written frame by frame with the source's own timestamps.

The mask, cutout and overlay writers differ only in codec, pixel format and what they draw; the
parts they share live here: the container opened under a temporary name (:mod:`atomic`), a time
base fine enough that variable-frame-rate timing survives, presentation timestamps taken from the
source's timestamps in seconds, encoder checks, flushing, and turning FFmpeg failures into
``WriterError`` messages that name the file.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from segany_video.errors import WriterError
from segany_video.writers.atomic import AtomicPath, StagedWriter, writer_error

# Matroska/WebM store times in milliseconds whatever the stream asks for; MP4/MOV keep the
# stream's own time base, where 1/90000 (the MPEG clock) resolves any real frame rate.
_TIME_BASES = {
    "matroska": Fraction(1, 1000),
    "webm": Fraction(1, 1000),
    "mp4": Fraction(1, 90000),
    "mov": Fraction(1, 90000),
}

# x264's SIMD macroblock-tree kernels (mbtree_propagate_cost/list) are the only ones that are
# not bit-exact with its C code, and the AVX-512 ones read heap bytes that were never written:
# the same frames then encode differently from run to run (with glibc's MALLOC_PERTURB_ each
# fill byte gives other bytes), so a resumed overlay differed from an uninterrupted one.
# "cpu-independent" makes x264 use the C kernels for just those two (a few percent slower);
# every libx264 stream opened here gets it, so the same frames give the same file on every run
# and on every CPU, as --resume promises.
_X264_REPRODUCIBLE = "cpu-independent=1"
# Container option: no random ids, no muxer version strings, in any container we write.
_BITEXACT = {"fflags": "+bitexact"}


@dataclass(frozen=True)
class StreamSpec:
    """What to encode.

    Attributes:
        codec: FFmpeg encoder name, e.g. "ffv1", "libx264", "prores_ks", "libvpx-vp9".
        container: FFmpeg muxer name: "matroska", "mp4", "mov" or "webm".
        pix_fmt: the stream's pixel format, e.g. "gray", "yuv420p", "yuva444p10le".
        input_format: the ndarray layout passed to :meth:`VideoEncoder.write`: "gray", "rgb24"
            or "rgba".
        options: encoder options (FFmpeg's private AVOptions, all strings).
        even_size: the codec needs even width and height (4:2:0 chroma); odd frames are padded
            by repeating the last column/row.
    """

    codec: str
    container: str
    pix_fmt: str
    input_format: str
    options: dict[str, str] = field(default_factory=dict)
    even_size: bool = False


def _stream_options(spec: StreamSpec) -> dict[str, str]:
    """``spec.options``, with x264 asked for its CPU-independent kernels (see above)."""
    options = dict(spec.options)
    if spec.codec == "libx264":
        params = options.get("x264-params")
        options["x264-params"] = f"{params}:{_X264_REPRODUCIBLE}" if params else _X264_REPRODUCIBLE
    return options


def require_encoder(codec: str, purpose: str) -> None:
    """Fail clearly when this PyAV build lacks ``codec``; never swap in another codec silently.

    Raises:
        WriterError: names the encoder, what it was for and how to get it.
    """
    if codec not in av.codecs_available:
        raise WriterError(
            f"the installed PyAV/FFmpeg has no '{codec}' encoder, needed for {purpose}; install "
            "a PyAV wheel built with it (the PyPI wheels include it) or drop that output format"
        )
    try:
        av.codec.Codec(codec, "w")
    except Exception as exc:  # PyAV raises UnknownCodecError or ValueError by version
        raise WriterError(
            f"'{codec}' is known to FFmpeg but cannot encode here ({exc}); it is needed for "
            f"{purpose}; drop that output format"
        ) from exc


class VideoEncoder(StagedWriter):
    """A single-stream video file, written under a temporary name and renamed on :meth:`close`.

    Args:
        path: final path (its extension is informational; ``spec.container`` picks the muxer).
        width, height: frame size in pixels.
        fps: nominal frame rate, stored as the stream's average rate (players show it).
        spec: codec, container and pixel formats.
        purpose: words for error messages, e.g. "the mask video of object 3".

    Raises:
        WriterError: the encoder is missing or the file cannot be created.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        spec: StreamSpec,
        purpose: str,
    ) -> None:
        require_encoder(spec.codec, purpose)
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.spec = spec
        self.frames_written = 0
        self._time_base = _TIME_BASES[spec.container]
        self._last_pts: int | None = None
        self._target = AtomicPath(self.path)
        try:
            # bitexact: Matroska/WebM headers otherwise carry random segment and track ids, so
            # a resumed run's files would differ from an uninterrupted run's by those bytes.
            self._container = av.open(
                str(self._target.temp), "w", format=spec.container, options=_BITEXACT
            )
        except OSError as exc:
            self._target.discard()
            raise writer_error(self.path, exc, "create") from exc
        try:
            stream = self._container.add_stream(spec.codec, options=_stream_options(spec))
            pad_w, pad_h = (self.width % 2, self.height % 2) if spec.even_size else (0, 0)
            stream.width, stream.height = self.width + pad_w, self.height + pad_h
            stream.pix_fmt = spec.pix_fmt
            if fps and fps > 0:
                stream.codec_context.framerate = Fraction(fps)
            stream.time_base = self._time_base
            stream.codec_context.time_base = self._time_base
        except (av.FFmpegError, ValueError, OSError) as exc:
            self._abandon()
            raise WriterError(f"cannot set up {spec.codec} for {self.path}: {exc}") from exc
        self._stream = stream
        self._pad = (pad_h, pad_w)

    def write(self, array: np.ndarray, timestamp: float) -> None:
        """Encode one frame shown at ``timestamp``.

        Args:
            array: ``(H, W)`` uint8 for "gray", ``(H, W, 3)`` for "rgb24", ``(H, W, 4)`` for
                "rgba" (see ``spec.input_format``).
            timestamp: seconds on the source's timeline. Times are kept as given; one that does
                not advance past the previous frame (after rounding to the time base) is nudged
                one tick later, because muxers reject equal or decreasing times.

        Raises:
            WriterError: encoding or writing failed (disk full, ...).
        """
        if array.shape[:2] != (self.height, self.width):
            raise WriterError(
                f"{self.path}: frame {self.frames_written} is {array.shape[1]}x{array.shape[0]}, "
                f"expected {self.width}x{self.height}"
            )
        if any(self._pad):
            pad = [(0, self._pad[0]), (0, self._pad[1])] + [(0, 0)] * (array.ndim - 2)
            array = np.pad(array, pad, mode="edge")
        pts = round(float(timestamp) / self._time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(array), format=self.spec.input_format
        )
        frame.pts = pts
        frame.time_base = self._time_base
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise writer_error(self.path, exc, f"write frame {self.frames_written} of") from exc
        self.frames_written += 1

    def finish(self) -> None:
        """Flush the encoder and close the file, still under its temporary name.

        Raises:
            WriterError: flushing failed (disk full, ...); the temporary file is removed.
        """
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
        except (av.FFmpegError, OSError) as exc:
            self._abandon()
            raise writer_error(self.path, exc, "finish") from exc

    def commit(self) -> Path:
        """Rename the finished file to its final name and return that."""
        return self._target.commit()

    def abort(self) -> None:
        """Drop the output: close what is open and delete the temporary file (never raises)."""
        self._abandon()

    def _abandon(self) -> None:
        # Already broken; the caller is reporting the real error.
        with contextlib.suppress(Exception):
            self._container.close()
        self._target.discard()


class EncodedVideoWriter(StagedWriter):
    """Base of the writers that turn each frame into one :class:`VideoEncoder` frame.

    Subclasses set ``self._encoder`` in ``__init__`` and add a ``write`` that converts their
    input (a mask, a cutout, an overlay) and hands it to the encoder.
    """

    _encoder: VideoEncoder

    @property
    def path(self) -> Path:
        return self._encoder.path

    @property
    def frames_written(self) -> int:
        return self._encoder.frames_written

    def finish(self) -> None:
        self._encoder.finish()

    def commit(self) -> Path:
        return self._encoder.commit()

    def abort(self) -> None:
        self._encoder.abort()
