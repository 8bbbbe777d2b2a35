"""The SAM ViT variants (vit_b, vit_l, vit_h) and a builder that assembles a :class:`SamModel`.

The sizes are those of Meta's official configs; reduced configs (a few blocks, narrow tokens,
a small input) build the same architecture for tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from segany_video.models.base import EngineInfo
from segany_video.models.sam.image_encoder import ImageEncoderViT
from segany_video.models.sam.mask_decoder import MaskDecoder
from segany_video.models.sam.model import SamModel
from segany_video.models.sam.prompt_encoder import PromptEncoder
from segany_video.models.sam.transformer import TwoWayTransformer


@dataclass(frozen=True)
class SamVitConfig:
    """Sizes of a SAM model with a ViT image encoder.

    Attributes:
        name: Variant name, e.g. ``"vit_b"``.
        embed_dim: Encoder token width.
        depth: Encoder blocks.
        num_heads: Encoder attention heads.
        global_attn_indexes: Encoder blocks with global attention; the rest use windows.
        window_size: Encoder window side.
        img_size: Side of the square encoder input.
        patch_size: Encoder patch side.
        prompt_embed_dim: Width of the image embedding, prompt tokens and decoder (256).
        decoder_depth: Two-way transformer blocks.
        decoder_heads: Decoder attention heads.
        decoder_mlp_dim: Decoder token MLP width.
        mask_in_chans: Hidden channels of the mask-prompt downscaling.
        iou_head_hidden_dim: Hidden width of the IoU head.
    """

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int = 14
    img_size: int = 1024
    patch_size: int = 16
    prompt_embed_dim: int = 256
    decoder_depth: int = 2
    decoder_heads: int = 8
    decoder_mlp_dim: int = 2048
    mask_in_chans: int = 16
    iou_head_hidden_dim: int = 256
    pixel_mean: tuple[float, float, float] = field(default=(123.675, 116.28, 103.53))
    pixel_std: tuple[float, float, float] = field(default=(58.395, 57.12, 57.375))

    def __post_init__(self) -> None:
        object.__setattr__(self, "global_attn_indexes", tuple(self.global_attn_indexes))
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"{self.name}: num_heads {self.num_heads} must divide embed_dim {self.embed_dim}"
            )
        if self.img_size % self.patch_size:
            raise ValueError(
                f"{self.name}: patch_size {self.patch_size} must divide img_size {self.img_size}"
            )
        bad = [i for i in self.global_attn_indexes if not 0 <= i < self.depth]
        if bad:
            raise ValueError(f"{self.name}: global_attn_indexes {bad} outside 0..{self.depth - 1}")

    @property
    def embedding_size(self) -> int:
        """Side of the image embedding grid (64 for the official models)."""
        return self.img_size // self.patch_size


#: The official variants, by the names Meta's ``sam_model_registry`` uses.
SAM_VIT_CONFIGS: dict[str, SamVitConfig] = {
    "vit_b": SamVitConfig("vit_b", 768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamVitConfig("vit_l", 1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamVitConfig("vit_h", 1280, 32, 16, (7, 15, 23, 31)),
}


def build_sam_decoder_parts(
    config: SamVitConfig,
) -> tuple[PromptEncoder, MaskDecoder]:
    """The prompt encoder and mask decoder SAM and MobileSAM share, sized by ``config``."""
    grid = config.embedding_size
    prompt_encoder = PromptEncoder(
        embed_dim=config.prompt_embed_dim,
        image_embedding_size=(grid, grid),
        input_image_size=(config.img_size, config.img_size),
        mask_in_chans=config.mask_in_chans,
    )
    mask_decoder = MaskDecoder(
        transformer_dim=config.prompt_embed_dim,
        transformer=TwoWayTransformer(
            depth=config.decoder_depth,
            embedding_dim=config.prompt_embed_dim,
            num_heads=config.decoder_heads,
            mlp_dim=config.decoder_mlp_dim,
        ),
        num_multimask_outputs=3,
        iou_head_hidden_dim=config.iou_head_hidden_dim,
    )
    return prompt_encoder, mask_decoder


def build_sam_vit(variant: str | SamVitConfig) -> SamModel:
    """Build an uninitialised-weights SAM ViT model in eval mode.

    Args:
        variant: ``"vit_b"``, ``"vit_l"``, ``"vit_h"`` (also accepted with a ``"sam_"`` prefix),
            or a :class:`SamVitConfig`.

    Returns:
        The model on the current default device; load a checkpoint into it with
        ``load_state_dict(state_dict, strict=True)``.

    Raises:
        KeyError: for an unknown variant name.
    """
    if isinstance(variant, str):
        key = variant.removeprefix("sam_")
        if key not in SAM_VIT_CONFIGS:
            raise KeyError(
                f"unknown SAM variant {variant!r}: expected one of {sorted(SAM_VIT_CONFIGS)}"
            )
        config = SAM_VIT_CONFIGS[key]
    else:
        config = variant
    encoder = ImageEncoderViT(
        img_size=config.img_size,
        patch_size=config.patch_size,
        embed_dim=config.embed_dim,
        depth=config.depth,
        num_heads=config.num_heads,
        global_attn_indexes=config.global_attn_indexes,
        window_size=config.window_size,
        out_chans=config.prompt_embed_dim,
    )
    prompt_encoder, mask_decoder = build_sam_decoder_parts(config)
    info = EngineInfo(
        name=f"sam_{config.name}",
        description=f"Segment Anything {config.name.replace('_', '-').upper()}",
    )
    model = SamModel(
        encoder,
        prompt_encoder,
        mask_decoder,
        info=info,
        pixel_mean=config.pixel_mean,
        pixel_std=config.pixel_std,
    )
    return model.eval()
