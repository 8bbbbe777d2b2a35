"""Per-object PNG sequences: ``png/<id>/00000.png``, one 0/255 grayscale image per frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import WriterError
from segany_video.writers.atomic import AtomicPath, StagedWriter, writer_error
from segany_video.writers.mask_video import mask_to_gray


def frame_file_name(index: int, suffix: str = ".png") -> str:
    """``00042.png``: the frame index zero-padded to 5 digits (more digits when needed)."""
    if index < 0:
        raise WriterError(f"frame index must be >= 0, got {index}")
    return f"{index:05d}{suffix}"


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, turning OS errors into a ``WriterError`` naming the file."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise writer_error(path, exc) from exc


class PngSequenceWriter(StagedWriter):
    """One object's masks as a folder of PNG files named by frame index.

    The folder is built under a temporary name and renamed when complete, like every output.
    Files are named by the source frame index (not a counter), so a run that starts mid-video
    names its first file after the frame it came from.

    Args:
        folder: final folder, e.g. ``out/png/1``.
        compression: PNG deflate level 0-9 (1 is fast and masks compress well anyway).
    """

    def __init__(self, folder: Path, compression: int = 1) -> None:
        self._target = AtomicPath(folder, is_dir=True)
        self.path = self._target.final
        self.frames_written = 0
        self._params = [cv2.IMWRITE_PNG_COMPRESSION, int(compression)]

    def write(self, mask: np.ndarray, index: int) -> None:
        """Write the mask of frame ``index``: ``(H, W)`` bool or uint8, nonzero = object."""
        ok, encoded = cv2.imencode(".png", mask_to_gray(mask), self._params)
        if not ok:
            raise WriterError(f"OpenCV could not encode frame {index} of {self.path} as PNG")
        write_bytes(self._target.temp / frame_file_name(index), encoded.tobytes())
        self.frames_written += 1

    def finish(self) -> None:
        """Nothing is buffered: each file is complete once :meth:`write` returns."""

    def commit(self) -> Path:
        return self._target.commit()

    def abort(self) -> None:
        self._target.discard()
