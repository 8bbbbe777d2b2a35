"""MobileSAM: the TinyViT-5M image encoder with SAM's own prompt encoder and mask decoder.

Only the encoder differs from SAM (it was distilled from ViT-H); the decoder parts, the
preprocessing (longest side to 1024, ImageNet mean/std in 0..255 units) and the checkpoint's
``prompt_encoder.*`` / ``mask_decoder.*`` keys are SAM's.
"""

from __future__ import annotations

import dataclasses

from segany_video.models.base import EngineInfo
from segany_video.models.sam.model import SamModel
from segany_video.models.sam.tiny_vit import TinyViT, TinyViTConfig
from segany_video.models.sam.variants import SAM_VIT_CONFIGS, build_sam_decoder_parts


def build_mobile_sam(encoder: TinyViTConfig | None = None) -> SamModel:
    """Build MobileSAM with random weights, in eval mode.

    Args:
        encoder: TinyViT shape; None for the official TinyViT-5M. Reduced shapes are for tests.

    Returns:
        A :class:`SamModel` whose state dict has the official ``mobile_sam.pt`` keys and shapes.
    """
    cfg = encoder or TinyViTConfig()
    # SAM's decoder sized for this encoder's input (1024) and embedding width (256).
    decoder_cfg = dataclasses.replace(
        SAM_VIT_CONFIGS["vit_b"],
        name="mobile_sam",
        img_size=cfg.img_size,
        prompt_embed_dim=cfg.out_chans,
    )
    prompt_encoder, mask_decoder = build_sam_decoder_parts(decoder_cfg)
    model = SamModel(
        TinyViT(cfg),
        prompt_encoder,
        mask_decoder,
        info=EngineInfo(name="mobile_sam", description="MobileSAM (TinyViT-5M encoder)"),
        pixel_mean=decoder_cfg.pixel_mean,
        pixel_std=decoder_cfg.pixel_std,
    )
    return model.eval()
