"""The engine SAM 2 weights build, a :class:`~segany_video.models.base.PromptableSegmenter`.

:meth:`Sam2ImageSegmenter.embed` encodes batches of frames for both ways of running SAM 2 (the
video mode's memory loop reads the same :class:`Sam2Features`). :meth:`Sam2ImageSegmenter.decode`
is image mode, like Meta's ``SAM2ImagePredictor``: every frame is decoded from its own prompts,
with no memory of other frames; the per-frame tracker supplies the prompts (clicks, boxes, the
previous mask). Outputs equal the predictor's as ``build_sam2`` builds it (dynamic multimask on),
for N objects in one decoder call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.models.sam2.model import FrameResize, Sam2Model
from segany_video.models.sam2.prompt_encoder import build_image_prompt_batch

# Meta's predictor hands back low-res logits clamped to this range (its mask-prompt format).
LOW_RES_LOGIT_LIMIT = 32.0


@dataclass(frozen=True)
class Sam2Features:
    """One frame's SAM 2 encoding.

    Attributes:
        top: ``(C, h, w)`` stride-16 features, without ``no_mem_embed`` (video mode adds
            memory instead).
        high_res: ``(C/8, 4h, 4w)`` and ``(C/4, 2h, 2w)`` projected high-resolution levels.
        original_size: ``(H, W)`` of the source frame.
    """

    top: torch.Tensor
    high_res: tuple[torch.Tensor, torch.Tensor]
    original_size: tuple[int, int]

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the source frame."""
        return self.original_size


class Sam2ImageSegmenter(Sam2Model):
    """A :class:`Sam2Model` with the :class:`~segany_video.models.base.PromptableSegmenter`
    methods. Its ``state_dict`` is the official checkpoint's.
    """

    info: EngineInfo = EngineInfo(name="sam2", description="SAM 2")
    #: How :meth:`embed` resizes frames: ``"bilinear"`` as ``SAM2ImagePredictor``, or
    #: ``"pil_bicubic"`` as ``SAM2VideoPredictor`` reading a JPEG folder (see
    #: :meth:`~segany_video.models.sam2.model.Sam2Model.preprocess`).
    frame_resize: FrameResize = "bilinear"

    @torch.inference_mode()
    def embed(self, frames: torch.Tensor) -> list[Sam2Features]:
        """Preprocess and encode a batch of frames in one forward pass.

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB on :attr:`device`, all the same size.

        Returns:
            B :class:`Sam2Features`, in order.
        """
        features = self.backbone(self.preprocess(frames, self.frame_resize))
        size = (int(frames.shape[1]), int(frames.shape[2]))
        s0, s1 = features.high_res
        return [
            Sam2Features(top, (a, b), size) for top, a, b in zip(features.top, s0, s1, strict=True)
        ]

    @torch.inference_mode()
    def decode(
        self,
        features: Sam2Features,
        prompts: Sequence[ObjectPrompt],
        *,
        multimask: bool = True,
    ) -> MaskCandidates:
        """Decode all N objects of one frame in one batched decoder call.

        Args:
            features: The frame's :class:`Sam2Features` from :meth:`embed`.
            prompts: One prompt per object; points ``(x, y)`` and boxes ``XYXY`` in source
                pixels, ``low_res_logits`` as returned here, ``mask`` priors at frame size.
            multimask: Three candidates per object, or one (the single-mask output, or the
                best candidate where that is unstable).

        Returns:
            Logits ``(N, K, H, W)``, predicted IoU ``(N, K)``, low-res logits
            ``(N, K, 4h, 4w)`` clamped to ``±32`` and object-score logits ``(N, 1)``, all
            float32.

        Raises:
            PromptError: no prompts, or a dense prompt of the wrong shape.
        """
        if not isinstance(features, Sam2Features):
            raise TypeError(f"{self.info.name} decodes Sam2Features, got {type(features).__name__}")
        config = self.config
        top, high_res = features.top, features.high_res
        if top.dtype != self.dtype and not torch.is_autocast_enabled(top.device.type):
            # Embedded under autocast but decoded outside it: decode in the weights' dtype.
            top, high_res = (
                top.to(self.dtype),
                (high_res[0].to(self.dtype), high_res[1].to(self.dtype)),
            )
        dtype = top.dtype
        batch = build_image_prompt_batch(
            prompts, features.original_size, config.image_size, config.low_res_size, top.device
        )
        pe = self.sam_prompt_encoder
        # (C, h, w) -> (1, C, h, w); image mode always sees "no memory".
        image = top[None] + self.no_mem_embed.to(dtype).reshape(1, -1, 1, 1)
        src = image + pe.no_mask_dense().to(dtype)
        if batch.dense_logits is not None:
            dense = pe.embed_masks(batch.dense_logits.to(dtype))
            src = src.expand(batch.num_objects, -1, -1, -1).clone()
            src[batch.dense_index] = image + dense
        out = self.sam_mask_decoder(
            src,
            pe.get_dense_pe().to(dtype),
            pe.embed_sparse(batch.coords, batch.codes).to(dtype),
            multimask_output=multimask,
            high_res=(high_res[0][None], high_res[1][None]),
            token_valid=batch.token_valid,
        )
        low_res = out.masks.float()
        logits = F.interpolate(
            low_res, features.original_size, mode="bilinear", align_corners=False
        )
        return MaskCandidates(
            logits=logits,
            scores=out.iou.float(),
            low_res_logits=low_res.clamp(-LOW_RES_LOGIT_LIMIT, LOW_RES_LOGIT_LIMIT),
            object_score_logits=out.object_score_logits.float(),
        )
