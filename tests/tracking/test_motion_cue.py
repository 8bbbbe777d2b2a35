"""Motion as evidence: background-moving pixels around a moving object count against it."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.tracking.appearance import ColourIndex
from segany_video.tracking.motion import FlowField
from segany_video.tracking.motion_cue import (
    MotionCue,
    PartMotion,
    motion_against_ring,
    object_motion,
)
from segany_video.tracking.prompt_builder import colour_posterior
from segany_video.tracking.reach import drop_detached

SIZE = (80, 120)


def _field(object_shift: float, ground_shift: float) -> tuple[FlowField, np.ndarray]:
    """Full-resolution backward flow: a square moving by ``object_shift`` px in x over ground
    moving by ``ground_shift``; returns the field and the square's mask."""
    mask = np.zeros(SIZE, dtype=bool)
    mask[30:50, 40:60] = True
    flow = np.zeros((*SIZE, 2), dtype=np.float32)
    flow[..., 0] = -ground_shift
    flow[mask, 0] = -object_shift
    return FlowField(flow, SIZE), mask


def test_ground_moving_pixels_are_background_and_object_moving_ones_neutral():
    field, mask = _field(object_shift=8.0, ground_shift=0.0)
    cue = MotionCue(field, confidence=0.9, sigma=1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    assert cue is not None
    # Separation 8 px >= 4 sigma: full strength; ground flow equals the ring's exactly.
    assert cue[5, 5] == pytest.approx(0.1, abs=1e-4)
    # The object's flow is 8 px from the ground's, with spread max(1.5, 8 / 4) = 2.
    assert cue[40, 50] == pytest.approx(0.5 - 0.4 * np.exp(-64 / 8), abs=1e-5)
    assert cue.min() >= 0.1 - 1e-6 and cue.max() <= 0.5 + 1e-6


def test_a_panning_camera_is_the_background_motion():
    # The camera follows the object: the object is still, the ground sweeps by.
    field, mask = _field(object_shift=0.0, ground_shift=-10.0)
    cue = MotionCue(field, confidence=0.9, sigma=1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    assert cue is not None
    assert cue[5, 5] == pytest.approx(0.1, abs=1e-4)
    assert cue[40, 50] == pytest.approx(0.5 - 0.4 * np.exp(-100 / 12.5), abs=1e-5)


def test_no_evidence_when_object_and_surroundings_move_alike():
    field, mask = _field(object_shift=2.0, ground_shift=0.0)  # under 2 sigma apart
    assert MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask) is None
    field, mask = _field(object_shift=5.0, ground_shift=5.0)
    assert MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask) is None


def test_strength_ramps_between_two_and_four_sigma():
    field, mask = _field(object_shift=4.5, ground_shift=0.0)  # 3 sigma: half strength
    cue = MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    assert cue is not None
    assert cue[5, 5] == pytest.approx(0.5 - 0.4 * 0.5, abs=1e-4)


def test_crop_coordinates_follow_the_frame():
    field, mask = _field(object_shift=8.0, ground_shift=0.0)
    full = MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    crop = MotionCue(field, 0.9, 1.5).region(20, 10, 100, 70, mask[10:70, 20:100])
    assert full is not None and crop is not None
    np.testing.assert_allclose(crop, full[10:70, 20:100], atol=1e-5)


def _beside_another(other_flow: tuple[float, float]) -> tuple[FlowField, np.ndarray, np.ndarray]:
    """The square of :func:`_field` moving 8 px right over still ground (backward flow
    ``(-8, 0)``), with a second object right of it whose backward flow is ``other_flow``;
    returns the field, the square and the other."""
    field, mask = _field(object_shift=8.0, ground_shift=0.0)
    other = np.zeros(SIZE, dtype=bool)
    other[25:55, 70:95] = True
    field.flow[other] = other_flow
    return field, mask, other


def test_pixels_moving_as_a_nearby_object_count_against_this_one():
    field, mask, _ = _beside_another((0.0, 10.0))
    motion = np.array([0.0, 10.0], dtype=np.float32)  # its flow, as object_motion reads it
    alone = MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    beside = MotionCue(field, 0.9, 1.5, [(motion, (70, 25, 95, 55))])
    cue = beside.region(0, 0, SIZE[1], SIZE[0], mask)
    assert alone is not None and cue is not None
    # Deep inside the other object: neutral alone (it moves unlike the ground), background
    # beside it (it moves exactly as the other object does, 12.8 px from this one).
    assert alone[40, 82] == pytest.approx(0.5, abs=0.01)
    assert cue[40, 82] == pytest.approx(0.1, abs=1e-4)
    # The ground and the square itself are read as before.
    assert cue[5, 5] == pytest.approx(alone[5, 5], abs=1e-6)
    np.testing.assert_allclose(cue[32:48, 42:58], alone[32:48, 42:58], atol=1e-6)


