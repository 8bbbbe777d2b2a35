"""bf16 SAM 2 features (the CUDA runtime embeds under autocast) decode outside autocast."""

from __future__ import annotations

import numpy as np
import torch
from meta_build import random_state_dict

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.variants import build_sam2, reduced_config


def test_bf16_features_decode_outside_autocast_close_to_float32() -> None:
    model = build_sam2(reduced_config("sam2.1_hiera_tiny"), model_class=Sam2ImageSegmenter)
    model.load_state_dict(random_state_dict(model, seed=9))
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (1, 96, 128, 3), np.uint8))
    prompts = [
        ObjectPrompt(box=np.array([20, 10, 90, 70])),
        ObjectPrompt(points=np.array([[40.0, 30.0]]), point_labels=np.array([1])),
    ]
    (reference,) = model.embed(frames)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (reduced,) = model.embed(frames)
        inside = model.decode(reduced, prompts)
    # As in Meta's neck, the top level is float32 (its top-down sum is upcast), the rest bf16.
    assert reduced.high_res[0].dtype == torch.bfloat16
    outside = model.decode(reduced, prompts)  # as the tracker may: must not fail on dtypes
    expected = model.decode(reference, prompts)
    for got in (inside, outside):
        assert got.logits.dtype == got.scores.dtype == torch.float32
        agree = ((got.logits > 0) == (expected.logits > 0)).float().mean().item()
        assert agree > 0.97, agree
