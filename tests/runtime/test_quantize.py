"""Int8 dynamic quantisation of an encoder's Linear layers and the mask-agreement report."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from engine_stubs import MemoryVideo, StubEngine, make_frames
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

from segany_video.errors import ConfigError
from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.runtime.quantize import (
    decode_masks,
    int8_mask_agreement,
    mask_agreement,
    mask_iou,
    quantize_encoder_int8,
)
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings


@dataclass(frozen=True)
class PixelFeatures:
    frame_size: tuple[int, int]
    embedding: torch.Tensor  # (H, W, C)


class PixelMLPEngine(nn.Module):
    """A tiny neural engine: a per-pixel MLP encoder; a mask is "feature sum > median"."""

    info = EngineInfo("pixel-mlp", "per-pixel MLP test engine")

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image_encoder = nn.Sequential(nn.Linear(3, 32), nn.GELU(), nn.Linear(32, 8))
        # Quantised encoders hold packed weights, not parameters: track the device apart.
        self.register_buffer("anchor", torch.zeros(()))

    @property
    def device(self) -> torch.device:
        return self.anchor.device

    def embed(self, frames: torch.Tensor) -> list[PixelFeatures]:
        x = frames.float() / 255.0  # (B, H, W, 3)
        out = self.image_encoder(x)  # (B, H, W, 8)
        return [PixelFeatures(tuple(frames.shape[1:3]), out[i]) for i in range(len(frames))]

    def decode(self, features, prompts, *, multimask=True) -> MaskCandidates:
        score = features.embedding.sum(-1)
        logits = score - score.median()
        stacked = torch.stack([logits + 0.01 * n for n in range(len(prompts))])[:, None]
        return MaskCandidates(stacked, torch.ones(len(prompts), 1))


def test_quantize_replaces_every_encoder_linear():
    model = PixelMLPEngine()
    assert quantize_encoder_int8(model) == 2
    modules = list(model.image_encoder.modules())
    assert sum(isinstance(m, DynamicLinear) for m in modules) == 2
    assert not any(type(m) is nn.Linear for m in modules)


def test_quantize_refuses_engine_without_encoder():
    with pytest.raises(ConfigError, match="stub has no neural image encoder"):
        quantize_encoder_int8(StubEngine())


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([[1, 1, 0, 0]], [[1, 0, 0, 0]], [0.5]),
        ([[0, 0, 0, 0]], [[0, 0, 0, 0]], [1.0]),  # both empty: full agreement
        ([[1, 0, 0, 0]], [[0, 1, 0, 0]], [0.0]),
        ([[1, 1, 1, 1], [1, 0, 1, 0]], [[1, 1, 1, 1], [1, 1, 1, 0]], [1.0, 2 / 3]),
    ],
)
def test_mask_iou_table(a, b, expected):
    got = mask_iou(torch.tensor(a, dtype=torch.bool), torch.tensor(b, dtype=torch.bool))
    np.testing.assert_allclose(got, expected)


def test_int8_agreement_high_and_model_left_quantised():
    model = PixelMLPEngine()
    frames = list(make_frames(3, height=16, width=16))
    prompts = [ObjectPrompt(box=np.array([0, 0, 8, 8])), ObjectPrompt(box=np.array([2, 2, 9, 9]))]
    float_masks = decode_masks(PixelMLPEngine(), frames, prompts)
    agreement = int8_mask_agreement(model, frames, prompts)
    assert agreement.ious.shape == (3, 2)
    # int8 weights move some borderline pixels, but the masks stay nearly the same...
    assert agreement.worst > 0.8
    # ...and not identical: the quantised encoder really ran.
    int8_masks = decode_masks(model, frames, prompts)
    assert any(not torch.equal(f, q) for f, q in zip(float_masks, int8_masks, strict=True))
    np.testing.assert_allclose(agreement.ious, mask_agreement(float_masks, int8_masks).ious)
    assert any(isinstance(m, DynamicLinear) for m in model.image_encoder.modules())


def test_int8_linear_bias_reads_like_float_linear():
    model = PixelMLPEngine()
    float_bias = model.image_encoder[0].bias.detach().clone()
    quantize_encoder_int8(model)
    torch.testing.assert_close(model.image_encoder[0].bias, float_bias)


def test_runtime_with_int8_quantisation_streams_every_frame():
    model = PixelMLPEngine()
    runtime = Runtime(model, RuntimeSettings(device="cpu", batch_size=2, quantize_int8=True))
    got = list(runtime.stream(MemoryVideo(make_frames(5, height=8, width=8))))
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert any(isinstance(m, DynamicLinear) for m in model.image_encoder.modules())
