"""COCO run-length encoding of binary masks: pycocotools encodes, a checked decoder reads back.

A COCO RLE is ``{"size": [H, W], "counts": str}``: the mask read in column-major order as
alternating runs of 0s and 1s (starting with 0s, possibly an empty run), written as a compact
ASCII string. Encoding is ``pycocotools.mask.encode``.

Decoding keeps its own small parser because pycocotools does not check that the runs fill the
mask: ``decode({"size": [3, 3], "counts": b"12"})`` returns a 3x3 array whose unfilled pixels
hold whatever was in memory (values such as 89 and 5), where a truncated ``tracks.json`` must
be an error. The string form: runs after the second are stored as differences from the run two
back, and every number is written 5 bits per character, least significant group first, as
``chr(48 + group)`` with bit 0x20 meaning "more groups follow" and bit 0x10 of the last group
carrying the sign.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask


def encode_rle(mask: np.ndarray) -> dict:
    """Encode a binary mask as COCO RLE with a ``str`` counts (JSON-ready).

    Args:
        mask: ``(H, W)`` bool or integer (nonzero = object).

    Returns:
        ``{"size": [H, W], "counts": str}``, decodable by ``pycocotools.mask.decode`` and
        :func:`decode_rle`.
    """
    if np.asarray(mask).ndim != 2:
        raise ValueError(f"a mask must be (H, W), got shape {np.asarray(mask).shape}")
    binary = np.asfortranarray(np.asarray(mask) != 0, dtype=np.uint8)
    rle = coco_mask.encode(binary)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def string_to_runs(counts: str) -> np.ndarray:
    """Unpack COCO's compressed counts string into ``(R,)`` int64 run lengths."""
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        x = shift = 0
        more = True
        while more:
            group = ord(counts[pos]) - 48
            x |= (group & 0x1F) << shift
            more = bool(group & 0x20)
            pos += 1
            shift += 5
            if not more and group & 0x10:
                x |= -1 << shift
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    return np.asarray(runs, dtype=np.int64)


def decode_rle(rle: dict) -> np.ndarray:
    """Decode a COCO RLE (compressed string or uncompressed list counts).

    Args:
        rle: ``{"size": [H, W], "counts": str | bytes | list[int]}``.

    Returns:
        ``(H, W)`` bool mask.

    Raises:
        ValueError: the runs do not add up to ``H * W``.
    """
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = string_to_runs(counts) if isinstance(counts, str) else np.asarray(counts, np.int64)
    if runs.sum() != height * width or (runs < 0).any():
        raise ValueError(
            f"RLE runs sum to {runs.sum()}, expected {height}x{width}={height * width}"
        )
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, runs)
    return flat.reshape(width, height).T.copy()
