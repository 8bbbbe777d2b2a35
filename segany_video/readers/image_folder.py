"""Image-folder backend: a folder of frames read as a video, in natural order.

Natural order puts ``frame2.png`` before ``frame10.png`` (digits compare as numbers), which is
what people mean when they number frames without zero padding. Image folders carry no timing,
so timestamps are ``index / ReaderSettings.image_fps``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import VideoDecodeError, VideoOpenError
from segany_video.readers.frames import VideoInfo
from segany_video.readers.reader import ReaderSettings, VideoSource

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
_CODEC_NAMES = {".jpg": "mjpeg", ".jpeg": "mjpeg", ".tif": "tiff"}
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[object, ...]:
    """Sort key that compares runs of digits as numbers: ``a2`` < ``a10``.

    ``re.split`` with a capturing group alternates text and digit runs, always starting with
    text, so every position holds the same type across keys and tuples compare safely. The
    name itself breaks ties (``a01`` vs ``a1``) in a separate slot so types never mix. Only the
    stem is split, so ``x2b.png`` sorts before ``x2b3.png`` as ``x2b`` does before ``x2b3``.
    """
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    parts = _DIGITS.split(stem)
    return (tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), suffix, name)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder`` (hidden files skipped), naturally sorted."""
    entries = [
        p
        for p in Path(folder).iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
    ]
    return sorted(entries, key=lambda p: natural_key(p.name))


class ImageFolderSource(VideoSource):
    """A folder of images as a video. Build it with ``open_video(folder)``."""

    def __init__(self, folder: str, settings: ReaderSettings) -> None:
        super().__init__(settings)
        if not os.path.isdir(folder):
            raise VideoOpenError(f"{folder}: not a folder; the 'images' backend reads folders")
        try:
            self._files = list_images(folder)
        except OSError as exc:
            raise VideoOpenError(f"{folder}: cannot list the folder: {exc}") from exc
        if not self._files:
            raise VideoOpenError(
                f"{folder}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})"
            )
        first = self._decode_file(self._files[0], error=VideoOpenError)
        self._height, self._width = first.shape[:2]
        fps = settings.image_fps
        suffix = self._files[0].suffix.lower()
        self.info = VideoInfo(
            source=folder,
            width=self._width,
            height=self._height,
            fps=fps,
            frame_count=len(self._files),
            duration=float(len(self._files) / fps),
            rotation=0,
            codec=_CODEC_NAMES.get(suffix, suffix.lstrip(".")),
            backend="images",
        )

    def _decode_file(self, path: Path, error: type[Exception] = VideoDecodeError) -> np.ndarray:
        # IMREAD_COLOR applies EXIF orientation, drops alpha and expands grey to 3 channels.
        data = np.fromfile(path, dtype=np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if bgr is None:
            raise error(f"{path}: cannot decode this image (damaged or not an image?)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _frame(self, index: int) -> np.ndarray:
        path = self._files[index]
        rgb = self._decode_file(path)
        if rgb.shape[:2] != (self._height, self._width):
            raise VideoDecodeError(
                f"{path}: image is {rgb.shape[1]}x{rgb.shape[0]} but {self._files[0].name} is "
                f"{self._width}x{self._height}; all images in a folder must share one size"
            )
        return rgb

    def _seconds(self, index: int) -> float:
        return float(index / self.info.fps)

    def _iter_frames(self, start: int, end: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        stop = len(self._files) if end is None else min(end, len(self._files))
        for index in range(start, stop):
            yield index, self._seconds(index), self._frame(index)

    def _read_frames(self, indices: list[int]) -> dict[int, tuple[float, np.ndarray]]:
        return {i: (self._seconds(i), self._frame(i)) for i in indices}

    def _exact_count(self) -> int | None:
        return len(self._files)

    def _close_backend(self) -> None:
        """Nothing stays open between reads."""
