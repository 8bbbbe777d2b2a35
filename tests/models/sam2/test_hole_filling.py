"""Hole filling: ours (OpenCV) against an independent scipy labelling, and in a whole video run
against Meta's predictor given a scipy stand-in for its compiled kernel."""

from __future__ import annotations

import pytest
import torch
from video_oracle import scipy_components

from segany_video.models.sam2.hole_filling import HOLE_FILL_LOGIT, fill_small_holes


def expected_fill(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    labels, areas = scipy_components((logits <= 0).to(torch.uint8))
    return torch.where((labels > 0) & (areas <= max_area), HOLE_FILL_LOGIT, logits)


def test_small_holes_filled_large_ones_kept() -> None:
    logits = torch.full((2, 1, 24, 24), 5.0)
    logits[0, 0, 3:5, 3:5] = -2.0  # 4 px hole: filled
    logits[0, 0, 10:13, 10:13] = -2.0  # 9 px hole: kept at max_area 8
    logits[0, 0, 20, 20] = -1.0  # a diagonal pair is one 8-connected 2 px hole
    logits[0, 0, 21, 21] = -1.0
    logits[1, 0, :, :12] = -3.0  # half the frame is background: kept
    logits[1, 0, 5, 18] = 0.0  # a logit of exactly 0 is background
    filled = fill_small_holes(logits, 8)
    assert filled[0, 0, 3, 3] == pytest.approx(HOLE_FILL_LOGIT)
    assert filled[0, 0, 11, 11] == -2.0
    assert filled[0, 0, 20, 20] == pytest.approx(HOLE_FILL_LOGIT)
    assert filled[1, 0, 0, 0] == -3.0
    assert filled[1, 0, 5, 18] == pytest.approx(HOLE_FILL_LOGIT)
    torch.testing.assert_close(filled, expected_fill(logits, 8))


@pytest.mark.parametrize("max_area", [1, 8, 40])
def test_fill_matches_scipy_on_random_masks(max_area: int) -> None:
    generator = torch.Generator().manual_seed(max_area)
    logits = torch.randn(3, 1, 64, 64, generator=generator) + 0.8
    torch.testing.assert_close(fill_small_holes(logits, max_area), expected_fill(logits, max_area))


def test_zero_area_is_off() -> None:
    logits = -torch.ones(1, 1, 8, 8)
    assert fill_small_holes(logits, 0) is logits
