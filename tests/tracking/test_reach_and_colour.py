"""Leak control of followed masks (reach, detached parts, colour prior floor, colour evidence
of an object found again, what the colour model learns) and the crop-only fast paths (flow
warp, colour bins, overlaps) against full-frame references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from segany_video.tracking.appearance import Appearance, ColourIndex, half_lab
from segany_video.tracking.motion import FlowEstimator, FlowField
from segany_video.tracking.overlaps import resolve_overlaps
from segany_video.tracking.prompt_builder import (
    REGROWING_FLOOR,
    STEADY_FLOOR,
    colour_posterior,
)
from segany_video.tracking.reach import drop_detached, within_reach
from segany_video.tracking.track import Track


def rect(h: int, w: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_detached_far_part_is_dropped_and_near_part_kept():
    body = rect(200, 300, 50, 50, 150, 150)  # 100x100: sqrt(area) = 100
    near = rect(200, 300, 155, 60, 165, 70)  # 5 px away
    far = rect(200, 300, 250, 20, 280, 50)  # 100 px away
    out = drop_detached(body | near | far, gap=0.1)
    assert out[body].all() and out[near].all()
    assert not out[far].any()
    assert out.sum() == body.sum() + near.sum()


def test_a_part_kept_apart_last_frame_stays_while_its_gap_grows_slowly():
    # Body 100x100 (gap limit 10 px). Last frame a post split off a strip 9 px away; now the
    # post's edge shaved it: 11 px away. It was kept apart already, so it stays.
    body = rect(200, 300, 50, 50, 150, 150)
    before = body | rect(200, 300, 159, 50, 175, 150)
    strip = rect(200, 300, 161, 50, 175, 150)
    out = drop_detached(body | strip, gap=0.1, previous=before)
    assert out[strip].all()
    # Without last frame, or with last frame's strip still joined to the body, the rule is
    # today's: 11 px is beyond the gap.
    assert not drop_detached(body | strip, gap=0.1)[strip].any()
    joined = body | rect(200, 300, 150, 50, 175, 150)
    assert not drop_detached(body | strip, gap=0.1, previous=joined)[strip].any()


def test_a_part_kept_apart_last_frame_is_dropped_when_its_gap_jumps():
    before = rect(200, 300, 50, 50, 150, 150) | rect(200, 300, 159, 50, 175, 150)
    # On last frame's strip, but the body's edge fell back 20 px: the gap jumped 9 -> 31 px.
    body = rect(200, 300, 50, 40, 130, 160)  # about the same area as before
    strip = rect(200, 300, 161, 50, 175, 150)
    assert not drop_detached(body | strip, gap=0.1, previous=before)[strip].any()
    # 11 px away but mostly off last frame's strip: a new blob, judged as today.
    moved = rect(200, 300, 161, 50, 200, 150)
    assert not drop_detached(rect(200, 300, 50, 50, 150, 150) | moved, 0.1, previous=before)[
        moved
    ].any()


def test_a_part_kept_apart_by_an_occluder_wider_than_the_gap_stays_while_its_gap_holds():
    # Body 100x100 (gap limit 10 px). A 30 px post kept a strip apart last frame (31 px from
    # the body); its edge shaved 2 px off (33 px): it stays. 3 px (34 px) is more than a
    # quarter of the gap further: a part left behind, dropped; so is one 10 px further.
    body = rect(200, 300, 50, 50, 150, 150)
    before = body | rect(200, 300, 180, 50, 200, 150)
    shaved = rect(200, 300, 182, 50, 200, 150)
    assert drop_detached(body | shaved, gap=0.1, previous=before)[shaved].all()
    for x0 in (183, 190):
        behind = rect(200, 300, x0, 50, 200, 150)
        assert not drop_detached(body | behind, gap=0.1, previous=before)[behind].any()
    # Without last frame it is the gap's rule: 33 px is too far.
    assert not drop_detached(body | shaved, gap=0.1)[shaved].any()


def test_a_part_on_lost_pixels_offered_back_is_kept_at_any_distance():
    # A 30 px post hid the strip; its pixels were offered back this frame (in last frame's
    # moved mask as returning parts). The same strip without that is a blob beyond the gap.
    body = rect(200, 300, 50, 50, 150, 150)
    strip = rect(200, 300, 180, 50, 200, 150)
    previous = body | strip
    out = drop_detached(body | strip, gap=0.1, previous=previous, returning=strip)
    assert out[strip].all()
    assert not drop_detached(body | strip, gap=0.1, previous=body)[strip].any()
    # Mostly off the returning pixels: a new blob, judged by the gap.
    wide = rect(200, 300, 180, 0, 200, 200)
    out = drop_detached(body | wide, gap=0.1, previous=previous, returning=strip)
    assert not out[wide].any()


def test_a_part_stays_when_a_passing_occluder_makes_the_other_side_the_body():
    # A 20 px post crosses a still 40 x 100 object left to right: last frame the right part was
    # the larger (the body), now the left one is, 20 px from it as before. Neither is a leak.
    left_before, right_before = rect(200, 300, 50, 50, 95, 150), rect(200, 300, 115, 50, 150, 150)
    left, right = rect(200, 300, 50, 50, 100, 150), rect(200, 300, 120, 50, 150, 150)
    before = left_before | right_before
    out = drop_detached(left | right, gap=0.1, previous=before)
    assert out[left].all() and out[right].all()
    # With no last frame the smaller part is beyond the gap (0.1 x sqrt(5000) = 7 px).
    assert not drop_detached(left | right, gap=0.1)[right].any()


@pytest.mark.parametrize("gap", [0.0, 0.1])
def test_single_part_or_disabled_rule_keeps_the_mask(gap):
    mask = rect(50, 50, 10, 10, 20, 20) | rect(50, 50, 40, 40, 45, 45)
    single = rect(50, 50, 10, 10, 20, 20)
    assert np.array_equal(drop_detached(single, gap), single)
    if gap == 0.0:
        assert np.array_equal(drop_detached(mask, gap), mask)
    assert not drop_detached(np.zeros((5, 5), bool), 0.1).any()


def test_within_reach_cuts_growth_beyond_motion():
    expected = rect(100, 100, 40, 40, 60, 60)  # sqrt(area) = 20 -> reach 3 px at 0.15
    grown = rect(100, 100, 30, 40, 60, 60)
    out = within_reach(grown, expected, 0.15)
    assert out[:, 37:].sum() == grown[:, 37:].sum()
    assert not out[:, :36].any()


def test_colour_prior_floor_keeps_look_alike_background_out_of_a_steady_object():
    h, w = 120, 200
    warped = rect(h, w, 80, 40, 120, 80).astype(np.float32)
    image = np.zeros((h, w, 3), np.uint8)
    image[40:80, 80:120] = (200, 30, 30)  # the object: red
    image[40:80, 140:160] = (200, 30, 30)  # a red patch 20 px away (within the blur's reach)
    colours = ColourIndex(image, 8)
    odds = np.full(colours.size, 0.1, np.float32)
    odds[colours.at(np.array([50]), np.array([100]))[0]] = 0.99  # red is the object's colour
    steady = colour_posterior(warped, odds, colours, 0.2, STEADY_FLOOR) > 0.5
    regrowing = colour_posterior(warped, odds, colours, 0.2, REGROWING_FLOOR) > 0.5
    assert steady[50:70, 90:110].all()
    assert not steady[:, 140:160].any()
    # An object coming back into view may grow onto its colours near its mask.
    assert regrowing[45:75, 140:145].any()


def scene(*patches: tuple[tuple[int, int, int, int], tuple[int, int, int]]) -> np.ndarray:
    """A 120x200 RGB image: brown ground with ``((x0, y0, x1, y1), colour)`` patches."""
    image = np.full((120, 200, 3), (120, 90, 60), np.uint8)
    for (x0, y0, x1, y1), colour in patches:
        image[y0:y1, x0:x1] = colour
    return image


PINK, GREY, BLUE = (220, 60, 200), (160, 160, 160), (40, 80, 220)


def test_an_object_found_again_learns_only_the_colours_its_keyframe_left_undecided():
    # Keyframe: a pink object on brown ground. Found again on grey ground, half hidden behind
    # a blue occluder, its mask short of its visible part: the band around the mask holds the
    # grey ground, the occluder and the rest of the object.
    keyframe = ColourIndex(scene(((80, 40, 120, 80), PINK)), 16)
    odds = Appearance.anchor_odds(keyframe, rect(120, 200, 80, 40, 120, 80))
    found = scene(((0, 0, 200, 120), GREY), ((40, 40, 80, 80), PINK), ((80, 30, 110, 90), BLUE))
    later = ColourIndex(found, 16)
    kept = odds.copy()
    settled = Appearance.anchor_odds_found_again(odds, later, rect(120, 200, 40, 40, 70, 80))

    def at(x: int, y: int, table: np.ndarray) -> float:
        return float(table[later.at(np.array([y]), np.array([x]))[0]])

    assert at(75, 50, odds) == at(75, 50, settled) > 0.9  # pink, even outside the mask
    assert at(10, 10, odds) == 0.5 and at(10, 10, settled) < 0.01  # grey: now background
    assert at(85, 50, odds) == 0.5 and at(85, 50, settled) < 0.01  # the occluder too
    assert 0.5 in settled  # colours seen nowhere yet stay undecided
    assert np.array_equal(odds, kept)


def test_the_colour_model_learns_only_from_masks_in_the_objects_colours():
    object_mask = rect(120, 200, 80, 40, 120, 80)
    colours = ColourIndex(scene(((80, 40, 120, 80), PINK)), 8)
    track = Track(1)
    appearance = Appearance.measure(colours, object_mask)
    track.seed(object_mask, 1.0, appearance, np.zeros(colours.size, np.float32))
    keyframe = track.appearance.foreground.copy()
    # A mask of the same size and score that slid off onto the ground beside the object.
    slid = rect(120, 200, 110, 40, 150, 80)
    track.follow(slid, 0.9, Appearance.measure(colours, slid), rate=0.5, colour_gate=0.45)
    assert np.array_equal(track.appearance.foreground, keyframe)
    # One on the object with a sliver of ground is learnt.
    wider = rect(120, 200, 80, 40, 124, 80)
    track.follow(wider, 0.9, Appearance.measure(colours, wider), rate=0.5, colour_gate=0.45)
    assert not np.array_equal(track.appearance.foreground, keyframe)


@pytest.mark.parametrize("box", [(0, 0, 7, 5), (3, 2, 50, 31), (1, 1, 2, 2), (10, 20, 64, 48)])
def test_colour_region_matches_the_full_size_bins(box):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 63, 3), dtype=np.uint8)  # odd width: edge blocks
    colours = ColourIndex(image, 8)
    height, width = image.shape[:2]
    full = np.repeat(np.repeat(colours.coarse_bins, 2, 0), 2, 1)[:height, :width]
    x0, y0, x1, y1 = box
    x1, y1 = min(x1, width), min(y1, height)
    np.testing.assert_array_equal(colours.region(x0, y0, x1, y1), full[y0:y1, x0:x1])
    ys, xs = np.nonzero(rng.random((height, width)) < 0.1)
    np.testing.assert_array_equal(colours.at(ys, xs), full[ys, xs])


@pytest.mark.parametrize("n_bins", [2, 5, 8, 16, 32])
def test_colour_bins_are_the_joint_lab_levels(n_bins):
    image = np.random.default_rng(n_bins).integers(0, 256, (48, 63, 3), dtype=np.uint8)
    lab = half_lab(image)
    levels = (lab.astype(np.int64) * n_bins) >> 8
    expected = (levels[..., 0] * n_bins + levels[..., 1]) * n_bins + levels[..., 2]
    np.testing.assert_array_equal(ColourIndex(image, n_bins).coarse_bins, expected)


def test_warp_in_a_crop_equals_a_full_frame_remap():
    rng = np.random.default_rng(1)
    full_h, full_w = 90, 160
    flow = rng.normal(0.0, 2.0, (32, 56, 2)).astype(np.float32)  # low-res field, rough
    field = FlowField(flow, (full_h, full_w))
    mask = rect(full_h, full_w, 50, 30, 90, 60)
    up = cv2.resize(flow, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
    grid_x, grid_y = np.meshgrid(
        np.arange(full_w, dtype=np.float32), np.arange(full_h, dtype=np.float32)
    )
    reference = cv2.remap(
        mask.astype(np.float32),
        grid_x + up[..., 0] * np.float32(full_w / 56),
        grid_y + up[..., 1] * np.float32(full_h / 32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
    )
    np.testing.assert_allclose(field.warp(mask), reference, atol=1e-4)


def test_overlaps_resolved_only_where_boxes_meet_match_a_full_scan():
    a = rect(60, 80, 10, 10, 40, 40)
    b = rect(60, 80, 30, 30, 60, 50)
    c = rect(60, 80, 65, 5, 75, 15)  # overlaps nobody
    out = resolve_overlaps([a, b, None, c], [0.9, 0.5, 0.0, 0.3])
    assert out[2] is None
    assert np.array_equal(out[0], a)  # higher score keeps the shared pixels
    assert np.array_equal(out[1], b & ~a)
    assert np.array_equal(out[3], c)
    assert not (out[0] & out[1]).any()


@pytest.mark.parametrize(
    ("size", "scale", "min_side", "expected"),
    [
        ((480, 854), 0.35, 64, 0.35),  # large frames: the scale as set
        ((128, 192), 0.35, 64, 0.5),  # small frames keep 64 px on the shorter side
        ((40, 60), 0.35, 64, 1.0),  # never upscaled
        ((128, 192), 0.35, 0, 0.35),
    ],
)
def test_flow_resolution_keeps_a_minimum_side(size, scale, min_side, expected):
    estimator = FlowEstimator(scale, "medium", min_side)
    assert estimator.scale_for(size) == pytest.approx(expected)
    image = np.zeros((*size, 3), np.uint8)
    estimator.next_frame(image)
    field = estimator.next_frame(image)
    assert field is not None
    assert min(field.flow.shape[:2]) == max(8, round(min(size) * expected))
