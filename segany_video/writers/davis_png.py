"""DAVIS-style annotations: one palette PNG per frame, pixel value = object slot.

``davis/00000.png`` holds frame 0: value 0 is background and value ``k`` is the ``k``-th object
(1-based, in prompt order), painted with the standard DAVIS/PASCAL VOC palette so the files open
in the DAVIS tools and image viewers alike. OpenCV cannot write indexed PNGs; Pillow encodes and
decodes them (its bytes equal those of the hand-written encoder it replaced, see BENCHMARKS.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from segany_video.errors import WriterError
from segany_video.writers.atomic import AtomicPath, StagedWriter
from segany_video.writers.png_sequence import frame_file_name, write_bytes


def davis_palette() -> np.ndarray:
    """The DAVIS (PASCAL VOC) palette: ``(256, 3)`` uint8 RGB.

    Entry ``i`` spreads the bits of ``i`` over the three channels, most significant first:
    bit 0 of each 3-bit group goes to red, bit 1 to green, bit 2 to blue. So 1 is dark red
    (128, 0, 0), 2 dark green, 3 olive, 4 navy, and 0 is black.
    """
    palette = np.zeros((256, 3), dtype=np.uint8)
    for index in range(256):
        code, rgb = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                rgb[channel] |= ((code >> channel) & 1) << shift
            code >>= 3
        palette[index] = rgb
    return palette


def encode_palette_png(labels: np.ndarray, palette: np.ndarray, level: int = 6) -> bytes:
    """Encode an index image as an 8-bit palette PNG (Pillow, unfiltered scanlines).

    Args:
        labels: ``(H, W)`` uint8 palette indices.
        palette: ``(N, 3)`` uint8 RGB with ``N <= 256`` covering every index used.
        level: zlib compression level.

    Returns:
        The PNG file's bytes.
    """
    if labels.ndim != 2 or labels.dtype != np.uint8:
        raise WriterError(f"labels must be (H, W) uint8, got {labels.shape} {labels.dtype}")
    height, width = labels.shape
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(labels).tobytes())
    image.putpalette(np.ascontiguousarray(palette, dtype=np.uint8).tobytes())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def decode_index_png(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a palette or grayscale PNG without expanding the palette.

    Args:
        data: the file's bytes.

    Returns:
        ``(labels, palette)``: ``(H, W)`` uint8 indices (or gray values) and the ``(N, 3)``
        uint8 palette (None for grayscale).

    Raises:
        ValueError: not a PNG, or not a palette or 8-bit grayscale image (e.g. colour).
    """
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            image.load()
            if image.mode not in ("P", "L"):
                raise ValueError(
                    f"unsupported PNG mode {image.mode!r} (expected a palette or 8-bit "
                    "grayscale image)"
                )
            labels = np.asarray(image, dtype=np.uint8).copy()
            palette = image.getpalette() if image.mode == "P" else None
    except (OSError, SyntaxError) as exc:  # Pillow's errors for unreadable image data
        raise ValueError(f"not a readable PNG file ({exc})") from None
    if palette is not None:
        palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    return labels, palette


def read_davis_png(path: Path) -> np.ndarray:
    """Read a DAVIS annotation: ``(H, W)`` uint8 palette indices (0 = background)."""
    return decode_index_png(Path(path).read_bytes())[0]


class DavisPngWriter(StagedWriter):
    """Writes ``<folder>/00000.png``… (frame index in the name), a palette index per pixel.

    Args:
        folder: final folder, e.g. ``out/davis``.
    """

    def __init__(self, folder: Path) -> None:
        self._target = AtomicPath(folder, is_dir=True)
        self.path = self._target.final
        self.frames_written = 0
        self._palette = davis_palette()

    def write(self, labels: np.ndarray, index: int) -> None:
        """Write frame ``index``: ``labels`` ``(H, W)`` uint8, object slot per pixel, 0 = none."""
        data = encode_palette_png(labels, self._palette)
        write_bytes(self._target.temp / frame_file_name(index), data)
        self.frames_written += 1

    def finish(self) -> None:
        """Nothing is buffered: each file is complete once :meth:`write` returns."""

    def commit(self) -> Path:
        return self._target.commit()

    def abort(self) -> None:
        self._target.discard()
