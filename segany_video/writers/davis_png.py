"""DAVIS-style annotations: one palette PNG per frame, pixel value = object slot.

``davis/00000.png`` holds frame 0: value 0 is background and value ``k`` is the ``k``-th object
(1-based, in prompt order), painted with the standard DAVIS/PASCAL VOC palette so the files open
in the DAVIS tools and image viewers alike. OpenCV cannot write indexed PNGs and PIL is not a
dependency, so this module encodes (and, for round trips and resuming, decodes) the small subset
of PNG it needs with ``zlib`` and ``struct``: 8-bit palette or grayscale, not interlaced.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from segany_video.errors import WriterError
from segany_video.writers.atomic import AtomicPath, StagedWriter
from segany_video.writers.png_sequence import frame_file_name, write_bytes

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE_TYPE, _GRAY_TYPE = 3, 0


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


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_palette_png(labels: np.ndarray, palette: np.ndarray, level: int = 6) -> bytes:
    """Encode an index image as an 8-bit palette PNG.

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
    # Each scanline starts with its filter type; 0 ("None") keeps the encoder trivial, and
    # label maps are long runs that deflate compresses well without prediction.
    rows = np.zeros((height, width + 1), dtype=np.uint8)
    rows[:, 1:] = labels
    header = struct.pack(">IIBBBBB", width, height, 8, _PALETTE_TYPE, 0, 0, 0)
    return b"".join(
        [
            _SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes()),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            _chunk(b"IEND", b""),
        ]
    )


def _paeth(left: int, up: int, corner: int) -> int:
    estimate = left + up - corner
    d_left, d_up, d_corner = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
    if d_left <= d_up and d_left <= d_corner:
        return left
    return up if d_up <= d_corner else corner


def _unfilter(raw: bytes, width: int, height: int) -> np.ndarray:
    """Undo PNG's per-scanline filters for 1 byte per pixel."""
    data = np.frombuffer(raw, dtype=np.uint8).reshape(height, width + 1)
    kinds = data[:, 0]
    if np.isin(kinds, (0, 1)).all():
        # None and Sub rows do not depend on the row above: undo them all at once (the common
        # case: our own files and the DAVIS annotations use only these).
        summed = (np.cumsum(data[:, 1:], axis=1, dtype=np.int64) & 0xFF).astype(np.uint8)
        return np.where((kinds == 1)[:, None], summed, data[:, 1:])
    out = np.zeros((height, width), dtype=np.uint8)
    previous = np.zeros(width, dtype=np.uint8)
    for y in range(height):
        kind, line = int(data[y, 0]), data[y, 1:]
        if kind == 0:
            row = line.copy()
        elif kind == 1:  # Sub: running sum along the row
            row = (np.cumsum(line, dtype=np.int64) & 0xFF).astype(np.uint8)
        elif kind == 2:  # Up
            row = line + previous
        elif kind in (3, 4):  # Average / Paeth depend on the pixel just decoded: sequential
            row = np.zeros(width, dtype=np.uint8)
            left = corner = 0
            for x in range(width):
                up = int(previous[x])
                guess = (left + up) // 2 if kind == 3 else _paeth(left, up, corner)
                left = (int(line[x]) + guess) & 0xFF
                row[x] = left
                corner = up
        else:
            raise ValueError(f"unknown PNG filter type {kind} on row {y}")
        out[y] = row
        previous = row
    return out


def decode_index_png(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode an 8-bit palette or grayscale PNG without expanding the palette.

    Args:
        data: the file's bytes.

    Returns:
        ``(labels, palette)``: ``(H, W)`` uint8 indices (or gray values) and the ``(N, 3)``
        uint8 palette (None for grayscale).

    Raises:
        ValueError: not a PNG, or a kind this small decoder does not handle (bit depth other
            than 8, colour images, interlacing).
    """
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    pos, idat, palette, header = len(_SIGNATURE), [], None, None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = np.frombuffer(body, dtype=np.uint8).reshape(-1, 3).copy()
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    width, height, depth, color_type, _, _, interlace = header
    if depth != 8 or color_type not in (_PALETTE_TYPE, _GRAY_TYPE) or interlace:
        raise ValueError(
            f"unsupported PNG: bit depth {depth}, colour type {color_type}, interlace "
            f"{interlace} (expected 8-bit palette or grayscale, not interlaced)"
        )
    labels = _unfilter(zlib.decompress(b"".join(idat)), width, height)
    return labels, (palette if color_type == _PALETTE_TYPE else None)


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
