"""Mask boxes, and the crop-only paths that use them (counts, overlaps, colours, warps, prompts,
reach, overlap resolution), against the same functions reading whole frames."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.results import mask_box
from segany_video.tracking.appearance import Appearance, ColourIndex
from segany_video.tracking.association import iou_matrix
from segany_video.tracking.boxes import intersection, on_grid, tight_box
from segany_video.tracking.motion import FlowField
from segany_video.tracking.overlaps import resolve_overlaps
from segany_video.tracking.prompt_builder import colour_posterior, propagation_prompt
from segany_video.tracking.reach import drop_detached, within_reach

HEIGHT, WIDTH = 47, 63  # odd sizes: the half-resolution colour grid has a partial edge


def blobs(seed: int, count: int) -> list[np.ndarray]:
    """Random masks: a few rectangles each, some at the frame's edges, some empty."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        mask = np.zeros((HEIGHT, WIDTH), bool)
        for _ in range(rng.integers(0, 4)):
            x0, y0 = rng.integers(0, WIDTH), rng.integers(0, HEIGHT)
            mask[y0 : y0 + rng.integers(1, 20), x0 : x0 + rng.integers(1, 25)] = True
        masks.append(mask)
    return masks


@pytest.mark.parametrize("seed", range(5))
def test_tight_box_is_the_mask_box(seed):
    for mask in blobs(seed, 8):
        expected = mask_box(mask)
        box = tight_box(mask)
        if expected is None:
            assert box is None
            continue
        assert box == tuple(int(v) for v in expected)
        within = (max(0, box[0] - 3), max(0, box[1] - 1), box[2], min(HEIGHT, box[3] + 2))
        assert tight_box(mask, within) == box


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        ((0, 0, 10, 10), (5, 5, 20, 20), (5, 5, 10, 10)),
        ((0, 0, 10, 10), (10, 0, 20, 10), None),  # touching edges share no pixel
        ((0, 0, 10, 10), None, None),
    ],
)
def test_intersection(a, b, shared):
    assert intersection(a, b) == shared
    assert intersection(b, a) == shared


@pytest.mark.parametrize("box", [(0, 0, 7, 5), (3, 2, 50, 31), (1, 1, 2, 2), (5, 7, 6, 8)])
def test_on_grid_takes_the_subsampled_pixels_of_the_box(box):
    labels = np.arange(HEIGHT * WIDTH).reshape(HEIGHT, WIDTH)
    inside = np.zeros_like(labels, dtype=bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    expected = labels[::2, ::2][inside[::2, ::2]]
    np.testing.assert_array_equal(np.sort(labels[on_grid(box, 2)].ravel()), expected)


@pytest.mark.parametrize("seed", range(5))
def test_iou_on_boxes_equals_a_full_scan(seed):
    rows, cols = blobs(seed, 3), blobs(seed + 100, 7)
    cols.append(rows[0].copy())  # one exact match
    small_rows = np.stack([m[::2, ::2].ravel() for m in rows]).astype(np.float64)
    small_cols = np.stack([m[::2, ::2].ravel() for m in cols]).astype(np.float64)
    inter = small_rows @ small_cols.T
    union = small_rows.sum(1)[:, None] + small_cols.sum(1)[None] - inter
    expected = np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)
    iou = iou_matrix(rows, [tight_box(m) for m in rows], cols, [tight_box(m) for m in cols])
    np.testing.assert_array_equal(iou, expected)


def test_iou_of_no_rows_or_no_columns_is_empty():
    masks = blobs(0, 2)
    boxes = [tight_box(m) for m in masks]
    assert iou_matrix([], [], masks, boxes).shape == (0, 2)
    assert iou_matrix(masks, boxes, [], []).shape == (2, 0)


