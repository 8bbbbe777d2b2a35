"""A followed object's prior is lowered where pixels move as a nearby followed object does."""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.settings import TrackerSettings
from tests.tracking.oracle_engine import OracleEngine

SIZE = (120, 200)


def _scene(index: int) -> tuple[np.ndarray, dict]:
    """Two squares of one textured red, A moving 6 px a frame right and B, just right of it,
    6 px a frame down, over still green ground; returns the image and the truth."""
    rng = np.random.default_rng(1)
    ground = cv2.GaussianBlur(rng.normal(0.0, 1.0, (*SIZE, 3)), (0, 0), 2) * 60
    ground = np.clip(ground + np.array([50, 120, 50]), 0, 255)
    skin = cv2.GaussianBlur(rng.normal(0.0, 1.0, (30, 30, 3)), (0, 0), 1.5) * 80
    skin = np.clip(skin + np.array([200, 60, 50]), 0, 255)
    image = ground.copy()
    a, b = np.zeros(SIZE, dtype=bool), np.zeros(SIZE, dtype=bool)
    ax, by = 20 + 6 * index, 10 + 6 * index
    image[45:75, ax : ax + 30], a[45:75, ax : ax + 30] = skin, True
    image[by : by + 30, 70:100], b[by : by + 30, 70:100] = skin[::-1], True
    a &= ~b
    return image.astype(np.uint8), {1: a, 2: b}


class _Recording(OracleEngine):
    """The oracle, keeping every prompt it was asked to decode."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.prompts = []

    def decode(self, features, prompts, *, multimask=True):
        self.prompts.append((features.index, list(prompts)))
        return super().decode(features, prompts, multimask=multimask)


def _prior_of_a(objects: list[int], frame: int, hidden_a: bool = False) -> np.ndarray:
    """A's dense prior on ``frame`` when ``objects`` are followed from their frame-0 masks;
    ``hidden_a``: A's usual size is taken as 4x what it shows (it is partly out of sight)."""
    scenes = [_scene(i) for i in range(frame + 1)]
    model = _Recording([image for image, _ in scenes], [truth for _, truth in scenes])
    keyframes = {
        0: [
            (slot, ResolvedKeyframe(0, None, None, None, scenes[0][1][o]))
            for slot, o in enumerate(objects)
        ]
    }
    # The flow's warp, blurred as wide as A moves, so A's prior reaches over B; one similarity
    # would carry the rigid square with a sharp outline (tests/tracking/test_rigid.py).
    settings = TrackerSettings(rigid_motion=False)
    propagator = Propagator(model, objects, keyframes, settings)
    triples = ((i, i / 25, image) for i, (image, _) in enumerate(scenes))
    for encoded in encode_sequentially(model, triples):
        propagator.step(encoded)
        if hidden_a:
            propagator.tracks[0].reference_area = 4 * propagator.tracks[0].area
    index, prompts = model.prompts[-1]
    assert index == frame
    return prompts[0].mask


def test_pixels_moving_as_a_nearby_followed_object_are_less_likely_this_one():
    frame = 4
    b = _scene(frame)[1][2]
    near_b = b.copy()
    near_b[:, 85:] = False  # B's side nearest A, within the prior's reach
    alone = _prior_of_a([1], frame)[near_b]
    beside = _prior_of_a([1, 2], frame)[near_b]
    # Alone, B (in A's colours, moving unlike the ground) is lowered by nothing; beside A,
    # it moves as the followed B does.
    assert alone.mean() > 1.3 * beside.mean()
    a = _scene(frame)[1][1]
    np.testing.assert_allclose(
        _prior_of_a([1, 2], frame)[a].mean(), _prior_of_a([1], frame)[a].mean(), atol=0.02
    )


def test_an_object_coming_back_into_view_is_not_held_back_by_the_others_motion():
    frame = 4
    near_b = _scene(frame)[1][2].copy()
    near_b[:, 85:] = False
    alone = _prior_of_a([1], frame, hidden_a=True)[near_b]
    beside = _prior_of_a([1, 2], frame, hidden_a=True)[near_b]
    np.testing.assert_allclose(beside, alone, atol=1e-6)
