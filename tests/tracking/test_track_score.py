"""A followed object's score: the engine's quality, lowered when its colours are not its own."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.tracking.appearance import Appearance, ColourIndex
from segany_video.tracking.track import Track

SIZE = (64, 96)


def _scene() -> tuple[ColourIndex, np.ndarray, np.ndarray]:
    """A red object (left) and a blue look-alike in shape (right) on grey."""
    image = np.full((*SIZE, 3), 128, dtype=np.uint8)
    red = np.zeros(SIZE, dtype=bool)
    red[16:48, 8:40] = True
    blue = np.zeros(SIZE, dtype=bool)
    blue[16:48, 56:88] = True
    image[red] = (220, 30, 30)
    image[blue] = (30, 30, 220)
    return ColourIndex(image, 8), red, blue


def _followed(
    colours: ColourIndex, seed: np.ndarray, mask: np.ndarray, power: float, drawn: bool = True
) -> float:
    track = Track(1)
    odds = np.zeros(8**3, np.float32)
    track.seed(seed, 1.0, Appearance.measure(colours, seed), odds, drawn=drawn)
    track.follow(mask, 0.8, Appearance.measure(colours, mask), 0.1, 0.45, colour_power=power)
    return track.score


def test_a_mask_with_the_objects_colours_keeps_its_quality():
    colours, red, _ = _scene()
    assert _followed(colours, red, red, power=2.0) == pytest.approx(0.8)


def test_a_mask_on_other_colours_admits_doubt():
    colours, red, blue = _scene()
    # Disjoint colours: Hellinger distance 1, so nothing of the quality is left.
    assert _followed(colours, red, blue, power=2.0) == pytest.approx(0.0, abs=1e-6)
    half = red.copy()
    half[16:48, 24:40] = False
    half |= blue  # half on the object, the rest on something else
    between = _followed(colours, red, half, power=2.0)
    assert 0.0 < between < 0.8


def test_power_zero_reports_the_quality_alone():
    colours, red, blue = _scene()
    assert _followed(colours, red, blue, power=0.0) == pytest.approx(0.8)


def test_colours_of_a_keyframe_the_engine_cut_prove_nothing():
    # From a box or clicks the keyframe mask is the engine's cut and may hold background, so
    # agreeing or not with its colours is no evidence: the score is the quality alone.
    colours, red, blue = _scene()
    assert _followed(colours, red, blue, power=2.0, drawn=False) == pytest.approx(0.8)