def test_another_object_speaks_only_where_it_is_near_and_moves_unlike_this_one():
    field, mask, _ = _beside_another((0.0, 10.0))
    motion = np.array([0.0, 10.0], dtype=np.float32)
    alone = MotionCue(field, 0.9, 1.5).region(0, 0, 65, SIZE[0], mask[:, :65])
    # A crop that does not reach the other object's box.
    far = MotionCue(field, 0.9, 1.5, [(motion, (70, 25, 95, 55))])
    np.testing.assert_array_equal(far.region(0, 0, 65, SIZE[0], mask[:, :65]), alone)
    # An object moving as this one does (within 2 sigma) tells nothing apart.
    field, mask, _ = _beside_another((-8.5, 0.0))
    same = np.array([-8.5, 0.0], dtype=np.float32)
    alone = MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask)
    together = MotionCue(field, 0.9, 1.5, [(same, (70, 25, 95, 55))])
    np.testing.assert_array_equal(together.region(0, 0, SIZE[1], SIZE[0], mask), alone)


def test_another_object_speaks_even_when_this_one_moves_as_the_ground():
    field, mask, _ = _beside_another((0.0, 10.0))
    field.flow[mask] = 0.0  # the square now rests on the ground
    assert MotionCue(field, 0.9, 1.5).region(0, 0, SIZE[1], SIZE[0], mask) is None
    motion = np.array([0.0, 10.0], dtype=np.float32)
    cue = MotionCue(field, 0.9, 1.5, [(motion, (70, 25, 95, 55))])
    out = cue.region(0, 0, SIZE[1], SIZE[0], mask)
    assert out is not None
    assert out[40, 82] == pytest.approx(0.1, abs=1e-4)
    assert out[5, 5] == pytest.approx(0.5, abs=1e-3)  # but for the Gaussian's far tail


def test_object_motion_is_the_median_flow_over_the_mask():
    field, mask, other = _beside_another((0.0, 10.0))
    np.testing.assert_allclose(object_motion(field, other, (70, 25, 95, 55)), [0.0, 10.0])
    np.testing.assert_allclose(object_motion(field, mask, (40, 30, 60, 50)), [-8.0, 0.0])
    assert object_motion(field, np.zeros(SIZE, dtype=bool), None) is None


def test_motion_against_the_ring_is_the_object_flow_furthest_from_the_ground():
    field, mask = _field(object_shift=6.0, ground_shift=-2.0)
    box = (40, 30, 60, 50)
    assert motion_against_ring(field, mask, box) == pytest.approx(8.0)
    # A limb moving faster than the body: its flow is what the 98th percentile reads.
    flow = field.flow.copy()
    flow[30:50, 55:60, 0] = -14.0
    limb = motion_against_ring(FlowField(flow, SIZE), mask, box)
    assert limb == pytest.approx(16.0)
    still, _ = _field(object_shift=3.0, ground_shift=3.0)
    assert motion_against_ring(still, mask, box) == pytest.approx(0.0)
    # Surroundings too small to measure (the object fills the frame), or no box: unknown.
    whole = np.ones(SIZE, dtype=bool)
    assert motion_against_ring(field, whole, (0, 0, SIZE[1], SIZE[0])) is None
    assert motion_against_ring(field, mask, None) is None


