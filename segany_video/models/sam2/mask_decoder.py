"""SAM 2's mask decoder: SAM's two-way transformer and hypernetwork heads, plus what SAM 2 adds.

- An object-score token and head: a logit saying whether the object is in the frame at all.
- High-resolution features: the encoder's stride-4 and stride-8 levels, projected by
  ``conv_s0``/``conv_s1``, are added inside the upscaling path.
- Dynamic multimask: asked for one mask, the decoder falls back to the best of its three
  candidates when the single-mask output is unstable (its area changes by more than
  ``1 - thresh`` when the logit threshold moves by ``±delta``).
- Which output token becomes the object pointer for video memory.

Parameter names follow the official checkpoints (``obj_score_token``, ``iou_token``,
``mask_tokens``, ``output_upscaling.{0,1,3}``, ``conv_s0``, ``conv_s1``,
``output_hypernetworks_mlps.{i}.layers.{j}``, ``iou_prediction_head.layers.{j}``,
``pred_obj_score_head.layers.{j}`` (or ``.weight``/``.bias`` without the MLP), ``transformer.*``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from segany_video.models.sam.layers import MLP, LayerNorm2d
from segany_video.models.sam.transformer import TwoWayTransformer

# Object score of a decoder without an object-score head: sigmoid(10) ~ 1, always present.
ALWAYS_PRESENT_LOGIT = 10.0


@dataclass(frozen=True)
class DecoderSettings:
    """How the decoder chooses its outputs (Meta's model flags, not weights).

    Attributes:
        iou_sigmoid: Squash predicted IoU into ``[0, 1]``.
        pred_obj_scores: The decoder has an object-score token and head.
        pred_obj_scores_mlp: The object-score head is a 3-layer MLP, not one Linear.
        use_multimask_token_for_obj_ptr: With multimask output, return the three candidates'
            tokens for the object pointer (else always the single-mask token).
        dynamic_multimask: Single-mask requests may fall back to the best candidate.
        stability_delta: Logit offset of the stability test.
        stability_thresh: Smallest stable area ratio.
    """

    iou_sigmoid: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    dynamic_multimask: bool = True
    stability_delta: float = 0.05
    stability_thresh: float = 0.98


@dataclass(frozen=True)
class DecoderOutput:
    """What :class:`Sam2MaskDecoder` returns for N objects.

    Attributes:
        masks: ``(N, K, 4h, 4w)`` low-res mask logits, K = 3 (multimask) or 1.
        iou: ``(N, K)`` predicted IoU.
        sam_tokens: ``(N, K', C)`` output tokens for the object pointer (K' = 3 or 1).
        object_score_logits: ``(N, 1)`` object-presence logits.
    """

    masks: torch.Tensor
    iou: torch.Tensor
    sam_tokens: torch.Tensor
    object_score_logits: torch.Tensor


def stability_scores(logits: torch.Tensor, delta: float) -> torch.Tensor:
    """Area ratio of ``logits > delta`` to ``logits > -delta`` per mask: ``(..., H, W) -> (...)``.

    An empty mask counts as perfectly stable (1).
    """
    flat = logits.flatten(-2)
    inner = (flat > delta).sum(-1).float()
    outer = (flat > -delta).sum(-1).float()
    return torch.where(outer > 0, inner / outer, 1.0)


class Sam2MaskDecoder(nn.Module):
    """Predicts three candidate masks plus a single-output mask, their IoU and object scores.

    Args:
        transformer_dim: Token width (256).
        transformer: The two-way transformer (token MLPs named ``layers.{0,1}``).
        settings: Output rules.
        num_multimask_outputs: Candidates in multimask mode (3).
        iou_head_hidden_dim: Hidden width of the IoU head (256).
        use_high_res_features: Build ``conv_s0``/``conv_s1`` and fuse the stride-4/8 levels.
    """

    def __init__(
        self,
        *,
        transformer_dim: int,
        transformer: TwoWayTransformer,
        settings: DecoderSettings,
        num_multimask_outputs: int = 3,
        iou_head_hidden_dim: int = 256,
        use_high_res_features: bool = True,
    ) -> None:
        super().__init__()
        c = transformer_dim
        self.settings = settings
        self.transformer = transformer
        self.num_mask_tokens = num_multimask_outputs + 1
        self.iou_token = nn.Embedding(1, c)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, c)
        if settings.pred_obj_scores:
            self.obj_score_token = nn.Embedding(1, c)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(c, c // 4, kernel_size=2, stride=2),
            LayerNorm2d(c // 4),
            nn.GELU(),
            nn.ConvTranspose2d(c // 4, c // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        self.use_high_res_features = use_high_res_features
        if use_high_res_features:
            self.conv_s0 = nn.Conv2d(c, c // 8, kernel_size=1)
            self.conv_s1 = nn.Conv2d(c, c // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(c, c, c // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(c, iou_head_hidden_dim, self.num_mask_tokens, 3)
        if settings.pred_obj_scores:
            self.pred_obj_score_head = (
                MLP(c, c, 1, 3) if settings.pred_obj_scores_mlp else nn.Linear(c, 1)
            )

    def project_high_res(
        self, stride4: torch.Tensor, stride8: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder's stride-4 and stride-8 levels as the upscaling path adds them.

        ``(B, C, 4h, 4w), (B, C, 2h, 2w) -> (B, C/8, 4h, 4w), (B, C/4, 2h, 2w)``; computed once
        per frame, not per prompt.
        """
        return self.conv_s0(stride4), self.conv_s1(stride8)

    def _output_tokens(self, n: int, dtype: torch.dtype) -> torch.Tensor:
        weights = [self.iou_token.weight, self.mask_tokens.weight]
        if self.settings.pred_obj_scores:
            weights.insert(0, self.obj_score_token.weight)
        return torch.cat(weights)[None].expand(n, -1, -1).to(dtype)

    def _upscale(
        self, src: torch.Tensor, high_res: tuple[torch.Tensor, torch.Tensor] | None
    ) -> torch.Tensor:
        if not self.use_high_res_features:
            return self.output_upscaling(src)
        if high_res is None:
            raise ValueError("this decoder needs the high-resolution features (feat_s0, feat_s1)")
        deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res
        x = act1(norm1(deconv1(src) + feat_s1))
        return act2(deconv2(x) + feat_s0)

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        *,
        multimask_output: bool,
        high_res: tuple[torch.Tensor, torch.Tensor] | None = None,
        token_valid: torch.Tensor | None = None,
    ) -> DecoderOutput:
        """Predict masks for N objects.

        Args:
            image_embedding: ``(N|1, C, h, w)`` image embedding with the dense prompt added;
                batch 1 when all N objects share it.
            image_pe: ``(1, C, h, w)`` positional encoding of the embedding grid.
            sparse_prompt_embeddings: ``(N, T, C)`` prompt tokens.
            multimask_output: Return the three candidates (True) or one mask (False).
            high_res: ``(N|1, C/8, 4h, 4w)`` and ``(N|1, C/4, 2h, 2w)`` from
                :meth:`project_high_res`.
            token_valid: ``(N, T)`` bool, False for batch-padding prompt tokens.

        Returns:
            The :class:`DecoderOutput`.
        """
        n = sparse_prompt_embeddings.shape[0]
        output_tokens = self._output_tokens(n, sparse_prompt_embeddings.dtype)
        s = 1 if self.settings.pred_obj_scores else 0
        tokens = torch.cat([output_tokens, sparse_prompt_embeddings], dim=1)
        if token_valid is not None:
            token_valid = torch.cat(
                [token_valid.new_ones(n, output_tokens.shape[1]), token_valid], 1
            )
        hs, src = self.transformer(image_embedding, image_pe, tokens, token_valid)
        c, h, w = image_embedding.shape[1:]
        # (N, h*w, C) -> (N, C, h, w)
        upscaled = self._upscale(src.transpose(1, 2).reshape(n, c, h, w), high_res)

        mask_tokens_out = hs[:, s + 1 : s + 1 + self.num_mask_tokens]  # (N, 4, C)
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )  # (N, 4, C/8)
        _, c8, h4, w4 = upscaled.shape
        masks = (hyper_in @ upscaled.reshape(n, c8, h4 * w4)).view(n, -1, h4, w4)
        iou = self.iou_prediction_head(hs[:, s])
        if self.settings.iou_sigmoid:
            iou = iou.sigmoid()
        if self.settings.pred_obj_scores:
            object_score_logits = self.pred_obj_score_head(hs[:, 0])
        else:
            object_score_logits = iou.new_full((n, 1), ALWAYS_PRESENT_LOGIT)

        if multimask_output:
            masks, iou = masks[:, 1:], iou[:, 1:]
        elif self.settings.dynamic_multimask and not self.training:
            masks, iou = self._dynamic_single_mask(masks, iou)
        else:
            masks, iou = masks[:, :1], iou[:, :1]
        if multimask_output and self.settings.use_multimask_token_for_obj_ptr:
            sam_tokens = mask_tokens_out[:, 1:]
        else:
            # The single-mask token is what the memory was trained to see as the pointer.
            sam_tokens = mask_tokens_out[:, :1]
        return DecoderOutput(masks, iou, sam_tokens, object_score_logits)

    def _dynamic_single_mask(
        self, masks: torch.Tensor, iou: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token 0's mask where it is stable, else the candidate with the best predicted IoU.

        ``(N, 4, H, W), (N, 4) -> (N, 1, H, W), (N, 1)``.
        """
        rows = torch.arange(masks.shape[0], device=masks.device)
        best = iou[:, 1:].argmax(-1) + 1
        best_masks, best_iou = masks[rows, best][:, None], iou[rows, best][:, None]
        single_masks, single_iou = masks[:, :1], iou[:, :1]
        s = self.settings
        stable = stability_scores(single_masks, s.stability_delta) >= s.stability_thresh  # (N, 1)
        return (
            torch.where(stable[..., None, None], single_masks, best_masks),
            torch.where(stable, single_iou, best_iou),
        )
