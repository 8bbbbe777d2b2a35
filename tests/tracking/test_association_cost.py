"""The matching cost: IoU saturates near agreement, then the engine's own order decides."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.errors import ConfigError
from segany_video.tracking.association import association_cost
from segany_video.tracking.settings import TrackerSettings

# One followed track, three candidates of one prompt in the engine's order: its cut (rank 0),
# a cleaned cut (rank 1), the prior echoed back (rank 2, the best IoU by construction).
QUALITY = np.array([0.9, 0.9, 0.9])
DISTANCE = np.zeros((1, 3))
FOLLOWED = np.array([False])
RANK = np.array([0.0, 0.5, 1.0])


def best(iou: list[float], settings: TrackerSettings, rank: np.ndarray | None = RANK) -> int:
    cost = association_cost(np.array([iou]), QUALITY, DISTANCE, FOLLOWED, settings, rank)
    return int(np.argmin(cost[0]))


def test_an_agreeing_cut_beats_the_echoed_prior():
    settings = TrackerSettings(iou_saturation=0.96, rank_weight=0.05)
    assert best([0.97, 0.98, 1.0], settings) == 0


def test_a_cut_that_strays_from_motion_loses_to_the_prior():
    settings = TrackerSettings(iou_saturation=0.96, rank_weight=0.05)
    assert best([0.90, 0.93, 1.0], settings) == 2


def test_without_saturation_or_rank_the_highest_iou_wins():
    assert best([0.97, 0.98, 1.0], TrackerSettings(iou_saturation=1.0, rank_weight=0.0)) == 2


def test_rank_may_differ_per_track():
    settings = TrackerSettings(iou_saturation=0.96, rank_weight=0.05)
    iou = np.array([[0.97, 1.0], [0.97, 1.0]])
    rank = np.array([[0.0, 1.0], [0.0, 0.0]])  # the second track ignores the engine's order
    cost = association_cost(
        iou, QUALITY[:2], np.zeros((2, 2)), np.array([False, False]), settings, rank
    )
    assert cost[0, 0] < cost[0, 1]
    assert cost[1, 0] == pytest.approx(cost[1, 1])


@pytest.mark.parametrize(
    ("values", "name"),
    [({"iou_saturation": 0}, "iou_saturation"), ({"rank_weight": -1}, "rank_weight")],
)
def test_settings_reject_out_of_range(values, name):
    with pytest.raises(ConfigError, match=name):
        TrackerSettings.from_dict(values)


def test_a_lost_track_is_not_handed_a_look_alike_of_another_size():
    settings = TrackerSettings(refind_area_ratio=4.0)
    iou = np.array([[0.9, 0.9, 0.9]])
    sizes = np.array([[0.2, 1.3, 5.0]])  # candidate area / the object's reference area
    cost = association_cost(iou, QUALITY, DISTANCE, np.array([True]), settings, size_ratio=sizes)
    assert np.isinf(cost[0, 0]) and np.isinf(cost[0, 2])
    assert np.isfinite(cost[0, 1])


def test_a_followed_track_may_change_size():
    settings = TrackerSettings(refind_area_ratio=4.0)
    sizes = np.array([[0.2, 1.3, 5.0]])
    cost = association_cost(
        np.array([[0.9, 0.9, 0.9]]), QUALITY, DISTANCE, FOLLOWED, settings, size_ratio=sizes
    )
    assert np.isfinite(cost).all()
