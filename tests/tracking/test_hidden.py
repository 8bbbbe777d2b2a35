"""Parts out of sight: carried with the body, claimed back when they move with it again."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from segany_video.models.classic import build_classic
from segany_video.results import mask_iou
from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.hidden import VISIBLE, BodyMotion, after_frame, carry, shift
from segany_video.tracking.motion import FlowField
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.settings import TrackerSettings

SIZE = (80, 160)


@pytest.mark.parametrize(("dx", "dy"), [(3, 0), (-4, 2), (0, -5), (200, 0)])
def test_shift_moves_pixels_and_fills_with_zero(dx, dy):
    image = np.arange(SIZE[0] * SIZE[1], dtype=np.int64).reshape(SIZE) + 1
    out = shift(image, dx, dy)
    for y in range(SIZE[0]):
        for x in range(SIZE[1]):
            sy, sx = y - dy, x - dx
            inside = 0 <= sy < SIZE[0] and 0 <= sx < SIZE[1]
            assert out[y, x] == (image[sy, sx] if inside else 0)


def _scene(body_shift: float, ground_shift: float, part_shift: float):
    """Backward flow at full resolution: a body (x 20-50) moving ``body_shift`` px per frame in
    x, a separate region (x 100-130) moving ``part_shift``, ground moving ``ground_shift``."""
    flow = np.zeros((*SIZE, 2), dtype=np.float32)
    flow[..., 0] = -ground_shift
    body = np.zeros(SIZE, dtype=bool)
    body[30:50, 20:50] = True
    part = np.zeros(SIZE, dtype=bool)
    part[30:50, 100:130] = True
    flow[body, 0] = -body_shift
    flow[part, 0] = -part_shift
    return FlowField(flow, SIZE), body, part


def test_body_motion_is_the_median_flow_against_the_surroundings():
    field, body, _ = _scene(body_shift=6.0, ground_shift=-2.0, part_shift=0.0)
    motion = BodyMotion(field, body, (20, 30, 50, 50), sigma=1.5)
    assert motion.step == (6, 0)
    assert motion.separation == pytest.approx(8.0)
    assert np.array_equal(motion.moving_with(np.ones(SIZE, bool)), body)
    # Alike motions (within twice the flow noise) tell no pixel apart.
    field, body, _ = _scene(body_shift=2.0, ground_shift=0.0, part_shift=2.0)
    alike = BodyMotion(field, body, (20, 30, 50, 50), sigma=1.5)
    assert alike.step == (2, 0) and alike.separation == 0.0
    # ... so every pixel may be the object's: none is ruled out on motion.
    assert alike.moving_with(np.ones(SIZE, bool)).all()


def _ages_with_lost_part(lost_age: int) -> np.ndarray:
    """Last frame's age map: the body visible, the far region lost ``lost_age`` frames ago,
    both one body-step (6 px) to the left of where they are now."""
    ages = np.zeros(SIZE, dtype=np.uint8)
    ages[30:50, 14:44] = VISIBLE
    ages[30:50, 94:124] = VISIBLE + lost_age
    return ages


@pytest.mark.parametrize(
    ("part_shift", "ground_shift", "claimed"),
    [
        (6.0, 0.0, True),
        (0.0, 0.0, False),
        # Body and ground move alike: motion cannot rule the part out, colour will judge it.
        (0.0, 6.0, True),
    ],
)
def test_a_lost_part_is_carried_with_the_body_and_claimed_when_it_moves_with_it(
    part_shift, ground_shift, claimed
):
    field, body, part = _scene(body_shift=6.0, ground_shift=ground_shift, part_shift=part_shift)
    motion = BodyMotion(field, body, (20, 30, 50, 50), sigma=1.5)
    carried, back = carry(_ages_with_lost_part(3), motion, body, reference_area=1200.0)
    # Moved one step and one frame older; the visible mask's pixels too (they are lost unless
    # this frame's mask holds them again).
    assert np.array_equal(carried[part], np.full(part.sum(), VISIBLE + 4, np.uint8))
    assert np.array_equal(carried[body], np.full(body.sum(), VISIBLE + 1, np.uint8))
    assert (carried > 0).sum() == body.sum() + part.sum()
    assert np.array_equal(back, part if claimed else np.zeros(SIZE, bool))


def test_a_part_lost_longer_than_the_object_takes_to_move_its_size_is_dropped():
    field, body, part = _scene(body_shift=6.0, ground_shift=0.0, part_shift=6.0)
    motion = BodyMotion(field, body, (20, 30, 50, 50), sigma=1.5)
    # sqrt(1200) / 6 px per frame: 5 frames.
    carried, back = carry(_ages_with_lost_part(4), motion, body, reference_area=1200.0)
    assert back[part].all()
    carried, back = carry(_ages_with_lost_part(5), motion, body, reference_area=1200.0)
    assert not carried[part].any() and not back.any()


def test_pixels_next_to_the_body_are_not_claimed_on_its_smeared_motion():
    field, body, _ = _scene(body_shift=6.0, ground_shift=0.0, part_shift=0.0)
    flow = field.flow.copy()
    flow[30:50, 50:60, 0] = -6.0  # the body's motion smeared 10 px over its right side
    field = FlowField(flow, SIZE)
    motion = BodyMotion(field, body, (20, 30, 50, 50), sigma=1.5)
    ages = np.zeros(SIZE, dtype=np.uint8)
    ages[30:50, 44:54] = VISIBLE + 1  # lost just right of the body, 10 px wide
    _, back = carry(ages, motion, body, reference_area=1200.0)
    # At full resolution the smear reaches 2 flow cells = 2 px: the 8 px beyond are claimed.
    assert not back[:, 50:52].any() and back[30:50, 52:60].all()


def test_after_the_frame_the_new_mask_is_visible_and_the_rest_stays_lost():
    carried = np.zeros(SIZE, dtype=np.uint8)
    carried[10:20, 10:30] = 3
    mask = np.zeros(SIZE, dtype=bool)
    mask[10:20, 20:40] = True
    out = after_frame(carried, mask)
    assert (out[mask] == VISIBLE).all()
    assert (out[10:20, 10:20] == 3).all()
    assert out.sum() == 3 * 100 + VISIBLE * 200
    assert np.array_equal(after_frame(None, mask), mask.astype(np.uint8) * VISIBLE)


def _post_scene(index: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` of a textured 120 x 40 object moving 8 px a frame to the right over
    still textured ground, behind a 12 px wide post; returns the image and the visible truth."""
    rng = np.random.default_rng(0)
    ground = cv2.GaussianBlur(rng.normal(0.0, 1.0, (128, 320, 3)), (0, 0), 3) * 120 + 90
    skin = cv2.GaussianBlur(rng.normal(0.0, 1.0, (40, 120, 3)), (0, 0), 2) * 150
    image, truth = np.clip(ground, 0, 255), np.zeros((128, 320), dtype=bool)
    x0 = 10 + 8 * index
    image[44:84, x0 : x0 + 120] = np.clip(skin + np.array([200, 60, 40]), 0, 255)
    truth[44:84, x0 : x0 + 120] = True
    image[:, 150:162] = (40, 60, 200)
    truth[:, 150:162] = False
    return image.astype(np.uint8), truth


