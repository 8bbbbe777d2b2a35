"""Attention over narrow values (average the inputs, then project) against the textbook order."""

import pytest
import torch
import torch.nn.functional as F

from segany_video.models.sam2 import narrow_values


def _projected_reference(q, k, inputs, weight, bias):
    heads, width = q.shape[1], q.shape[-1]
    values = F.linear(inputs, weight, bias).unflatten(-1, (heads, width)).transpose(1, 2)
    return F.scaled_dot_product_attention(q, k, values)


@pytest.mark.parametrize("heads", [1, 2])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("small_blocks", [False, True])
def test_attend_equals_attention_on_projected_values(
    heads: int, with_bias: bool, small_blocks: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small_blocks:  # 300 queries in 3 uneven chunks, 517 keys in 3 uneven blocks
        monkeypatch.setattr(narrow_values, "_CHUNK", 128)
        monkeypatch.setattr(narrow_values, "_KEY_BLOCK", 200)
    generator = torch.Generator().manual_seed(heads)
    batch, queries, keys, width, narrow = 2, 300, 517, 32, 8
    q = torch.randn(batch, heads, queries, width, generator=generator)
    k = torch.randn(batch, heads, keys, width, generator=generator)
    inputs = torch.randn(batch, keys, narrow, generator=generator)
    weight = torch.randn(heads * width, narrow, generator=generator)
    bias = torch.randn(heads * width, generator=generator) if with_bias else None
    with torch.no_grad():
        expected = _projected_reference(q, k, inputs, weight, bias)
        got = narrow_values.attend(q, k, inputs, weight, bias)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_attend_keeps_softmax_stable_for_large_scores() -> None:
    # Scores of several hundred: a softmax without the max subtraction would overflow to inf.
    q = torch.full((1, 1, 4, 16), 10.0)
    k = torch.linspace(-10, 10, 64 * 16).reshape(1, 1, 64, 16)
    inputs = torch.randn(1, 64, 4, generator=torch.Generator().manual_seed(0))
    weight = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got = narrow_values.attend(q, k, inputs, weight, None)
        expected = _projected_reference(q, k, inputs, weight, None)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_applies_only_to_cpu_float32_inference_with_narrower_values() -> None:
    q = torch.zeros(1, 1, 4, 32)
    narrow, wide = torch.zeros(1, 8, 16), torch.zeros(1, 8, 32)
    with torch.no_grad():
        assert narrow_values.applies(q, narrow, 32)
        assert not narrow_values.applies(q, wide, 32)  # no saving: values as wide as a head
        assert not narrow_values.applies(q.double(), narrow.double(), 32)
    with torch.enable_grad():
        assert not narrow_values.applies(q, narrow, 32)  # in-place softmax has no gradient
