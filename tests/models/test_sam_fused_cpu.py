"""oneDNN fused Conv/Linear (+ GELU) kernels against the unfused torch ops they replace."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam import fused_cpu
from segany_video.models.sam.fused_cpu import (
    can_fuse,
    conv2d_gelu,
    linear,
    linear_gelu,
    linear_relu,
)
from segany_video.models.sam.tiny_vit import Attention, Conv2dBN

TOL = {"atol": 1e-5, "rtol": 1e-5}

needs_onednn = pytest.mark.skipif(
    fused_cpu._CONV_POINTWISE is None or not torch.backends.mkldnn.is_available(),
    reason="this torch has no oneDNN kernels (the plain ops run instead)",
)


@needs_onednn
def test_fusion_only_where_it_computes_the_same_function() -> None:
    x = torch.randn(2, 3)
    assert not can_fuse(x)  # gradients on: the fused kernels have no backward
    with torch.no_grad():
        assert can_fuse(x)
        assert not can_fuse(x.double())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert not can_fuse(x)
    with torch.inference_mode():
        assert can_fuse(x)


@pytest.mark.parametrize(
    ("channels", "out", "kernel", "stride", "padding", "groups"),
    [
        (8, 32, 1, 1, 0, 1),  # MBConv expand
        (32, 32, 3, 1, 1, 32),  # depthwise
        (8, 16, 3, 2, 1, 1),  # patch embedding / merging stride 2
        (16, 16, 3, 2, 1, 16),  # depthwise stride 2
    ],
)
@pytest.mark.parametrize("channels_last", [False, True])
def test_conv2d_gelu_matches_unfused(
    channels, out, kernel, stride, padding, groups, channels_last
) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(channels, out, kernel, stride, padding, groups=groups)
    x = torch.randn(2, channels, 19, 23)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        want = F.gelu(conv(x))
        got = conv2d_gelu(x, conv.weight, conv.bias, conv)
        got_no_bias = conv2d_gelu(x, conv.weight, None, conv)
        want_no_bias = F.gelu(F.conv2d(x, conv.weight, None, stride, padding, 1, groups))
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(got_no_bias, want_no_bias, **TOL)


@pytest.mark.parametrize("shape", [(7, 16), (2, 5, 9, 16)])
def test_linear_and_linear_gelu_match_unfused(shape) -> None:
    torch.manual_seed(1)
    layer = nn.Linear(16, 24)
    x = torch.randn(*shape)
    with torch.inference_mode():
        torch.testing.assert_close(linear(x, layer), layer(x), **TOL)
        torch.testing.assert_close(linear_gelu(x, layer), F.gelu(layer(x)), **TOL)
        torch.testing.assert_close(linear_relu(x, layer), F.relu(layer(x)), **TOL)


def test_non_plain_linear_runs_as_itself() -> None:
    class Doubled(nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * super().forward(x)

    torch.manual_seed(2)
    layer = Doubled(4, 3)
    x = torch.randn(5, 4)
    with torch.inference_mode():
        torch.testing.assert_close(linear(x, layer), 2 * F.linear(x, layer.weight, layer.bias))
        torch.testing.assert_close(
            linear_gelu(x, layer), F.gelu(2 * F.linear(x, layer.weight, layer.bias))
        )
        torch.testing.assert_close(
            linear_relu(x, layer), F.relu(2 * F.linear(x, layer.weight, layer.bias))
        )


def test_conv_bn_gelu_in_training_uses_batch_statistics() -> None:
    torch.manual_seed(3)
    block = Conv2dBN(4, 6, 3, 1, 1)
    x = torch.randn(3, 4, 8, 8)
    block.train()
    got = block.forward_gelu(x)
    block.eval()
    with torch.no_grad():
        folded = block.forward_gelu(x)
    # Training normalises with this batch's statistics: per-channel mean ~0 before the GELU.
    assert got.requires_grad
    assert not torch.allclose(got, folded, atol=1e-3)
    block.train()
    torch.testing.assert_close(got, F.gelu(block.bn(block.c(x))))


def test_attention_bias_mask_cache_follows_the_table() -> None:
    torch.manual_seed(4)
    attn = Attention(dim=8, num_heads=2, window=3).eval()
    with torch.inference_mode():
        first = attn.bias_mask(torch.float32)
        assert first.shape == (1, 2, 9, 9)
        assert torch.equal(first, torch.zeros(1, 2, 9, 9))
        assert attn.bias_mask(torch.float32) is first  # cached
    table = torch.arange(18.0).view(2, 9)
    attn.load_state_dict({**attn.state_dict(), "attention_biases": table})
    with torch.inference_mode():
        second = attn.bias_mask(torch.float32)
    # Entry (h, i, j) is the table's value for the offset between tokens i and j of a 3x3
    # window: token 0 is (0, 0), token 4 is (1, 1), token 8 is (2, 2).
    assert second[0, 1, 0, 0] == table[1, 0]  # offset (0, 0)
    assert second[0, 0, 0, 4] == second[0, 0, 4, 8] == second[0, 0, 8, 4]  # offset (1, 1)
    assert second[0, 0, 0, 4] != second[0, 0, 0, 8]  # (1, 1) vs (2, 2)
