"""No pixel belongs to two objects: contested pixels go to the object they look most like.

Where masks overlap (an object passing in front of another), each contested pixel is given to
the claimant whose colour model explains its colour best (the occluder's colours are what the
camera sees); exact ties go to the higher-scored mask, then to the earlier object.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segany_video.tracking.appearance import ColourIndex
from segany_video.tracking.boxes import Box, intersection, tight_box


def resolve_overlaps(
    masks: Sequence[np.ndarray | None],
    scores: Sequence[float],
    colours: ColourIndex | None = None,
    colour_odds: Sequence[np.ndarray | None] | None = None,
    boxes: Sequence[Box | None] | None = None,
) -> list[np.ndarray | None]:
    """Make masks disjoint.

    Args:
        masks: per object ``(H, W)`` bool, or None for an object without a mask on this frame.
        scores: per object quality; orders claimants when colour does not decide.
        colours: the frame's colour bins, or None to decide by score alone.
        colour_odds: per object ``(D,)`` P(object | colour bin) table, or None.
        boxes: per object a box holding every pixel of its mask (None: the whole frame).

    Returns:
        New disjoint masks (inputs are not modified); None stays None.
    """
    present = [i for i, m in enumerate(masks) if m is not None]
    out: list[np.ndarray | None] = [None if m is None else m.copy() for m in masks]
    if len(present) < 2:
        return out
    region = _shared_region(
        [tight_box(masks[i], None if boxes is None else boxes[i]) for i in present]
    )
    if region is None:
        return out
    x0, y0, x1, y1 = region
    stack = np.stack([masks[i][y0:y1, x0:x1] for i in present])
    contested = stack.sum(axis=0, dtype=np.uint16) > 1
    if not contested.any():
        return out
    ys, xs = np.nonzero(contested)
    stack = stack[:, ys, xs]
    ys, xs = ys + y0, xs + x0
    # Rank: colour evidence first, then score, then list order (lower index wins).
    rank = np.zeros((len(present), len(ys)))
    order_bonus = np.array([-1e-9 * k for k in range(len(present))])
    for row, i in enumerate(present):
        odds = 0.0
        if colours is not None and colour_odds is not None and colour_odds[i] is not None:
            odds = colour_odds[i][colours.at(ys, xs)]
        rank[row] = odds * 1e3 + float(scores[i]) + order_bonus[row]
    rank[~stack] = -np.inf
    winner = np.argmax(rank, axis=0)
    for row, i in enumerate(present):
        mask = out[i]
        assert mask is not None
        mask[ys, xs] = winner == row
    return out


def _shared_region(boxes: Sequence[Box | None]) -> Box | None:
    """The box holding every pixel two of the masks' tight ``boxes`` share, or None.

    Overlaps can only occur where boxes intersect; the rest of the frame is never scanned.
    """
    shared = [
        box
        for a in range(len(boxes))
        for b in range(a + 1, len(boxes))
        if (box := intersection(boxes[a], boxes[b])) is not None
    ]
    if not shared:
        return None
    return (
        min(s[0] for s in shared),
        min(s[1] for s in shared),
        max(s[2] for s in shared),
        max(s[3] for s in shared),
    )
