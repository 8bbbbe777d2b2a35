"""Backward-pass results are held run-length coded and come back exactly."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.results import ObjectResult, TrackState, mask_box
from segany_video.tracking.backward import BackwardResults, mask_from_runs, mask_runs


def _disc(height: int, width: int, cx: float, cy: float, r: float) -> np.ndarray:
    ys, xs = np.mgrid[:height, :width]
    return (xs - cx) ** 2 + (ys - cy) ** 2 <= r**2


def _masks() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    corners = np.zeros((5, 7), dtype=bool)
    corners[0, 0] = corners[-1, -1] = True  # first and last flat index
    return {
        "empty": np.zeros((5, 7), dtype=bool),
        "full": np.ones((5, 7), dtype=bool),
        "corners": corners,
        "checkerboard": (np.indices((6, 9)).sum(axis=0) % 2).astype(bool),
        "random": rng.random((31, 17)) < 0.5,
        "disc": _disc(48, 85, 40, 20, 15),
        "transposed view": (rng.random((17, 31)) < 0.3).T,
    }


@pytest.mark.parametrize("name", list(_masks()))
def test_runs_round_trip(name):
    mask = _masks()[name]
    runs = mask_runs(mask)
    assert (runs is None) == (not mask.any())
    np.testing.assert_array_equal(mask_from_runs(runs, *mask.shape), mask)


def test_runs_are_start_and_end_of_each_run_of_the_flattened_mask():
    mask = np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1]], dtype=bool)
    # flattened: 0 1 1 1 0 0 0 0 1 -> runs [1, 4) and [8, 9)
    assert mask_runs(mask).tolist() == [1, 4, 8, 9]
    assert mask_runs(mask).dtype == np.uint32


def test_a_blob_costs_far_less_than_a_bit_packed_mask():
    mask = _disc(480, 854, 400, 240, 150)
    assert mask_runs(mask).nbytes < mask.size / 8 / 10


def _result(object_id, mask, score, state):
    return ObjectResult(object_id, mask, mask_box(mask), score, TrackState(state))


def test_results_come_back_exactly_once_and_survive_a_snapshot():
    size = (48, 85)
    disc, empty = _disc(*size, 40, 20, 15), np.zeros(size, dtype=bool)
    store = BackwardResults(size)
    store.add(3, _result(1, disc, 0.75, "tracked"))
    store.add(3, _result("ball", empty, 0.0, "lost"))
    store.add(2, _result(1, disc[::-1].copy(), 0.5, "tracked"))
    restored = BackwardResults.restore(store.snapshot())
    for held in (store, restored):
        assert len(held) == 2
        frame = held.pop(3)
        assert list(frame) == [1, "ball"]
        np.testing.assert_array_equal(frame[1].mask, disc)
        np.testing.assert_array_equal(frame[1].box, mask_box(disc))
        assert (frame[1].score, frame[1].state) == (0.75, TrackState.TRACKED)
        assert not frame["ball"].mask.any() and frame["ball"].box is None
        assert frame["ball"].state is TrackState.LOST
        assert held.pop(3) == {}
        np.testing.assert_array_equal(held.pop(2)[1].mask, disc[::-1])
        assert len(held) == 0
