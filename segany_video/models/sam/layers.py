"""Small layers shared by the SAM encoders, prompt encoder and mask decoder.

Parameter names (``lin1``/``lin2``, ``layers.{i}``, ``weight``/``bias``) follow the official
checkpoint layout so Meta's files load with strict key checks.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.fused_cpu import linear, linear_gelu


class LayerNorm2d(nn.Module):
    """Layer norm over the channel axis of a ``(B, C, H, W)`` tensor.

    Computed as a last-axis ``F.layer_norm`` on a channels-last view: for a channels-last input
    this costs no copy, and the result keeps the input's memory layout.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, C, H, W) -> (B, H, W, C) -> norm over C -> back to (B, C, H, W)
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class MLPBlock(nn.Module):
    """Two linear layers with an activation between (the transformer blocks' feed-forward)."""

    def __init__(self, embedding_dim: int, mlp_dim: int, act: type[nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.lin1 = nn.Linear(embedding_dim, mlp_dim)
        self.lin2 = nn.Linear(mlp_dim, embedding_dim)
        self.act = act()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if type(self.act) is nn.GELU and self.act.approximate == "none":
            hidden = linear_gelu(x, self.lin1)  # one oneDNN kernel on the CPU
        else:
            hidden = self.act(linear(x, self.lin1))
        return linear(hidden, self.lin2)


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU between them (mask decoder heads)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int) -> None:
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(
            nn.Linear(d_in, d_out) for d_in, d_out in itertools.pairwise(dims)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = F.relu(x)
        return x
