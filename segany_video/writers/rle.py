"""COCO run-length encoding of binary masks, compatible with ``pycocotools.mask``.

A COCO RLE is ``{"size": [H, W], "counts": str}``: the mask read in column-major order as
alternating runs of 0s and 1s (starting with 0s, possibly an empty run), written as a compact
ASCII string. pycocotools is used when importable (it is a test extra, not a dependency); the
fallback here produces the identical string and the tests hold the two to that.

The string form: runs after the second are stored as differences from the run two back (runs
of the same value change slowly), and every number is written 5 bits per character, least
significant group first, as ``chr(48 + group)`` with bit 0x20 meaning "more groups follow" and
bit 0x10 of the last group carrying the sign.
"""

from __future__ import annotations

import numpy as np

try:  # pycocotools is optional: the test extra installs it, users may not have it
    from pycocotools import mask as _coco_mask
except ImportError:  # pragma: no cover - depends on the environment
    _coco_mask = None


def mask_runs(mask: np.ndarray) -> np.ndarray:
    """Run lengths of ``mask`` in column-major order, starting with a (maybe empty) 0-run.

    Args:
        mask: ``(H, W)`` bool or integer (nonzero = object).

    Returns:
        ``(R,)`` int64 run lengths summing to ``H * W``.
    """
    flat = np.asarray(mask).T.reshape(-1) != 0
    if flat.size == 0:
        return np.zeros(0, dtype=np.int64)
    changes = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(edges).astype(np.int64)
    if flat[0]:
        runs = np.concatenate([[0], runs])
    return runs


def runs_to_string(runs: np.ndarray) -> str:
    """Pack run lengths into COCO's compressed counts string (see the module docstring)."""
    out: list[str] = []
    values = [int(v) for v in runs]
    for i, value in enumerate(values):
        x = value - values[i - 2] if i > 2 else value
        more = True
        while more:
            group = x & 0x1F
            x >>= 5  # arithmetic shift: negative differences end at -1, positive at 0
            more = x != -1 if group & 0x10 else x != 0
            if more:
                group |= 0x20
            out.append(chr(group + 48))
    return "".join(out)


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


def encode_rle_fallback(mask: np.ndarray) -> dict:
    """The pure-NumPy encoder (what :func:`encode_rle` uses without pycocotools)."""
    height, width = np.asarray(mask).shape
    return {"size": [int(height), int(width)], "counts": runs_to_string(mask_runs(mask))}


def encode_rle(mask: np.ndarray) -> dict:
    """Encode a binary mask as COCO RLE with a ``str`` counts (JSON-ready).

    Args:
        mask: ``(H, W)`` bool or integer (nonzero = object).

    Returns:
        ``{"size": [H, W], "counts": str}``, decodable by ``pycocotools.mask.decode`` (after
        nothing more than passing the dict; pycocotools accepts ``str`` counts).
    """
    if np.asarray(mask).ndim != 2:
        raise ValueError(f"a mask must be (H, W), got shape {np.asarray(mask).shape}")
    if _coco_mask is None:
        return encode_rle_fallback(mask)
    binary = np.asfortranarray(np.asarray(mask) != 0, dtype=np.uint8)
    rle = _coco_mask.encode(binary)
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


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
