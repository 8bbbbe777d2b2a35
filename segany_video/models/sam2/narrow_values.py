"""Attention over narrow values: average the values' inputs, then project them.

SAM 2's memory cross-attention projects 64-wide memory tokens to 256-wide values before
attending. The projection is affine and every row of the attention weights sums to one, so
``softmax(S) (X W^T + b) == (softmax(S) X) W^T + b``: averaging the 64-wide inputs first makes
the weighted sum over the ~29k memory tokens four times cheaper, and the projection then runs
on the 4096 outputs instead of the 29k inputs. It is the same function up to float rounding.

torch's fused CPU attention kernel needs values as wide as the keys (narrower ones fall back to
a path that materialises every score at once), so on the CPU the scores are computed in chunks
of queries here: the scores in blocks of keys, torch's in-place softmax (one row at a time, so
each row stays in the core's cache through its passes), one matmul. Only float32 CPU inference takes
this path (:func:`applies`); CUDA, autocast and training use ``scaled_dot_product_attention``
on projected values.
"""

from __future__ import annotations

import torch

# Queries per chunk: more rows share each packed block of keys. The chunk's scores (512 x ~29k
# float32, 59 MiB for a full memory bank) are the path's only large buffer.
_CHUNK = 512
# Keys per score matmul: one matmul over all ~29k keys runs about a quarter slower than the
# same scores taken 1024 keys at a time (MKL on an AMD EPYC; BENCHMARKS.md). Each score is
# still one dot product over the head's width.
_KEY_BLOCK = 1024


def applies(q: torch.Tensor, value_inputs: torch.Tensor, head_width: int) -> bool:
    """Whether averaging inputs first is both exact and cheaper for these tensors."""
    return (
        q.device.type == "cpu"
        and q.dtype == torch.float32
        and value_inputs.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and value_inputs.shape[-1] < head_width
    )


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    value_inputs: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """Scaled dot-product attention whose values are ``value_inputs @ weight.T + bias``.

    Args:
        q: ``(B, heads, Nq, c)`` queries.
        k: ``(B, heads, Nk, c)`` keys.
        value_inputs: ``(B, Nk, d)`` tokens the values are projected from (shared by heads).
        weight: ``(heads * c, d)`` the value projection's weight (head-major rows).
        bias: ``(heads * c,)`` or None.

    Returns:
        ``(B, heads, Nq, c)``, as ``scaled_dot_product_attention(q, k, value_inputs @ weight.T
        + bias)`` split into heads.
    """
    batch, heads, queries, width = q.shape
    keys = k.shape[-2]
    scale = width**-0.5
    averaged = q.new_empty(batch, heads, queries, value_inputs.shape[-1])
    scores = q.new_empty(min(_CHUNK, queries), keys)
    for b in range(batch):
        for h in range(heads):
            keys_t = k[b, h].transpose(0, 1)
            for start in range(0, queries, _CHUNK):
                stop = min(start + _CHUNK, queries)
                chunk = scores[: stop - start]
                scaled = q[b, h, start:stop] * scale
                for first in range(0, keys, _KEY_BLOCK):
                    last = min(first + _KEY_BLOCK, keys)
                    torch.matmul(scaled, keys_t[:, first:last], out=chunk[:, first:last])
                torch.softmax(chunk, dim=-1, out=chunk)
                torch.matmul(chunk, value_inputs[b], out=averaged[b, h, start:stop])
    # Per head: (B, Nq, d) @ (d, c) + b_h.
    per_head = weight.unflatten(0, (heads, width))  # (heads, c, d)
    result = torch.matmul(averaged, per_head.transpose(-1, -2).unsqueeze(0))
    if bias is not None:
        result += bias.view(1, heads, 1, width)
    return result
