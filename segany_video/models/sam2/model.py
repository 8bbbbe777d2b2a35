"""The SAM 2 model: its modules and parameters under the official checkpoint names, and the
single-frame steps image and video mode share.

- :meth:`Sam2Model.preprocess`: frames to the square, normalised model input.
- :meth:`Sam2Model.backbone`: image encoder plus the decoder's projections of the stride-4 and
  stride-8 levels (Meta's ``forward_image``), once per frame.
- :meth:`Sam2Model.sam_heads`: prompt encoder, mask decoder, best-candidate choice, object
  pointer and object-score handling for a batch of objects (Meta's ``_forward_sam_heads``).
- :meth:`Sam2Model.mask_as_output`: a mask prompt taken as the output (``_use_mask_as_output``).

Memory attention and the memory encoder live here as modules (their weights are part of the
checkpoint); the video engine drives them. The model holds no non-persistent buffers, so it can
be built on the ``meta`` device and loaded with ``assign=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.layers import MLP
from segany_video.models.sam2.frame_resize import resize_like_pil
from segany_video.models.sam2.mask_decoder import Sam2MaskDecoder
from segany_video.models.sam2.neck import ImageEncoder
from segany_video.models.sam2.prompt_encoder import PromptEncoder, append_pad_token

if TYPE_CHECKING:
    from segany_video.models.sam2.variants import Sam2Config

#: How frames are resized to the model input: as the image predictor or the video predictor does.
FrameResize = Literal["bilinear", "pil_bicubic"]
#: Mask logit given to every pixel of an object the decoder scores as absent.
NO_OBJ_SCORE = -1024.0
# A mask given as output becomes logits -10 (background) / +10 (object).
MASK_OUT_SCALE, MASK_OUT_BIAS = 20.0, -10.0


@dataclass(frozen=True)
class BackboneFeatures:
    """A batch of encoded frames.

    Attributes:
        top: ``(B, C, h, w)`` stride-16 features (without ``no_mem_embed``).
        high_res: ``(B, C/8, 4h, 4w)`` and ``(B, C/4, 2h, 2w)``: the stride-4 and stride-8
            levels through the decoder's ``conv_s0``/``conv_s1``.
        top_pos: ``(1, C, h, w)`` position encoding of the stride-16 grid.
    """

    top: torch.Tensor
    high_res: tuple[torch.Tensor, torch.Tensor]
    top_pos: torch.Tensor


@dataclass(frozen=True)
class SamHeadsOutput:
    """The SAM heads' answer for B objects (Meta's ``_forward_sam_heads`` tuple).

    Attributes:
        low_res_multimasks: ``(B, K, 4h, 4w)`` float32 logits, K = 3 or 1; absent objects'
            masks are :data:`NO_OBJ_SCORE` everywhere.
        high_res_multimasks: ``(B, K, S, S)`` the same at input resolution.
        ious: ``(B, K)`` predicted IoU.
        low_res_masks: ``(B, 1, 4h, 4w)`` the candidate with the best predicted IoU.
        high_res_masks: ``(B, 1, S, S)``.
        obj_ptr: ``(B, C)`` object pointer.
        object_score_logits: ``(B, 1)`` object-presence logits.
    """

    low_res_multimasks: torch.Tensor
    high_res_multimasks: torch.Tensor
    ious: torch.Tensor
    low_res_masks: torch.Tensor
    high_res_masks: torch.Tensor
    obj_ptr: torch.Tensor
    object_score_logits: torch.Tensor


class Sam2Model(nn.Module):
    """SAM 2 / 2.1: attribute names equal the official checkpoint's key prefixes.

    Args:
        config: The variant's :class:`~segany_video.models.sam2.variants.Sam2Config`.
        image_encoder: Hiera trunk plus FPN neck.
        prompt_encoder: The prompt encoder.
        mask_decoder: The SAM 2 mask decoder.
        memory_attention: Conditions a frame's features on memories.
        memory_encoder: Turns a frame's features and mask into a memory.
    """

    def __init__(
        self,
        config: Sam2Config,
        *,
        image_encoder: ImageEncoder,
        prompt_encoder: PromptEncoder,
        mask_decoder: Sam2MaskDecoder,
        memory_attention: nn.Module,
        memory_encoder: nn.Module,
    ) -> None:
        super().__init__()
        self.config = config
        c, mem = config.hidden_dim, config.mem_dim
        self.image_encoder = image_encoder
        self.sam_prompt_encoder = prompt_encoder
        self.sam_mask_decoder = mask_decoder
        self.memory_attention = memory_attention
        self.memory_encoder = memory_encoder
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(config.num_maskmem, 1, 1, mem))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, c))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, c))
        self.mask_downsample: nn.Conv2d | None = None
        self.obj_ptr_proj: nn.Module | None = None
        self.no_obj_ptr: nn.Parameter | None = None
        if config.use_obj_ptrs_in_encoder:
            # Brings a [0, 1] mask to the low-res grid and logit scale, to get a pointer from it.
            self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
            self.obj_ptr_proj = (
                MLP(c, c, c, 3) if config.use_mlp_for_obj_ptr_proj else nn.Linear(c, c)
            )
            if config.pred_obj_scores:
                self.no_obj_ptr = nn.Parameter(torch.zeros(1, c))
        self.obj_ptr_tpos_proj = nn.Linear(c, mem) if config.proj_tpos_enc_in_obj_ptrs else None
        self.no_obj_embed_spatial = (
            nn.Parameter(torch.zeros(1, mem)) if config.no_obj_embed_spatial else None
        )

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.no_mem_embed.dtype

    # -- images ---------------------------------------------------------------------------

    def preprocess(self, frames: torch.Tensor, resize: FrameResize = "bilinear") -> torch.Tensor:
        """Frames to the square, normalised model input, as one of Meta's predictors does it.

        - ``"bilinear"``: ``SAM2ImagePredictor``: scaled to ``[0, 1]``, resized to ``S x S``
          (bilinear, antialiased, as torchvision's tensor ``Resize``), normalised.
        - ``"pil_bicubic"``: ``SAM2VideoPredictor`` on a JPEG folder: resized to ``S x S`` as
          Pillow's bicubic ``resize`` does (uint8, bit for bit), scaled to ``[0, 1]`` and
          normalised in float32.

        Either way the aspect ratio is not kept (SAM 2 works on the stretched square).

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB.
            resize: Which predictor's resizing to reproduce.

        Returns:
            ``(B, 3, S, S)`` float32.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(
                f"frames must be (B, H, W, 3) uint8 RGB, got {tuple(frames.shape)} {frames.dtype}"
            )
        size = self.config.image_size
        mean = torch.tensor(self.config.pixel_mean, device=frames.device).view(1, 3, 1, 1)
        std = torch.tensor(self.config.pixel_std, device=frames.device).view(1, 3, 1, 1)
        if resize == "pil_bicubic":
            # Meta divides in float64 and casts; for uint8 values that equals float32 division.
            x = resize_like_pil(frames, (size, size)).permute(0, 3, 1, 2).to(torch.float32) / 255.0
        elif resize == "bilinear":
            x = frames.permute(0, 3, 1, 2).to(torch.float32) / 255.0
            if tuple(x.shape[-2:]) != (size, size):
                x = F.interpolate(
                    x, (size, size), mode="bilinear", align_corners=False, antialias=True
                )
        else:
            raise ValueError(f"resize must be 'bilinear' or 'pil_bicubic', got {resize!r}")
        return ((x - mean) / std).contiguous()

    def backbone(self, images: torch.Tensor) -> BackboneFeatures:
        """Encode ``(B, 3, S, S)`` preprocessed images (Meta's ``forward_image``)."""
        encoded = self.image_encoder(images.to(self.dtype))
        stride4, stride8, top = encoded.levels
        if self.config.use_high_res_features_in_sam:
            high_res = self.sam_mask_decoder.project_high_res(stride4, stride8)
        else:
            high_res = (stride4, stride8)
        return BackboneFeatures(top=top, high_res=high_res, top_pos=encoded.top_pos)

    # -- SAM heads ------------------------------------------------------------------------

    def use_multimask(self, is_init_cond_frame: bool, num_points: int) -> bool:
        """Whether a frame asks the decoder for three candidates (Meta's ``_use_multimask``).

        Args:
            is_init_cond_frame: The object's first prompted frame.
            num_points: Click count including box corners (0 without clicks).
        """
        c = self.config
        return (
            c.multimask_output_in_sam
            and (is_init_cond_frame or c.multimask_output_for_tracking)
            and c.multimask_min_pt_num <= num_points <= c.multimask_max_pt_num
        )

    def _mask_prompt(self, mask_inputs: torch.Tensor) -> torch.Tensor:
        size = self.sam_prompt_encoder.mask_input_size
        if tuple(mask_inputs.shape[-2:]) == tuple(size):
            return mask_inputs
        return F.interpolate(
            mask_inputs.float(), size=size, mode="bilinear", align_corners=False, antialias=True
        )

    def _pointer(
        self, token: torch.Tensor, present: torch.Tensor, score_logits: torch.Tensor
    ) -> torch.Tensor:
        """Object pointer from the chosen output token, replaced/mixed for absent objects."""
        ptr = self.obj_ptr_proj(token) if self.obj_ptr_proj is not None else token
        if not self.config.pred_obj_scores or self.no_obj_ptr is None:
            return ptr
        weight = score_logits.sigmoid() if self.config.soft_no_obj_ptr else present.float()
        if self.config.fixed_no_obj_ptr:
            ptr = weight * ptr
        return ptr + (1 - weight) * self.no_obj_ptr

    def sam_heads(
        self,
        features: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor] | None,
        point_coords: torch.Tensor | None = None,
        point_labels: torch.Tensor | None = None,
        mask_inputs: torch.Tensor | None = None,
        *,
        multimask: bool = False,
    ) -> SamHeadsOutput:
        """Decode B objects, each with its own features (Meta's ``_forward_sam_heads``).

        Args:
            features: ``(B, C, h, w)`` per-object features (memory-conditioned in video mode).
            high_res: ``(B, C/8, 4h, 4w)`` and ``(B, C/4, 2h, 2w)`` from :meth:`backbone`.
            point_coords: ``(B, P, 2)`` ``(x, y)`` in pixels of the ``S x S`` input, or None.
            point_labels: ``(B, P)`` int: 1 positive, 0 negative, 2/3 box corners, -1 pad.
            mask_inputs: ``(B, 1, H', W')`` mask prompt (logits or probabilities), resized to
                the low-res grid when it has another size; or None.
            multimask: Ask for three candidates.

        Returns:
            The :class:`SamHeadsOutput`.
        """
        b, device = features.shape[0], features.device
        if point_coords is None:
            # No clicks: one pad point (the encoder appends a second one).
            point_coords = torch.zeros(b, 1, 2, device=device)
            point_labels = -torch.ones(b, 1, dtype=torch.int32, device=device)
        coords, codes = append_pad_token(point_coords.to(torch.float32), point_labels.long())
        pe = self.sam_prompt_encoder
        sparse = pe.embed_sparse(coords, codes).to(features.dtype)
        if mask_inputs is not None:
            dense = pe.embed_masks(self._mask_prompt(mask_inputs).to(features.dtype))
        else:
            dense = pe.no_mask_dense().to(features.dtype)
        decoded = self.sam_mask_decoder(
            features + dense,
            pe.get_dense_pe().to(features.dtype),
            sparse,
            multimask_output=multimask,
            high_res=high_res,
        )
        present = decoded.object_score_logits > 0  # (B, 1)
        low_res_multi = decoded.masks
        if self.config.pred_obj_scores:
            # Memories take a hard present/absent decision, consistent with the mask.
            low_res_multi = torch.where(present[:, :, None, None], low_res_multi, NO_OBJ_SCORE)
        low_res_multi = low_res_multi.float()
        size = self.config.image_size
        high_res_multi = F.interpolate(
            low_res_multi, size=(size, size), mode="bilinear", align_corners=False
        )
        token = decoded.sam_tokens[:, 0]
        if multimask:
            rows = torch.arange(b, device=device)
            best = decoded.iou.argmax(-1)
            low_res_best = low_res_multi[rows, best][:, None]
            high_res_best = high_res_multi[rows, best][:, None]
            if decoded.sam_tokens.shape[1] > 1:
                token = decoded.sam_tokens[rows, best]
        else:
            low_res_best, high_res_best = low_res_multi, high_res_multi
        return SamHeadsOutput(
            low_res_multimasks=low_res_multi,
            high_res_multimasks=high_res_multi,
            ious=decoded.iou,
            low_res_masks=low_res_best,
            high_res_masks=high_res_best,
            obj_ptr=self._pointer(token, present, decoded.object_score_logits),
            object_score_logits=decoded.object_score_logits,
        )

    def mask_as_output(
        self,
        features: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor] | None,
        mask_inputs: torch.Tensor,
    ) -> SamHeadsOutput:
        """Take a mask prompt as the output itself (Meta's ``_use_mask_as_output``).

        The mask becomes logits ``-10``/``+10``; the decoder still runs on it (through
        ``mask_downsample``) to give the object pointer. The object counts as present when
        any pixel is set, and its IoU as 1.

        Args:
            features: ``(B, C, h, w)`` per-object features.
            high_res: As for :meth:`sam_heads`.
            mask_inputs: ``(B, 1, S, S)`` float or bool mask at input resolution.
        """
        masks = mask_inputs.float()
        high_res_masks = masks * MASK_OUT_SCALE + MASK_OUT_BIAS
        low_res_masks = F.interpolate(
            high_res_masks,
            size=(high_res_masks.shape[-2] // 4, high_res_masks.shape[-1] // 4),
            mode="bilinear",
            align_corners=False,
            antialias=True,
        )
        b = masks.shape[0]
        ious = masks.new_ones(b, 1)
        if self.mask_downsample is None:
            ptr = torch.zeros(b, self.config.hidden_dim, device=masks.device)
        else:
            ptr = self.sam_heads(
                features, high_res, mask_inputs=self.mask_downsample(masks.to(features.dtype))
            ).obj_ptr
        present = (masks.flatten(1) > 0).any(dim=1, keepdim=True)
        score_logits = present.float() * MASK_OUT_SCALE + MASK_OUT_BIAS
        if self.config.pred_obj_scores and self.no_obj_ptr is not None:
            weight = present.float()
            if self.config.fixed_no_obj_ptr:
                ptr = weight * ptr
            ptr = ptr + (1 - weight) * self.no_obj_ptr
        return SamHeadsOutput(
            low_res_multimasks=low_res_masks,
            high_res_multimasks=high_res_masks,
            ious=ious,
            low_res_masks=low_res_masks,
            high_res_masks=high_res_masks,
            obj_ptr=ptr,
            object_score_logits=score_logits,
        )
