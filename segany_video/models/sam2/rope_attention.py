"""Attention with 2-D axial rotary position encoding (RoPE), as SAM 2's memory attention uses.

Queries and keys are rotated by angles that depend on their token's ``(x, y)`` place in the
feature grid: the first half of each head's channel pairs turn with ``x``, the second half with
``y``. Memory keys hold several frames of the same grid one after another, so their angles
repeat once per frame; object-pointer tokens at the end of the keys carry no grid place and are
left unrotated.

Parameter names (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``) follow the official checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.fused_cpu import linear
from segany_video.models.sam2 import narrow_values


def axial_rotation(
    head_dim: int, height: int, width: int, theta: float, device: torch.device
) -> torch.Tensor:
    """The rotation of every grid token as unit complex numbers.

    Returns:
        ``(H * W, head_dim // 2)`` complex64, tokens in row-major order.
    """
    if head_dim % 4:
        raise ValueError(f"RoPE needs a head dimension divisible by 4, got {head_dim}")
    exponents = torch.arange(0, head_dim, 4, device=device)[: head_dim // 4].float() / head_dim
    freqs = 1.0 / (theta**exponents)  # (head_dim / 4,)
    token = torch.arange(height * width, dtype=torch.float32, device=device)
    xs = token % width
    ys = torch.div(token, width, rounding_mode="floor")
    angles = torch.cat((torch.outer(xs, freqs), torch.outer(ys, freqs)), dim=-1)
    return torch.polar(torch.ones_like(angles), angles)


def rotate_pairs(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """Rotate adjacent channel pairs ``(x[2i], x[2i+1])`` of ``x`` ``(..., N, D)``.

    ``rotation`` is ``(N, D/2)`` complex; the result has ``x``'s shape and dtype.
    """
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))  # (..., N, D/2)
    return torch.view_as_real(pairs * rotation).flatten(-2).to(x.dtype)


def rotate_pairs_(x: torch.Tensor, rotation: torch.Tensor) -> torch.Tensor:
    """:func:`rotate_pairs` in place where ``x`` is float32 (returned); otherwise a new tensor.

    The projections' outputs are fresh, and rotating them where they lie saves a copy of every
    (memory) key per layer.
    """
    if x.dtype != torch.float32:
        return rotate_pairs(x, rotation)
    torch.view_as_complex(x.unflatten(-1, (-1, 2))).mul_(rotation)
    return x


class RoPEAttention(nn.Module):
    """Multi-head attention whose queries and (grid) keys carry axial RoPE.

    Args:
        embedding_dim: Width of the queries and of the output.
        num_heads: Attention heads.
        kv_in_dim: Width of the keys/values as given (memory tokens are narrower); default
            ``embedding_dim``.
        rope_theta: Base of the rotation frequencies.
        repeat_keys: Keys are several copies of the query grid (cross-attention to memories).
    """

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        kv_in_dim: int | None = None,
        rope_theta: float = 10000.0,
        repeat_keys: bool = False,
    ) -> None:
        super().__init__()
        kv_in_dim = embedding_dim if kv_in_dim is None else kv_in_dim
        if embedding_dim % num_heads:
            raise ValueError(f"num_heads {num_heads} must divide embedding_dim {embedding_dim}")
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embedding_dim, embedding_dim)
        self.k_proj = nn.Linear(kv_in_dim, embedding_dim)
        self.v_proj = nn.Linear(kv_in_dim, embedding_dim)
        self.out_proj = nn.Linear(embedding_dim, embedding_dim)
        self.rope_theta = rope_theta
        self.repeat_keys = repeat_keys
        self._rotation: dict[tuple[int, int, str], torch.Tensor] = {}

    def rotation(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The cached rotation of an ``height x width`` grid (see ``axial_rotation``)."""
        key = (height, width, str(device))
        if key not in self._rotation:
            head_dim = self.q_proj.out_features // self.num_heads
            self._rotation[key] = axial_rotation(head_dim, height, width, self.rope_theta, device)
        return self._rotation[key]

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        # (B, N, C) -> (B, heads, N, C / heads)
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        feat_size: tuple[int, int],
        num_k_exclude_rope: int = 0,
    ) -> torch.Tensor:
        """Attend ``q`` ``(B, Nq, C)`` to ``k``/``v`` ``(B, Nk, kv_in_dim)``.

        Args:
            feat_size: ``(H, W)`` of the query grid (``Nq == H * W``).
            num_k_exclude_rope: Trailing key tokens that are not grid tokens (object pointers).

        Returns:
            ``(B, Nq, C)``.
        """
        # oneDNN matmuls with the bias inside on the CPU (plain Linear elsewhere)
        q = self._split_heads(linear(q, self.q_proj))
        k = self._split_heads(linear(k, self.k_proj))
        # Narrow memory tokens are averaged before their projection (``narrow_values``).
        narrow = narrow_values.applies(q, v, self.v_proj.out_features // self.num_heads)
        if not narrow:
            v = self._split_heads(linear(v, self.v_proj))
        height, width = feat_size
        rotation = self.rotation(height, width, q.device)
        q = rotate_pairs_(q, rotation)
        num_rope = k.shape[-2] - num_k_exclude_rope
        if num_rope > 0:
            copies = num_rope // (height * width)
            if num_rope != copies * height * width or (copies > 1 and not self.repeat_keys):
                raise ValueError(f"{num_rope} rotated keys do not fit a {height}x{width} grid")
            # (B, heads, copies * h*w, c) -> (B, heads, copies, h*w, c): one rotation per grid
            grids = k[:, :, :num_rope].unflatten(-2, (copies, height * width))
            rotated = rotate_pairs_(grids, rotation)
            if rotated is not grids:  # not rotated in place: put the keys together again
                k = torch.cat((rotated.flatten(-3, -2), k[:, :, num_rope:]), dim=-2)
        if narrow:
            out = narrow_values.attend(q, k, v, self.v_proj.weight, self.v_proj.bias)
        else:
            out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(1, 2).flatten(-2)  # (B, heads, Nq, c) -> (B, Nq, C)
        return linear(out, self.out_proj)