@pytest.mark.parametrize("hidden_prior", [0.0, 0.9])
def test_an_object_is_followed_across_a_post_only_with_its_lost_parts_kept(hidden_prior):
    """Without the memory the part coming out beyond the post is never proposed: the mask
    stays on the near side and shrinks to nothing as the object moves past it."""
    model = build_classic()
    frames = [_post_scene(i) for i in range(24)]
    keyframe = ResolvedKeyframe(0, None, None, None, frames[0][1])
    settings = replace(TrackerSettings(), hidden_prior=hidden_prior)
    propagator = Propagator(model, [1], {0: [(0, keyframe)]}, settings)
    triples = ((i, i / 25, image) for i, (image, _) in enumerate(frames))
    ious = [
        mask_iou(propagator.step(encoded)[0].mask, truth)
        for encoded, (_, truth) in zip(encode_sequentially(model, triples), frames, strict=True)
    ]
    clear = ious[20:]  # the object is past the post from frame 18 on
    if hidden_prior == 0.0:
        assert max(clear) < 0.1
    else:
        assert min(ious) >= 0.7 and min(clear) >= 0.95


def _still_object_scene(index: int, post_speed: int) -> tuple[np.ndarray, np.ndarray]:
    """Frame ``index`` of a still textured 120 x 40 object over still textured ground, a 12 px
    wide post sweeping across it at ``post_speed`` px a frame; the image and visible truth."""
    rng = np.random.default_rng(1)
    ground = cv2.GaussianBlur(rng.normal(0.0, 1.0, (128, 320, 3)), (0, 0), 3) * 120 + 90
    skin = cv2.GaussianBlur(rng.normal(0.0, 1.0, (40, 120, 3)), (0, 0), 2) * 150
    image, truth = np.clip(ground, 0, 255), np.zeros((128, 320), dtype=bool)
    image[44:84, 100:220] = np.clip(skin + np.array([200, 60, 40]), 0, 255)
    truth[44:84, 100:220] = True
    x0 = 80 + post_speed * index
    image[:, x0 : x0 + 12] = (40, 60, 200)
    truth[:, x0 : x0 + 12] = False
    return image.astype(np.uint8), truth


@pytest.mark.parametrize("post_speed", [4, 6])
def test_a_still_object_keeps_the_strips_a_passing_post_uncovers(post_speed):
    """Body and ground at rest: the strip the post uncovers is offered back (motion cannot
    rule it out), and kept although the post holds it further from the body than the gap;
    once the post is past the middle, the side it uncovered is the body and the rest stays."""
    model = build_classic()
    frames = [_still_object_scene(i, post_speed) for i in range(30)]
    keyframe = ResolvedKeyframe(0, None, None, None, frames[0][1])
    propagator = Propagator(model, [1], {0: [(0, keyframe)]}, TrackerSettings())
    triples = ((i, i / 25, image) for i, (image, _) in enumerate(frames))
    ious = [
        mask_iou(propagator.step(encoded)[0].mask, truth)
        for encoded, (_, truth) in zip(encode_sequentially(model, triples), frames, strict=True)
    ]
    assert min(ious) >= 0.85 and min(ious[-5:]) >= 0.95


def test_lost_parts_survive_a_snapshot_and_restore():
    model = build_classic()
    frames = [_post_scene(i) for i in range(18)]
    encoded = list(encode_sequentially(model, ((i, i / 25, f[0]) for i, f in enumerate(frames))))
    keyframes = {0: [(0, ResolvedKeyframe(0, None, None, None, frames[0][1]))]}
    whole = Propagator(model, [1], keyframes, TrackerSettings())
    masks = [whole.step(frame)[0].mask for frame in encoded]
    first = Propagator(model, [1], keyframes, TrackerSettings())
    for frame in encoded[:10]:
        first.step(frame)
    snapshot = first.snapshot()
    # Cut while the object is behind the post: the track holds parts it lost.
    assert (snapshot["tracks"][0]["amodal"] > VISIBLE).sum() > 500
    resumed = Propagator(model, [1], keyframes, TrackerSettings())
    resumed.restore(snapshot)
    for frame, mask in zip(encoded[10:], masks[10:], strict=True):
        assert np.array_equal(resumed.step(frame)[0].mask, mask)
