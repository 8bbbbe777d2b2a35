"""Hungarian matching of tracks (rows) to candidate masks (columns), gated by a cost limit."""

from __future__ import annotations

from dataclasses import dataclass

import lap
import numpy as np


@dataclass(frozen=True)
class Matching:
    """The outcome of :func:`match_candidates`.

    Attributes:
        matches: ``(M, 2)`` int64 ``(row, col)`` pairs, sorted by row.
        unmatched_rows: ``(R,)`` int64 rows with no match, ascending.
        unmatched_cols: ``(C,)`` int64 columns with no match, ascending.
    """

    matches: np.ndarray
    unmatched_rows: np.ndarray
    unmatched_cols: np.ndarray


def match_candidates(cost: np.ndarray, gate: float) -> Matching:
    """One-to-one assignment of rows to columns where no pair costs more than ``gate``.

    Among assignments using only pairs within the gate, the one with the most pairs is chosen,
    and among those the one with the lowest total cost. Rectangular matrices are fine; each row
    gets at most one column and vice versa. Pairs with a cost above ``gate`` (or a non-finite
    cost) are never assigned, so a row whose every pair fails the gate stays unmatched. Ties are
    broken deterministically by the solver.

    Args:
        cost: ``(R, C)`` costs; not modified.
        gate: the largest cost a match may have.

    Returns:
        The matches and the unmatched rows and columns.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-D (rows, cols) matrix, got shape {cost.shape}")
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return Matching(
            np.zeros((0, 2), dtype=np.int64),
            np.arange(rows, dtype=np.int64),
            np.arange(cols, dtype=np.int64),
        )
    allowed = np.isfinite(cost) & (cost <= gate)
    # Leaving a pair unmatched costs far more than any allowed pair (so the count of pairs is
    # maximised first) and far less than a blocked one (which is therefore never taken).
    spread = float(np.abs(cost[allowed]).sum()) + 1.0 if allowed.any() else 1.0
    unmatched = 4.0 * spread
    solvable = np.where(allowed, cost, 4.0 * unmatched)
    _, row_to_col, _ = lap.lapjv(solvable, extend_cost=True, cost_limit=unmatched)
    pairs = [(r, int(c)) for r, c in enumerate(row_to_col) if c >= 0 and solvable[r, c] <= gate]
    matches = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    unmatched_rows = np.setdiff1d(np.arange(rows), matches[:, 0]).astype(np.int64)
    unmatched_cols = np.setdiff1d(np.arange(cols), matches[:, 1]).astype(np.int64)
    return Matching(matches, unmatched_rows, unmatched_cols)
