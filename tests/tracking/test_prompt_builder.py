"""Prompt builders: padded boxes, interior points, negative points, the propagation prompt."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segany_video.tracking.prompt_builder import (
    interior_points,
    negative_points,
    padded_box,
    propagation_prompt,
    search_prompt,
)


def rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.mark.parametrize(
    ("mask", "padding", "expected"),
    [
        (rect(100, 100, 20, 30, 40, 70), 0.0, [20, 30, 40, 70]),
        (rect(100, 100, 20, 30, 40, 70), 0.1, [18, 26, 42, 74]),
        # clipped at the frame edges
        (rect(100, 100, 0, 0, 50, 100), 0.5, [0, 0, 75, 100]),
        (np.zeros((10, 10), bool), 0.1, None),
    ],
)
def test_padded_box(mask, padding, expected):
    box = padded_box(mask, padding, mask.shape)
    if expected is None:
        assert box is None
    else:
        np.testing.assert_allclose(box, expected)


def test_first_interior_point_is_the_centre_of_a_rectangle():
    (point,) = interior_points(rect(100, 100, 20, 30, 61, 71), 1)
    np.testing.assert_allclose(point, [40.5, 50.5], atol=1.0)


def test_interior_points_are_inside_and_spread_along_an_elongated_mask():
    mask = rect(60, 300, 10, 20, 290, 40)  # 280 x 20 bar
    points = interior_points(mask, 3)
    assert points.shape == (3, 2)
    assert mask[points[:, 1].astype(int), points[:, 0].astype(int)].all()
    xs = np.sort(points[:, 0])
    assert np.diff(xs).min() > 40  # not clustered at the centre


def test_interior_points_cover_two_separate_parts():
    mask = rect(100, 200, 10, 10, 50, 50) | rect(100, 200, 140, 40, 180, 80)
    points = interior_points(mask, 2)
    assert sorted(points[:, 0] < 100) == [False, True]


@pytest.mark.parametrize("count", [0, 3])
def test_interior_points_of_nothing(count):
    assert interior_points(np.zeros((10, 10), bool), count).shape == (0, 2)


def test_thin_mask_still_gives_a_point_on_it():
    mask = np.zeros((50, 50), bool)
    mask[25, 5:45] = True
    points = interior_points(mask, 2)
    assert len(points) >= 1
    assert mask[points[:, 1].astype(int), points[:, 0].astype(int)].all()


def test_negative_points_land_on_intruding_objects_only():
    region = np.array([0, 0, 50, 50], np.float32)
    near = rect(100, 100, 40, 40, 60, 60)  # overlaps the region's corner
    far = rect(100, 100, 80, 80, 95, 95)  # outside the region
    points = negative_points(region, [far, near], 2)
    assert points.shape == (1, 2)
    x, y = points[0]
    assert 40 <= x < 50 and 40 <= y < 50 and near[int(y), int(x)]


def test_propagation_prompt_carries_box_points_and_dense_prior():
    warped = rect(100, 100, 20, 20, 60, 60).astype(np.float32)
    other = rect(100, 100, 55, 30, 80, 50)
    logits = torch.zeros(256, 256)
    prompt = propagation_prompt(
        warped, [other], positive=2, negative=1, padding=0.1, dense=True, low_res_logits=logits
    )
    np.testing.assert_allclose(prompt.box, [16, 16, 64, 64])
    assert prompt.point_labels.tolist() == [1, 1, 0]
    pos = prompt.points[:2].astype(int)
    assert (warped[pos[:, 1], pos[:, 0]] == 1).all()
    neg = prompt.points[2].astype(int)
    assert other[neg[1], neg[0]]
    assert prompt.mask is warped and prompt.low_res_logits is logits


def test_propagation_prompt_without_dense_prior_or_points():
    warped = rect(100, 100, 20, 20, 60, 60).astype(np.float32)
    prompt = propagation_prompt(warped, [], positive=0, negative=2, padding=0.0, dense=False)
    assert prompt.points is None and prompt.mask is None and prompt.low_res_logits is None
    np.testing.assert_allclose(prompt.box, [20, 20, 60, 60])


def test_empty_warped_mask_gives_no_prompt():
    warped = np.full((50, 50), 0.4, np.float32)  # nothing above 0.5
    assert propagation_prompt(warped, [], positive=3, negative=0, padding=0.1, dense=True) is None


def test_search_prompt_uses_the_blob():
    blob = rect(80, 80, 10, 10, 30, 20)
    prompt = search_prompt(blob, positive=2, padding=0.0)
    np.testing.assert_allclose(prompt.box, [10, 10, 30, 20])
    assert prompt.point_labels.tolist() == [1] * len(prompt.points)
    assert np.array_equal(prompt.mask > 0.5, blob)
    assert search_prompt(np.zeros((5, 5), bool), positive=2, padding=0.0) is None
