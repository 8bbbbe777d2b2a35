"""Hungarian matching: empty inputs, rectangular matrices, ties, gating, no mutation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from segany_video.tracking.matching import match_candidates


def brute_force(cost: np.ndarray, gate: float) -> float:
    """Independent oracle: most gated-in pairs first, then the lowest total cost.

    Scored as ``sum(cost) - 1000 * len(pairs)`` over every partial assignment.
    """
    rows, cols = cost.shape
    best = 0.0
    for size in range(1, min(rows, cols) + 1):
        for rs in itertools.combinations(range(rows), size):
            for cs in itertools.permutations(range(cols), size):
                picked = cost[list(rs), list(cs)]
                if (picked <= gate).all():
                    best = min(best, float(picked.sum()) - 1000 * size)
    return best


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (4, 0)])
def test_empty_inputs(shape):
    result = match_candidates(np.zeros(shape), gate=1.0)
    assert result.matches.shape == (0, 2)
    assert result.unmatched_rows.tolist() == list(range(shape[0]))
    assert result.unmatched_cols.tolist() == list(range(shape[1]))


@pytest.mark.parametrize(
    ("cost", "expected"),
    [
        # more tracks than candidates: the cheaper row wins the only column
        ([[0.2], [0.1]], [(1, 0)]),
        # more candidates than tracks
        ([[0.9, 0.1, 0.5]], [(0, 1)]),
        # the global optimum, not greedy: greedy would take (0,0)=0.1 then (1,1)=0.9
        ([[0.1, 0.2], [0.2, 0.9]], [(0, 1), (1, 0)]),
        # rectangular 2x3
        ([[0.5, 0.4, 0.9], [0.3, 0.8, 0.7]], [(0, 1), (1, 0)]),
    ],
)
def test_assignments(cost, expected):
    result = match_candidates(np.array(cost), gate=1.0)
    assert [tuple(p) for p in result.matches.tolist()] == expected


def test_gate_leaves_rows_and_cols_unmatched():
    cost = np.array([[0.2, 5.0], [5.0, 5.0], [5.0, 0.3]])
    result = match_candidates(cost, gate=1.0)
    assert result.matches.tolist() == [[0, 0], [2, 1]]
    assert result.unmatched_rows.tolist() == [1]
    assert result.unmatched_cols.tolist() == []


def test_inf_and_nan_are_never_matched():
    cost = np.array([[np.inf, np.nan], [0.5, np.inf]])
    result = match_candidates(cost, gate=1.0)
    assert result.matches.tolist() == [[1, 0]]
    assert result.unmatched_rows.tolist() == [0]
    assert result.unmatched_cols.tolist() == [1]


def test_cost_exactly_at_gate_is_allowed():
    result = match_candidates(np.array([[1.0]]), gate=1.0)
    assert result.matches.tolist() == [[0, 0]]


def test_ties_give_a_valid_one_to_one_assignment_deterministically():
    cost = np.full((3, 3), 0.5)
    first = match_candidates(cost, gate=1.0)
    second = match_candidates(cost, gate=1.0)
    assert np.array_equal(first.matches, second.matches)
    assert sorted(first.matches[:, 0].tolist()) == [0, 1, 2]
    assert sorted(first.matches[:, 1].tolist()) == [0, 1, 2]


def test_input_is_not_mutated():
    cost = np.array([[0.3, np.inf], [2.0, 0.1]])
    before = cost.copy()
    match_candidates(cost, gate=1.0)
    assert np.array_equal(cost, before)


@pytest.mark.parametrize("seed", range(40))
def test_matches_brute_force_optimum(seed):
    rng = np.random.default_rng(seed)
    rows, cols = rng.integers(1, 5, size=2)
    cost = rng.uniform(0, 2, size=(rows, cols)).round(1)  # rounding makes ties
    result = match_candidates(cost, gate=1.0)
    pairs = result.matches
    assert len(set(pairs[:, 0].tolist())) == len(pairs) == len(set(pairs[:, 1].tolist()))
    assert (cost[pairs[:, 0], pairs[:, 1]] <= 1.0).all()
    total = float(cost[pairs[:, 0], pairs[:, 1]].sum()) - 1000 * len(pairs)
    assert total == pytest.approx(brute_force(cost, 1.0))


def test_more_pairs_beat_one_cheap_pair():
    # Two tracks both find a mask (0.9 + 0.9) rather than one cheap pair leaving a track empty.
    cost = np.array([[0.1, 0.9], [0.9, np.inf]])
    result = match_candidates(cost, gate=1.0)
    assert result.matches.tolist() == [[0, 1], [1, 0]]
