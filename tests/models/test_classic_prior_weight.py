"""The classic engine's cut from a soft mask prior: the prior's log-odds as evidence."""

from __future__ import annotations

import numpy as np
import torch

from segany_video.models.base import ObjectPrompt
from segany_video.models.classic.colour_cut import prior_log_odds
from segany_video.models.classic.engine import ClassicEngine
from segany_video.models.classic.settings import ClassicSettings


def test_log_odds_are_weighted_and_capped():
    prior = np.array([[0.0, 0.5, 0.9, 1.0]], dtype=np.float32)
    assert prior_log_odds(prior, 0.0) is None
    out = prior_log_odds(prior, 2.0)
    assert out is not None
    cap = 2.0 * np.log(0.98 / 0.02)
    np.testing.assert_allclose(out, [[-cap, 0.0, 2.0 * np.log(9.0), cap]], rtol=1e-5)


def _decode_area(weight: float) -> tuple[int, np.ndarray]:
    """Decode a soft disc prior on an image where colour tells nothing (noise everywhere)."""
    rng = np.random.default_rng(0)
    height, width = 160, 200
    image = rng.integers(100, 140, size=(height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    radius = np.hypot(yy - 80, xx - 100)
    prior = np.where(radius < 24, 1.0, np.where(radius < 32, 0.9, 0.0)).astype(np.float32)
    engine = ClassicEngine(settings=ClassicSettings(prior_weight=weight))
    features = engine.embed(torch.from_numpy(image)[None])[0]
    out = engine.decode(features, [ObjectPrompt(mask=prior)], multimask=False)
    mask = out.logits[0, 0].numpy() > 0
    return int(mask.sum()), prior >= 0.5


def test_where_colour_is_silent_the_prior_decides():
    plain, disc = _decode_area(0.0)
    weighted, _ = _decode_area(2.0)
    stronger, _ = _decode_area(6.0)
    # Without the prior's evidence the shortest boundary hugs the sure core (the disc eroded
    # by 3 px, ~2640 px); with it the cut keeps more of the pixels the prior holds likely
    # (the disc, ~3220 px), the more so the heavier the prior weighs.
    assert plain < weighted < stronger <= int(disc.sum()) * 1.02
    assert weighted - plain > 100
