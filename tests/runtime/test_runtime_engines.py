"""The runtime driving the real engines: batched results equal the batch-size-1 reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_stubs import MemoryVideo, make_frames

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.variants import SamVitConfig, build_sam_vit
from segany_video.runtime.encoded import encode_sequentially
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings

COUNT = 7  # not a multiple of 3


def textured_frames(height: int, width: int) -> np.ndarray:
    frames = make_frames(COUNT, height, width, seed=3)
    frames[:, height // 4 : 3 * height // 4, width // 4 : width // 2] = 230  # an "object"
    return frames


def reference_frames(model, frames: np.ndarray) -> list:
    return list(encode_sequentially(model, [(i, i / 25.0, f) for i, f in enumerate(frames)]))


def test_classic_engine_batched_equals_reference():
    from segany_video.models.classic import build_classic

    frames = textured_frames(48, 64)
    model = build_classic("cpu")
    expected = reference_frames(model, frames)
    runtime = Runtime(model, RuntimeSettings(device="cpu", batch_size=3))
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(COUNT))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.features.image, e.features.image)
        np.testing.assert_array_equal(g.features.guide, e.features.guide)
        np.testing.assert_array_equal(g.features.gradient, e.features.gradient)
    # Decoding from runtime features gives the reference masks.
    prompts = [ObjectPrompt(box=np.array([14, 10, 34, 38], np.float32))]
    for g, e in zip(got[:2], expected[:2], strict=True):
        torch.testing.assert_close(
            runtime.decode(g.features, prompts).logits, model.decode(e.features, prompts).logits
        )


def tiny_sam():
    torch.manual_seed(0)
    config = SamVitConfig(
        "tiny",
        embed_dim=32,
        depth=2,
        num_heads=2,
        global_attn_indexes=(1,),
        window_size=3,  # 8x8 tokens: windows need padding (the path reading qkv.bias)
        img_size=128,
        prompt_embed_dim=32,
        decoder_heads=2,
        decoder_mlp_dim=64,
        iou_head_hidden_dim=32,
        mask_in_chans=4,
    )
    return build_sam_vit(config).eval()


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_tiny_sam_batched_matches_reference(batch_size):
    frames = textured_frames(48, 64)
    model = tiny_sam()
    expected = reference_frames(model, frames)
    runtime = Runtime(model, RuntimeSettings(device="cpu", batch_size=batch_size))
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(COUNT))
    prompts = [
        ObjectPrompt(box=np.array([14, 10, 34, 38], np.float32)),
        ObjectPrompt(points=np.array([[40.0, 20.0]], np.float32), point_labels=np.array([1])),
    ]
    for g, e in zip(got, expected, strict=True):
        # Batched matmuls may round differently from one-frame ones: equal to float32 tolerance.
        torch.testing.assert_close(g.features.embedding, e.features.embedding)
        torch.testing.assert_close(
            runtime.decode(g.features, prompts).logits,
            model.decode(e.features, prompts).logits,
            rtol=1e-4,
            atol=1e-4,
        )


def test_tiny_sam_int8_runtime_and_agreement():
    from segany_video.runtime.quantize import int8_mask_agreement

    frames = textured_frames(48, 64)
    prompts = [ObjectPrompt(box=np.array([14, 10, 34, 38], np.float32))]
    agreement = int8_mask_agreement(tiny_sam(), list(frames[:2]), prompts)
    assert agreement.ious.shape == (2, 1)
    assert 0.0 <= agreement.worst <= agreement.mean <= 1.0

    model = tiny_sam()
    runtime = Runtime(model, RuntimeSettings(device="cpu", batch_size=3, quantize_int8=True))
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(COUNT))
    assert runtime.decode(got[0].features, prompts).logits.shape == (1, 3, 48, 64)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tiny_sam_on_cuda_autocast_auto_batch():
    frames = textured_frames(48, 64)
    model = tiny_sam()
    cpu_reference = reference_frames(model, frames)
    runtime = Runtime(model, RuntimeSettings(device="cuda"))  # auto batch, bf16/fp16 autocast
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(COUNT))
    assert runtime.batch_size is not None and runtime.batch_size >= 1
    assert got[0].features.embedding.device.type == "cuda"
    prompts = [ObjectPrompt(box=np.array([14, 10, 34, 38], np.float32))]
    for g, e in zip(got, cpu_reference, strict=True):
        torch.testing.assert_close(
            g.features.embedding.float().cpu(), e.features.embedding, rtol=0.1, atol=0.1
        )
        logits = runtime.decode(g.features, prompts).logits
        assert logits.shape == (1, 3, 48, 64) and torch.isfinite(logits).all()
