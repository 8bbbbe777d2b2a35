"""SAM 2 memory encoder: fuses a frame's features with its predicted mask into a memory.

The full-resolution mask is downsampled by strided convolutions to the feature grid, added to a
projection of the frame's features, mixed by ConvNeXt blocks and projected to the narrow memory
width. Parameter names follow the official checkpoint (``memory_encoder.*``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from segany_video.models.sam.fused_cpu import linear, linear_gelu
from segany_video.models.sam.layers import LayerNorm2d
from segany_video.models.sam2.position_encoding import SinePositionEncoding


class MaskDownSampler(nn.Module):
    """Downsample a ``(B, 1, H, W)`` mask by ``total_stride`` in ``stride`` steps.

    Each step is a strided convolution that multiplies the channels by ``stride ** 2``, then a
    channel layer norm and GELU; a final 1x1 convolution maps to ``embed_dim`` channels.
    """

    def __init__(
        self,
        embed_dim: int = 256,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        total_stride: int = 16,
    ) -> None:
        super().__init__()
        num_steps = round(math.log(total_stride, stride))
        if stride**num_steps != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        layers: list[nn.Module] = []
        channels = 1
        for _ in range(num_steps):
            out_channels = channels * stride**2
            layers += [
                nn.Conv2d(channels, out_channels, kernel_size, stride=stride, padding=padding),
                LayerNorm2d(out_channels),
                nn.GELU(),
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, embed_dim, kernel_size=1))
        self.encoder = nn.Sequential(*layers)

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` -> ``(B, embed_dim, H / total_stride, W / total_stride)``."""
        return self.encoder(mask)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise 7x7 conv, channel norm, MLP (as two Linears), layer scale."""

    def __init__(self, dim: int, kernel_size: int = 7, padding: int = 3) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=padding, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C, H, W)``."""
        y = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)
        y = self.gamma * linear(linear_gelu(y, self.pwconv1), self.pwconv2)
        return x + y.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A stack of ``CXBlock`` applied to the summed features and mask embedding."""

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(CXBlock(dim) for _ in range(num_layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """Encode a frame and its mask into a spatial memory.

    Args:
        in_dim: Width of the frame features (the neck's width).
        out_dim: Width of the memory.
        num_fuser_layers: ConvNeXt blocks in the fuser.
    """

    def __init__(self, in_dim: int = 256, out_dim: int = 64, num_fuser_layers: int = 2) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(embed_dim=in_dim)
        self.pix_feat_proj = nn.Conv2d(in_dim, in_dim, kernel_size=1)
        self.fuser = Fuser(in_dim, num_fuser_layers)
        self.out_proj = (
            nn.Conv2d(in_dim, out_dim, kernel_size=1) if out_dim != in_dim else nn.Identity()
        )
        self.position_encoding = SinePositionEncoding(out_dim)
        self.out_dim = out_dim

    def forward(
        self, pix_feat: torch.Tensor, mask_for_mem: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fuse frame features and a mask.

        Args:
            pix_feat: Frame features ``(B, in_dim, H, W)``.
            mask_for_mem: Mask ``(B, 1, 16H, 16W)``, already mapped to the memory encoder's
                input scale (the caller applies the sigmoid, scale and bias).

        Returns:
            ``(features, pos)``, both ``(B, out_dim, H, W)``.
        """
        x = self.pix_feat_proj(pix_feat) + self.mask_downsampler(mask_for_mem)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x).to(x.dtype)
