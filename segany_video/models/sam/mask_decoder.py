"""SAM's mask decoder: output tokens run through the two-way transformer, then hypernetwork
MLPs turn mask tokens into per-pixel mask logits and an MLP head predicts each mask's IoU.

Parameter names follow the official checkpoints (``iou_token``, ``mask_tokens``,
``output_upscaling.{0,1,3}``, ``output_hypernetworks_mlps.{i}.layers.{j}``,
``iou_prediction_head.layers.{j}``, ``transformer.*``).
"""

from __future__ import annotations

import torch
from torch import nn

from segany_video.models.sam.layers import MLP, LayerNorm2d
from segany_video.models.sam.transformer import TwoWayTransformer


class MaskDecoder(nn.Module):
    """Predicts ``num_multimask_outputs`` candidate masks plus one single-output mask.

    Token 0 of the mask tokens is the single-output mask; tokens ``1..K`` are the multimask
    candidates.

    Args:
        transformer_dim: Token width (256).
        transformer: The two-way transformer.
        num_multimask_outputs: Candidates in multimask mode (3).
        iou_head_depth: Layers of the IoU head (3).
        iou_head_hidden_dim: Hidden width of the IoU head (256).
    """

    def __init__(
        self,
        *,
        transformer_dim: int = 256,
        transformer: TwoWayTransformer,
        num_multimask_outputs: int = 3,
        iou_head_depth: int = 3,
        iou_head_hidden_dim: int = 256,
    ) -> None:
        super().__init__()
        self.transformer_dim = transformer_dim
        self.transformer = transformer
        self.num_multimask_outputs = num_multimask_outputs
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, transformer_dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, transformer_dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(transformer_dim, transformer_dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(transformer_dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(transformer_dim // 4, transformer_dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(transformer_dim, transformer_dim, transformer_dim // 8, 3)
            for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            transformer_dim, iou_head_hidden_dim, self.num_mask_tokens, iou_head_depth
        )

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        *,
        multimask_output: bool,
        token_valid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict masks for N objects of one image.

        Args:
            image_embedding: ``(N|1, C, h, w)`` image embedding with each object's dense prompt
                embedding already added; batch 1 when all N objects share it.
            image_pe: ``(1, C, h, w)`` positional encoding of the embedding grid.
            sparse_prompt_embeddings: ``(N, T, C)`` prompt tokens.
            multimask_output: Return the K candidates (True) or the single mask (False).
            token_valid: ``(N, T)`` bool, False for batch-padding prompt tokens; None: all valid.

        Returns:
            ``(N, K, 4h, 4w)`` low-res mask logits and ``(N, K)`` predicted IoU, K = 3 or 1.
        """
        n = sparse_prompt_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight])
        output_tokens = output_tokens[None].expand(n, -1, -1).to(sparse_prompt_embeddings.dtype)
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)
        if token_valid is not None:
            token_valid = torch.cat(
                [token_valid.new_ones(n, output_tokens.shape[1]), token_valid], 1
            )

        hs, src = self.transformer(image_embedding, image_pe, tokens, token_valid)
        b, c, h, w = n, *image_embedding.shape[1:]
        # (N, h*w, C) -> (N, C, h, w) as a channels-last view, which the convolutions take as is
        upscaled = self.output_upscaling(src.transpose(1, 2).view(b, c, h, w))

        selected = range(1, self.num_mask_tokens) if multimask_output else range(1)
        hyper_in = torch.stack(
            [self.output_hypernetworks_mlps[i](hs[:, 1 + i]) for i in selected], dim=1
        )  # (N, K, C/8)
        b, c8, h4, w4 = upscaled.shape
        pixels = upscaled.permute(0, 2, 3, 1).reshape(b, h4 * w4, c8)  # view if channels-last
        masks = (hyper_in @ pixels.transpose(1, 2)).view(b, -1, h4, w4)

        iou_pred = self.iou_prediction_head(hs[:, 0])[:, selected.start : selected.stop]
        return masks, iou_pred
