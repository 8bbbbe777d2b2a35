"""The one exception hierarchy of segany-video.

Every class also subclasses the built-in that matches its meaning (as PyAV does), so callers
can catch either ``SegAnyVideoError`` or the familiar built-in.
"""

from __future__ import annotations


class SegAnyVideoError(Exception):
    """Base of every error this package raises on purpose."""


class UserInputError(SegAnyVideoError):
    """Marker base: a mistake the user can fix (the CLI prints one line and exits 2)."""


class VideoOpenError(UserInputError, OSError):
    """A video source cannot be opened: missing file, not a video, no video stream, bad codec."""


class VideoDecodeError(SegAnyVideoError, OSError):
    """A video stream failed part-way; the message names the last frame that decoded."""


class FrameIndexError(UserInputError, IndexError):
    """A frame index or timestamp outside the video."""


class WriterError(SegAnyVideoError, OSError):
    """An output cannot be written: unwritable folder, disk full, encoder missing."""


class OutputError(WriterError, UserInputError):
    """An output folder the user must change: not creatable, a file, read-only, full, or busy."""


class PromptError(UserInputError, ValueError):
    """Invalid prompts: names the object and frame at fault."""


class CheckpointError(UserInputError, ValueError):
    """A checkpoint file that cannot be loaded safely or does not match a known model."""


class ModelNotFoundError(UserInputError, FileNotFoundError):
    """A model name that is neither a registry name in the cache nor an existing path."""


class DigestMismatchError(CheckpointError):
    """A downloaded or given file whose sha256 differs from the registry's."""


class DownloadError(SegAnyVideoError, OSError):
    """A weights download that failed (network, HTTP status, disk)."""


class DeviceError(UserInputError, RuntimeError):
    """A device that is requested but absent, or a dtype it cannot run."""


class OutOfMemoryError(SegAnyVideoError, MemoryError):
    """The device ran out of memory even after retrying with a smaller batch."""


class ConfigError(UserInputError, ValueError):
    """A config file or preset with unknown keys or invalid values."""


class PipelineError(SegAnyVideoError, RuntimeError):
    """A worker thread failed; the original exception is chained as ``__cause__``."""