def test_posterior_lowers_every_pixel_moving_as_the_ground_inside_the_warped_mask_too():
    field, mask = _field(object_shift=8.0, ground_shift=0.0)
    # Ground taken into the mask on an earlier frame now rides on the ground's motion.
    field.flow[40:50, 40:44] = 0.0
    image = np.full((*SIZE, 3), 120, dtype=np.uint8)
    colours = ColourIndex(image, 8)
    odds = np.full(8**3, 0.5, dtype=np.float32)  # colour says nothing
    warped = mask.astype(np.float32)
    plain = colour_posterior(warped, odds, colours, blur=0.2)
    cue = MotionCue(field, 0.9, 1.5)
    moved = colour_posterior(warped, odds, colours, blur=0.2, motion=cue)

    def lowered(p: float) -> float:
        return p * 0.1 / (p * 0.1 + (1 - p) * 0.9)

    # Deep in the ground patch (low-res cells that are all ground) the full odds factor
    # 0.1 / 0.9 applies, as it does just outside the square where the prior is uncertain.
    for y, x in ((45, 42), (40, 61)):
        assert 0.05 < plain[y, x] < 1.0
        assert moved[y, x] == pytest.approx(lowered(plain[y, x]), rel=1e-3)
    # Pixels moving with the object keep their posterior (but for the Gaussian's far tail).
    np.testing.assert_allclose(moved[31:38, 48:58], plain[31:38, 48:58], rtol=1e-3)


def _split_object(part_shift: float, object_shift: float = 8.0, ground_shift: float = 0.0):
    """A body and a part 30 px to its right (an occluder between them), over moving ground;
    returns the flow field, the body, the part, and the mask of both."""
    body = np.zeros(SIZE, dtype=bool)
    body[25:55, 20:50] = True
    part = np.zeros(SIZE, dtype=bool)
    part[30:45, 80:90] = True
    flow = np.zeros((*SIZE, 2), dtype=np.float32)
    flow[..., 0] = -ground_shift
    flow[body, 0] = -object_shift
    flow[part, 0] = -part_shift
    return FlowField(flow, SIZE), body, part, body | part


@pytest.mark.parametrize(
    ("part_shift", "object_shift", "ground_shift", "kept"),
    [
        (8.0, 8.0, 0.0, True),  # moves with the body: split off by an occluder
        (0.0, 8.0, 0.0, False),  # moves with the ground: a broken-off leak
        (-10.0, 0.0, -10.0, False),  # a panning camera: the ground's motion again
        (0.0, 0.0, -10.0, True),
        (2.0, 2.0, 0.0, False),  # body and ground alike: motion vouches for nothing
    ],
)
def test_a_far_part_is_kept_only_when_it_moves_with_the_body(
    part_shift, object_shift, ground_shift, kept
):
    field, body, part, mask = _split_object(part_shift, object_shift, ground_shift)
    parts = PartMotion(field, sigma=1.5)
    # 30 px apart against a body of sqrt(area) 30: far beyond a gap of 0.1.
    out = drop_detached(mask, gap=0.1, motion=parts)
    assert out[body].all()
    assert out[part].all() == kept and out[part].any() == kept
    assert np.array_equal(drop_detached(mask, gap=0.1), body)


def test_part_motion_reads_the_crop_at_its_place_in_the_frame():
    field, body, part, _ = _split_object(8.0)
    parts = PartMotion(field, sigma=1.5)
    box = (15, 20, 95, 60)
    labels = np.zeros((40, 80), dtype=np.int32)
    labels[body[20:60, 15:95]] = 1
    labels[part[20:60, 15:95]] = 2
    assert parts(labels, 1, box).tolist() == [0, 0, PartMotion.WITH_BODY]
    # Shifted by one cell the part's label would fall on the ground's flow.
    moved = np.roll(labels, 12, axis=1)
    assert parts(moved, 1, box).tolist() == [0, 0, PartMotion.WITH_SURROUNDINGS]


@pytest.mark.parametrize(
    ("part_shift", "kept"),
    [
        (0.0, False),  # rides on the ground: a leak kept within the gap once
        (4.0, True),  # halfway between body and ground: motion cannot tell
        (8.0, True),  # moves with the body
    ],
)
def test_a_part_kept_apart_last_frame_is_dropped_when_it_moves_with_the_ground(part_shift, kept):
    size = (160, 240)
    body = np.zeros(size, dtype=bool)
    body[30:130, 20:120] = True  # sqrt(area) 100: gap 10 px, 12 px for a part kept apart
    part = np.zeros(size, dtype=bool)
    part[30:130, 131:150] = True  # 11 px from the body
    before = body.copy()
    before[30:130, 129:150] = True  # last frame 9 px away: kept apart then
    flow = np.zeros((*size, 2), dtype=np.float32)
    flow[body, 0] = -8.0
    flow[part, 0] = -part_shift
    parts = PartMotion(FlowField(flow, size), sigma=1.5)
    out = drop_detached(body | part, gap=0.1, motion=parts, previous=before)
    assert out[body].all()
    assert out[part].all() == kept and out[part].any() == kept
