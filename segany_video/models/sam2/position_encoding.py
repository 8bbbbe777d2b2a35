"""Fixed sine position encodings used by SAM 2 (feature maps and object-pointer distances).

Neither encoding has parameters, so nothing of them appears in a checkpoint. The 2-D maps are
cached per ``(H, W)``: they depend on the grid size only, and every frame of a clip reuses them.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _inverse_frequencies(num_feats: int, temperature: float, device: torch.device) -> torch.Tensor:
    """``temperature ** (2 * (i // 2) / num_feats)`` for ``i in range(num_feats)``, float32."""
    index = torch.arange(num_feats, dtype=torch.float32, device=device)
    return temperature ** (2 * (index // 2) / num_feats)


def _interleave_sin_cos(angles: torch.Tensor) -> torch.Tensor:
    """Even channels take ``sin``, odd ones ``cos``, interleaved as ``[s0, c1, s2, c3, ...]``."""
    stacked = torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1)
    return stacked.flatten(-2)


class SinePositionEncoding(nn.Module):
    """2-D sine encoding of a feature grid (normalised coordinates, scaled to ``2 * pi``).

    Args:
        num_pos_feats: Output channels; half encode ``y``, half ``x`` (``y`` first).
        temperature: Base of the frequency ladder.
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError(f"num_pos_feats must be even, got {num_pos_feats}")
        self.half = num_pos_feats // 2
        self.temperature = temperature
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def grid(self, height: int, width: int, device: torch.device) -> torch.Tensor:
        """The encoding of an ``height x width`` grid, ``(num_pos_feats, H, W)`` float32."""
        key = (height, width, str(device))
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        eps, scale = 1e-6, 2 * math.pi
        ys = torch.arange(1, height + 1, dtype=torch.float32, device=device)
        xs = torch.arange(1, width + 1, dtype=torch.float32, device=device)
        ys = ys / (ys[-1] + eps) * scale
        xs = xs / (xs[-1] + eps) * scale
        inv = _inverse_frequencies(self.half, self.temperature, device)
        enc_y = _interleave_sin_cos(ys[:, None] / inv)  # (H, half)
        enc_x = _interleave_sin_cos(xs[:, None] / inv)  # (W, half)
        pos = torch.cat(
            (
                enc_y[:, None, :].expand(height, width, self.half),
                enc_x[None, :, :].expand(height, width, self.half),
            ),
            dim=-1,
        )
        pos = pos.permute(2, 0, 1).contiguous()  # (H, W, C) -> (C, H, W)
        self._cache[key] = pos
        return pos

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode the grid of ``x`` ``(B, C, H, W)``; returns ``(B, num_pos_feats, H, W)``."""
        pos = self.grid(x.shape[-2], x.shape[-1], x.device)
        return pos.unsqueeze(0).expand(x.shape[0], -1, -1, -1)


def sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """1-D sine encoding of scalar positions: ``(N,) -> (N, dim)``, sines then cosines.

    Used for the temporal distance of object pointers to the current frame.
    """
    half = dim // 2
    index = torch.arange(half, dtype=torch.float32, device=positions.device)
    inv = temperature ** (2 * (index // 2) / half)
    angles = positions.unsqueeze(-1) / inv
    return torch.cat((angles.sin(), angles.cos()), dim=-1)
