"""Mask measures shared by the package: the tight box and IoU of a mask."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.results import mask_box, mask_iou


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[1, 1], [0, 0]], [[1, 0], [0, 0]], 0.5),
        ([[0, 0], [0, 0]], [[0, 0], [0, 0]], 1.0),  # both empty: full agreement
        ([[1, 0], [0, 0]], [[0, 1], [0, 0]], 0.0),
        ([[1, 0], [1, 0]], [[1, 1], [1, 0]], 2 / 3),
    ],
)
def test_mask_iou_table(a, b, expected):
    assert mask_iou(np.array(a, bool), np.array(b, bool)) == pytest.approx(expected)


def test_mask_iou_is_pairwise_over_leading_axes():
    rng = np.random.default_rng(0)
    a, b = rng.random((2, 3, 5, 7)) > 0.5, rng.random((2, 3, 5, 7)) > 0.5
    got = mask_iou(a, b)
    assert got.shape == (2, 3)
    for i, j in np.ndindex(2, 3):
        # Counted pixel by pixel, apart from the vectorised form.
        pairs = list(zip(a[i, j].ravel(), b[i, j].ravel(), strict=True))
        both, either = sum(x and y for x, y in pairs), sum(x or y for x, y in pairs)
        assert got[i, j] == pytest.approx(both / either)


def test_mask_box_is_pixel_edges_xyxy():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:7] = True
    np.testing.assert_array_equal(mask_box(mask), [3, 2, 7, 4])
    assert mask_box(np.zeros((6, 8), bool)) is None