@pytest.mark.parametrize("seed", range(5))
def test_colours_measured_in_the_box_equal_the_full_frame(seed):
    image = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    colours = ColourIndex(image, 8)
    for mask in blobs(seed, 8):
        box = tight_box(mask)
        np.testing.assert_array_equal(colours.histogram(mask, box), colours.histogram(mask))
        np.testing.assert_array_equal(
            colours.ring_histogram(mask, 6, box), colours.ring_histogram(mask, 6)
        )
        measured, reference = (
            Appearance.measure(colours, mask, box),
            Appearance.measure(colours, mask),
        )
        np.testing.assert_array_equal(measured.foreground, reference.foreground)
        np.testing.assert_array_equal(measured.background, reference.background)
        np.testing.assert_array_equal(
            Appearance.anchor_odds(colours, mask, box), Appearance.anchor_odds(colours, mask)
        )


@pytest.mark.parametrize("seed", range(5))
def test_reach_and_detached_parts_in_the_box_equal_the_full_frame(seed):
    masks, expected = blobs(seed, 6), blobs(seed + 50, 6)
    for mask, motion in zip(masks, expected, strict=True):
        np.testing.assert_array_equal(
            within_reach(mask, motion, 0.1, tight_box(motion)), within_reach(mask, motion, 0.1)
        )
        np.testing.assert_array_equal(
            drop_detached(mask, 0.1, tight_box(mask)), drop_detached(mask, 0.1)
        )


@pytest.mark.parametrize("seed", range(5))
def test_overlaps_resolved_in_the_boxes_equal_the_full_frame(seed):
    masks = [m | n for m, n in zip(blobs(seed, 3), blobs(seed + 7, 3), strict=True)]
    image = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    colours = ColourIndex(image, 8)
    odds = [np.random.default_rng(seed + i).random(colours.size) for i in range(3)]
    # Boxes larger than tight ones are fine: they only have to hold every pixel.
    boxes = [(0, 0, WIDTH, HEIGHT), tight_box(masks[1]), tight_box(masks[2])]
    fast = resolve_overlaps(masks, [0.5, 0.7, 0.6], colours, odds, boxes)
    reference = resolve_overlaps(masks, [0.5, 0.7, 0.6], colours, odds)
    for out, expected in zip(fast, reference, strict=True):
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("seed", range(5))
def test_warp_and_prompt_in_the_box_equal_the_full_frame(seed):
    rng = np.random.default_rng(seed)
    field = FlowField(rng.normal(0.0, 1.5, (16, 21, 2)).astype(np.float32), (HEIGHT, WIDTH))
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    colours = ColourIndex(image, 8)
    odds = rng.random(colours.size).astype(np.float32)
    masks = blobs(seed, 6)
    for mask, other in zip(masks, masks[1:] + masks[:1], strict=True):
        box = tight_box(mask)
        if box is None:
            continue
        soft = field.warp(mask, box)
        np.testing.assert_array_equal(soft, field.warp(mask))
        landing = field.landing(box)
        outside = np.ones_like(mask)
        outside[landing[1] : landing[3], landing[0] : landing[2]] = False
        assert not soft[outside].any()
        posterior = colour_posterior(soft, odds, colours, 0.2, within=landing)
        np.testing.assert_array_equal(posterior, colour_posterior(soft, odds, colours, 0.2))
        fast = propagation_prompt(
            posterior,
            [other],
            positive=3,
            negative=1,
            padding=0.1,
            dense=True,
            within=tight_box(posterior > 0.5),
        )
        full = propagation_prompt(
            posterior, [other], positive=3, negative=1, padding=0.1, dense=True
        )
        if full is None:
            assert fast is None
            continue
        for name in ("points", "point_labels", "box", "mask"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(full, name))


def test_a_colour_table_is_read_at_each_pixels_bin():
    image = np.random.default_rng(3).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    colours = ColourIndex(image, 8)
    table = np.random.default_rng(4).random(colours.size).astype(np.float32)
    for box in [(0, 0, WIDTH, HEIGHT), (3, 2, 50, 31), (1, 1, 2, 2)]:
        np.testing.assert_array_equal(colours.region(*box, table), table[colours.region(*box)])
