"""Integer boxes around masks, so that per-object work reads a crop instead of the whole frame.

A frame holds a few objects, each a small part of it; scanning a full ``(H, W)`` mask for every
count, histogram and overlap costs far more than the object itself. A mask's box is found once
(one scan) and handed on with the mask. Boxes are ``(x0, y0, x1, y1)`` ints, ``XYXY`` pixel
edges: the pixels ``mask[y0:y1, x0:x1]``.
"""

from __future__ import annotations

import numpy as np

from segany_video.results import Box, tight_box

__all__ = ["Box", "as_xyxy", "intersection", "on_grid", "tight_box"]


def intersection(a: Box | None, b: Box | None) -> Box | None:
    """The box both boxes cover, or None when they do not meet (or either is None)."""
    if a is None or b is None:
        return None
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def as_xyxy(box: Box | None) -> np.ndarray | None:
    """``(4,)`` float32 ``XYXY``, the form :func:`segany_video.results.mask_box` returns."""
    return None if box is None else np.array(box, dtype=np.float32)


def on_grid(box: Box, step: int) -> tuple[slice, slice]:
    """Row and column slices of the pixels inside ``box`` whose coordinates are multiples of
    ``step``: the crop of ``mask[::step, ::step]`` that ``box`` covers."""
    x0, y0, x1, y1 = box
    return slice(-(-y0 // step) * step, y1, step), slice(-(-x0 // step) * step, x1, step)
