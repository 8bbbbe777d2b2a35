"""No pixel belongs to two objects: contested pixels go to the object they look most like.

Where masks overlap (an object passing in front of another), each contested pixel is given to
the claimant whose colour model explains its colour best (the occluder's colours are what the
camera sees); exact ties go to the higher-scored mask, then to the earlier object.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def resolve_overlaps(
    masks: Sequence[np.ndarray | None],
    scores: Sequence[float],
    colour_bins: np.ndarray | None = None,
    colour_odds: Sequence[np.ndarray | None] | None = None,
) -> list[np.ndarray | None]:
    """Make masks disjoint.

    Args:
        masks: per object ``(H, W)`` bool, or None for an object without a mask on this frame.
        scores: per object quality; orders claimants when colour does not decide.
        colour_bins: ``(H, W)`` int colour bin of each pixel, or None to decide by score alone.
        colour_odds: per object ``(D,)`` P(object | colour bin) table, or None.

    Returns:
        New disjoint masks (inputs are not modified); None stays None.
    """
    present = [i for i, m in enumerate(masks) if m is not None]
    out: list[np.ndarray | None] = [None if m is None else m.copy() for m in masks]
    if len(present) < 2:
        return out
    stack = np.stack([masks[i] for i in present])
    claims = stack.sum(axis=0)
    contested = claims > 1
    if not contested.any():
        return out
    ys, xs = np.nonzero(contested)
    # Rank: colour evidence first, then score, then list order (lower index wins).
    rank = np.zeros((len(present), len(ys)))
    order_bonus = np.array([-1e-9 * k for k in range(len(present))])
    for row, i in enumerate(present):
        odds = 0.0
        if colour_bins is not None and colour_odds is not None and colour_odds[i] is not None:
            odds = colour_odds[i][colour_bins[ys, xs]]
        rank[row] = odds * 1e3 + float(scores[i]) + order_bonus[row]
    rank[~stack[:, ys, xs]] = -np.inf
    winner = np.argmax(rank, axis=0)
    for row, i in enumerate(present):
        mask = out[i]
        assert mask is not None
        mask[ys, xs] = winner == row
    return out
