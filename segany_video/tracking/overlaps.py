"""No pixel belongs to two objects: contested pixels go to the object they look most like.

Where masks overlap (an object passing in front of another), each contested pixel is given to
the claimant whose colour model explains its colour best (the occluder's colours are what the
camera sees); exact ties go to the higher-scored mask, then to the earlier object.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segany_video.results import mask_box
from segany_video.tracking.appearance import ColourIndex


def resolve_overlaps(
    masks: Sequence[np.ndarray | None],
    scores: Sequence[float],
    colours: ColourIndex | None = None,
    colour_odds: Sequence[np.ndarray | None] | None = None,
) -> list[np.ndarray | None]:
    """Make masks disjoint.

    Args:
        masks: per object ``(H, W)`` bool, or None for an object without a mask on this frame.
        scores: per object quality; orders claimants when colour does not decide.
        colours: the frame's colour bins, or None to decide by score alone.
        colour_odds: per object ``(D,)`` P(object | colour bin) table, or None.

    Returns:
        New disjoint masks (inputs are not modified); None stays None.
    """
    present = [i for i, m in enumerate(masks) if m is not None]
    out: list[np.ndarray | None] = [None if m is None else m.copy() for m in masks]
    if len(present) < 2:
        return out
    region = _shared_region([masks[i] for i in present])
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


def _shared_region(masks: Sequence[np.ndarray]) -> tuple[int, int, int, int] | None:
    """The box ``(x0, y0, x1, y1)`` holding every pixel two masks' boxes share, or None.

    Overlaps can only occur where boxes intersect; the rest of the frame is never scanned.
    """
    boxes = [mask_box(m) for m in masks]
    shared = []
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            box_a, box_b = boxes[a], boxes[b]
            if box_a is None or box_b is None:
                continue
            x0, y0 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
            x1, y1 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
            if x1 > x0 and y1 > y0:
                shared.append((x0, y0, x1, y1))
    if not shared:
        return None
    return (
        int(min(s[0] for s in shared)),
        int(min(s[1] for s in shared)),
        int(max(s[2] for s in shared)),
        int(max(s[3] for s in shared)),
    )
