"""An object moving as one piece is carried by one similarity, and only then.

Each scene is a textured object over a textured still background; its next frame is drawn
with a known motion, so the expected transform and the expected mask are exact.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.results import mask_iou
from segany_video.tracking.boxes import tight_box
from segany_video.tracking.motion import FlowEstimator, FlowField
from segany_video.tracking.rigid import rigid_warp, similarity

H, W = 160, 220


def texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (H, W, 3)).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.5)


def rotation(degrees: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    """A similarity about the object's centre (110, 80), then ``shift``."""
    transform = cv2.getRotationMatrix2D((110.0, 80.0), degrees, scale)
    transform[:, 2] += shift
    return transform


def scene(transform: np.ndarray, object_texture: np.ndarray | None = None):
    """(previous, current) RGB frames and masks of an ellipse moved by ``transform``."""
    background = texture(1)
    body = texture(2) if object_texture is None else object_texture
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, (110, 80), (45, 30), 20, 0, 360, 1, -1)
    size = (W, H)
    moved_mask = cv2.warpAffine(mask, transform, size, flags=cv2.INTER_NEAREST)
    moved_body = cv2.warpAffine(body, transform, size, flags=cv2.INTER_LINEAR)
    previous, current = background.copy(), background.copy()
    previous[mask > 0] = body[mask > 0]
    current[moved_mask > 0] = moved_body[moved_mask > 0]
    return previous, current, mask > 0, moved_mask > 0


def grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def flow_between(previous: np.ndarray, current: np.ndarray):
    estimator = FlowEstimator(0.5, "medium", 0)
    estimator.next_frame(previous)
    field = estimator.next_frame(current)
    assert field is not None
    return field


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(mask_iou(a, b))


def test_similarity_recovers_the_objects_motion():
    expected = rotation(4.0, 1.05, (7.0, -4.0))
    previous, current, mask, _ = scene(expected)
    box = tight_box(mask)
    found = similarity(grey(previous), grey(current), mask, box, reach=20)
    assert found is not None
    corners = np.array([[65, 50, 1], [155, 50, 1], [65, 110, 1], [155, 110, 1]], np.float64)
    assert np.abs(corners @ found.T - corners @ expected.T).max() < 1.0


def test_a_rigid_object_is_carried_by_its_similarity_more_exactly_than_by_the_flow():
    previous, current, mask, moved = scene(rotation(3.0, 1.03, (8.0, 4.0)))
    flow = flow_between(previous, current)
    box = tight_box(mask)
    assert box is not None
    warped, support = flow.warp(mask, box), flow.landing(box)
    rigid = rigid_warp(grey(previous), grey(current), mask, box, flow, warped, support)
    assert rigid is not None
    carried = rigid.soft > 0.5
    assert iou(carried, moved) > 0.97
    assert iou(carried, moved) > iou(warped > 0.5, moved)
    # Nothing outside its box.
    x0, y0, x1, y1 = rigid.box
    assert not carried[:y0].any() and not carried[y1:].any()
    assert not carried[:, :x0].any() and not carried[:, x1:].any()


def test_a_body_whose_halves_move_apart_keeps_the_flow():
    previous, _, mask, _ = scene(rotation(0.0, 1.0, (0.0, 0.0)))
    # The left half moves 6 px left and the right half 6 px right: no one transform fits.
    left = mask.copy()
    left[:, 110:] = False
    right = mask & ~left
    current = texture(1)
    for part, dx in ((left, -6), (right, 6)):
        moved_part = np.roll(part, dx, axis=1)
        current[moved_part] = np.roll(previous, dx, axis=1)[moved_part]
    flow = flow_between(previous, current)
    box = tight_box(mask)
    assert box is not None
    warped, support = flow.warp(mask, box), flow.landing(box)
    assert rigid_warp(grey(previous), grey(current), mask, box, flow, warped, support) is None


def test_nothing_to_track_gives_no_similarity():
    blank = np.full((H, W), 128, np.uint8)
    _, _, mask, _ = scene(rotation(0.0, 1.0, (5.0, 0.0)))
    assert similarity(blank, blank, mask, tight_box(mask), reach=20) is None


def test_the_flow_pulls_the_previous_frame_from_where_each_pixel_came():
    image = grey(texture(3))
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0  # every pixel was 3 px right and 2 px up
    pulled = FlowField(flow, (H, W)).sample_previous(image, (20, 30, 120, 90))
    np.testing.assert_array_equal(pulled, image[28:88, 23:123])


def test_the_flow_from_a_grey_made_once_is_the_flow_from_the_image() -> None:
    # The propagator makes each frame's grey once, for the similarity and the flow alike.
    previous, current, _, _ = scene(rotation(0.0, 1.0, (6.0, 0.0)))
    fields = []
    for given in (False, True):
        estimator = FlowEstimator(0.5, "medium", 0)
        for image in (previous, current):
            field = estimator.next_frame(image, grey(image) if given else None)
        assert field is not None
        fields.append(field.flow)
    assert np.array_equal(fields[0], fields[1])
