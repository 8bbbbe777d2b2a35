"""SAM 2's image encoder: the Hiera trunk and a feature-pyramid neck down to one width.

The neck projects every trunk stage to ``d_model`` channels with a ``1x1`` convolution. The
levels listed in ``top_down_levels`` also receive the next-coarser level, upsampled 2x
(nearest); the others keep their own projection only. SAM 2 then drops the coarsest level
(``scalp=1`` in Meta's configs): the decoder works on strides 4, 8 and 16, and the coarsest one
only feeds the top-down path of stride 16.

Parameter names follow the official checkpoints: ``image_encoder.trunk.*`` and
``image_encoder.neck.convs.{j}.conv.*``, where ``convs.0`` projects the coarsest stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam2.hiera import Hiera


class LateralConv(nn.Module):
    """One level's ``1x1`` projection (a module of its own so its keys read ``conv.*``)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class FpnNeck(nn.Module):
    """Feature pyramid over the trunk's stages, with a sine position encoding per level.

    Args:
        d_model: Output width of every level (256).
        backbone_channel_list: Trunk widths, coarsest stage first.
        top_down_levels: Levels (0 = finest) that add the upsampled coarser level.
        position_encoding: Module mapping ``(B, d_model, H, W)`` to its position encoding.
    """

    def __init__(
        self,
        d_model: int,
        backbone_channel_list: Sequence[int],
        top_down_levels: Sequence[int],
        position_encoding: nn.Module,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.backbone_channel_list = tuple(backbone_channel_list)
        self.top_down_levels = frozenset(top_down_levels)
        self.position_encoding = position_encoding
        self.convs = nn.ModuleList(LateralConv(c, d_model) for c in backbone_channel_list)

    def forward(self, stages: Sequence[torch.Tensor], keep: int) -> list[torch.Tensor]:
        """Project the trunk's stages (finest first) to ``d_model`` channels.

        Args:
            stages: One ``(B, C_s, H_s, W_s)`` map per stage, finest first.
            keep: How many of the finest levels to return (the rest only feed the top-down path).

        Returns:
            ``keep`` maps ``(B, d_model, H_s, W_s)``, finest first.
        """
        coarse_first: list[torch.Tensor] = []
        for conv, stage in zip(self.convs, reversed(stages), strict=True):
            lateral = conv(stage)
            level = len(stages) - 1 - len(coarse_first)
            if coarse_first and level in self.top_down_levels:
                # Upsampled in float32 as the reference does, so bf16 runs round alike.
                top_down = F.interpolate(coarse_first[-1].float(), scale_factor=2.0, mode="nearest")
                lateral = lateral + top_down
            coarse_first.append(lateral)
        return coarse_first[::-1][:keep]


@dataclass(frozen=True)
class EncodedImages:
    """What the image encoder gives the rest of SAM 2.

    Attributes:
        levels: ``(B, C, 4h, 4w)``, ``(B, C, 2h, 2w)``, ``(B, C, h, w)``: the strides 4, 8, 16
            (for SAM 2's 1024 input: 256, 128 and 64 cells a side).
        top_pos: ``(1, C, h, w)`` sine position encoding of the stride-16 level.
    """

    levels: tuple[torch.Tensor, ...]
    top_pos: torch.Tensor


class ImageEncoder(nn.Module):
    """Hiera trunk plus FPN neck.

    Args:
        trunk: The Hiera trunk.
        neck: The neck; its ``backbone_channel_list`` must equal the trunk's ``channel_list``.
        scalp: How many of the coarsest levels to drop from the output (1 in SAM 2).
    """

    def __init__(self, trunk: Hiera, neck: FpnNeck, scalp: int = 1) -> None:
        super().__init__()
        if tuple(trunk.channel_list) != tuple(neck.backbone_channel_list):
            raise ValueError(
                f"trunk widths {trunk.channel_list} differ from the neck's "
                f"{neck.backbone_channel_list}"
            )
        self.trunk = trunk
        self.neck = neck
        self.scalp = scalp

    def forward(self, images: torch.Tensor) -> EncodedImages:
        """``(B, 3, S, S)`` normalised images -> pyramid levels and the top position encoding."""
        stages = self.trunk(images)
        levels = self.neck(stages, keep=len(stages) - self.scalp)
        top = levels[-1]
        pos = self.neck.position_encoding(top[:1]).to(top.dtype)
        return EncodedImages(levels=tuple(levels), top_pos=pos)
