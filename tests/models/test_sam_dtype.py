"""bf16/fp16 embeddings decode outside autocast (as the tracker does)."""

from __future__ import annotations

import numpy as np
import torch

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.variants import SamVitConfig, build_sam_vit

TINY = SamVitConfig(
    name="tiny", embed_dim=32, depth=2, num_heads=2, global_attn_indexes=(1,), img_size=256
)


def test_bf16_embedding_decodes_outside_autocast_close_to_float32() -> None:
    torch.manual_seed(0)
    model = build_sam_vit(TINY)
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 255, (1, 96, 128, 3), np.uint8))
    prompt = [ObjectPrompt(box=np.array([20, 10, 90, 70]))]
    (reference,) = model.embed(frames)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        (reduced,) = model.embed(frames)
    assert reduced.embedding.dtype == torch.bfloat16

    out = model.decode(reduced, prompt)  # no autocast here: must not fail on mixed dtypes
    ref = model.decode(reference, prompt)
    assert out.logits.dtype == torch.float32
    agree = ((out.logits > 0) == (ref.logits > 0)).float().mean().item()
    assert agree > 0.97, agree
