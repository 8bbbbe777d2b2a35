"""The SAM 2 and SAM 2.1 variants, as frozen configs, and the builder of a :class:`Sam2Model`.

Values are those of Meta's YAML configs (``configs/sam2/sam2_hiera_{t,s,b+,l}.yaml`` and
``configs/sam2.1/sam2.1_hiera_{t,s,b+,l}.yaml``) plus what Meta's builders add on top
(``build_sam2`` and ``build_sam2_video_predictor``: dynamic multimask, binarised click masks for
the memory, hole filling up to 8 pixels). SAM 2.1 differs from SAM 2 only in the object pointers'
temporal encoding (projected, signed) and a learned "no object" embedding for spatial memories.

Reduced configs (a few narrow blocks, a small input) build the same architecture for tests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from segany_video.models.sam.layers import MLP
from segany_video.models.sam.transformer import TwoWayTransformer
from segany_video.models.sam2.hiera import Hiera, HieraConfig
from segany_video.models.sam2.mask_decoder import DecoderSettings, Sam2MaskDecoder
from segany_video.models.sam2.memory_attention import MemoryAttention
from segany_video.models.sam2.memory_encoder import MemoryEncoder
from segany_video.models.sam2.model import Sam2Model
from segany_video.models.sam2.neck import FpnNeck, ImageEncoder
from segany_video.models.sam2.position_encoding import SinePositionEncoding
from segany_video.models.sam2.prompt_encoder import PromptEncoder


@dataclass(frozen=True)
class Sam2Config:
    """Sizes and behaviour switches of a SAM 2 model (Meta's config names where they exist).

    Attributes:
        name: Registry name, e.g. ``"sam2.1_hiera_tiny"``.
        trunk: Hiera sizes.
        image_size: Side of the square model input.
        backbone_stride: Stride of the coarsest level the decoder sees.
        hidden_dim: Width of the neck, prompts, decoder and memory attention.
        mem_dim: Width of stored memories.
        num_maskmem: Memories attended to: the conditioning frames' plus the last ``n - 1``.
        memory_attention_layers: Memory-attention layers.
        memory_attention_heads: Memory-attention heads.
        memory_attention_ffn: Memory-attention feed-forward width.
        memory_fuser_layers: ConvNeXt blocks of the memory encoder's fuser.
        fpn_top_down_levels: Neck levels that receive the coarser level.
        scalp: Coarsest neck levels dropped from the output.
        decoder_mlp_dim: Token MLP width of the decoder's transformer.
        decoder_heads: Decoder attention heads.
        decoder_depth: Two-way transformer blocks.
        iou_head_hidden_dim: Hidden width of the IoU head.
        mask_in_chans: Hidden channels of the mask-prompt downscaling.
        use_high_res_features_in_sam: The decoder fuses the stride-4/8 levels.
        use_obj_ptrs_in_encoder: Memory attention also reads object pointers.
        max_obj_ptrs_in_encoder: Object pointers attended to at most.
        add_tpos_enc_to_obj_ptrs: Object pointers carry a temporal position encoding.
        proj_tpos_enc_in_obj_ptrs: That encoding is projected (``obj_ptr_tpos_proj``).
        use_signed_tpos_enc_to_obj_ptrs: The temporal distance keeps its sign.
        only_obj_ptrs_in_the_past_for_eval: Only pointers of earlier frames are used.
        max_cond_frames_in_attn: Conditioning frames attended to at most (-1: all).
        memory_temporal_stride_for_eval: Stride between the non-conditioning memories.
        non_overlap_masks_for_mem_enc: Make masks disjoint before encoding memories.
        directly_add_no_mem_embed: Frames without memory add ``no_mem_embed`` to their features.
        multimask_output_in_sam: Three candidates on initial clicks.
        multimask_min_pt_num: Fewest clicks that get three candidates.
        multimask_max_pt_num: Most clicks that get three candidates.
        multimask_output_for_tracking: Three candidates also while tracking.
        use_multimask_token_for_obj_ptr: The chosen candidate's token becomes the pointer.
        iou_prediction_use_sigmoid: Predicted IoU squashed into ``[0, 1]``.
        pred_obj_scores: The decoder predicts whether the object is present.
        pred_obj_scores_mlp: With a 3-layer MLP head.
        fixed_no_obj_ptr: An absent object's pointer is exactly ``no_obj_ptr``.
        soft_no_obj_ptr: Mix ``no_obj_ptr`` in by the object score's sigmoid.
        use_mlp_for_obj_ptr_proj: ``obj_ptr_proj`` is a 3-layer MLP.
        no_obj_embed_spatial: Absent objects' spatial memories get ``no_obj_embed_spatial``.
        sigmoid_scale_for_mem_enc: Mask probabilities are scaled by this for the memory.
        sigmoid_bias_for_mem_enc: ... and shifted by this.
        use_mask_input_as_output_without_sam: A mask prompt is the output as is.
        binarize_mask_from_pts_for_mem_enc: Click frames store binarised masks.
        fill_hole_area: Holes up to this many pixels are filled in output masks (0: off).
        dynamic_multimask_via_stability: Unstable single masks fall back to the best candidate.
        dynamic_multimask_stability_delta: Logit offset of the stability test.
        dynamic_multimask_stability_thresh: Smallest stable area ratio.
        pixel_mean: Per-channel RGB mean in ``[0, 1]`` units.
        pixel_std: Per-channel RGB standard deviation in ``[0, 1]`` units.
    """

    name: str
    trunk: HieraConfig
    image_size: int = 1024
    backbone_stride: int = 16
    hidden_dim: int = 256
    mem_dim: int = 64
    num_maskmem: int = 7
    memory_attention_layers: int = 4
    memory_attention_heads: int = 1
    memory_attention_ffn: int = 2048
    memory_fuser_layers: int = 2
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    scalp: int = 1
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    decoder_depth: int = 2
    iou_head_hidden_dim: int = 256
    mask_in_chans: int = 16
    use_high_res_features_in_sam: bool = True
    use_obj_ptrs_in_encoder: bool = True
    max_obj_ptrs_in_encoder: int = 16
    add_tpos_enc_to_obj_ptrs: bool = True
    proj_tpos_enc_in_obj_ptrs: bool = True
    use_signed_tpos_enc_to_obj_ptrs: bool = True
    only_obj_ptrs_in_the_past_for_eval: bool = True
    max_cond_frames_in_attn: int = -1
    memory_temporal_stride_for_eval: int = 1
    non_overlap_masks_for_mem_enc: bool = False
    directly_add_no_mem_embed: bool = True
    multimask_output_in_sam: bool = True
    multimask_min_pt_num: int = 0
    multimask_max_pt_num: int = 1
    multimask_output_for_tracking: bool = True
    use_multimask_token_for_obj_ptr: bool = True
    iou_prediction_use_sigmoid: bool = True
    pred_obj_scores: bool = True
    pred_obj_scores_mlp: bool = True
    fixed_no_obj_ptr: bool = True
    soft_no_obj_ptr: bool = False
    use_mlp_for_obj_ptr_proj: bool = True
    no_obj_embed_spatial: bool = True
    sigmoid_scale_for_mem_enc: float = 20.0
    sigmoid_bias_for_mem_enc: float = -10.0
    use_mask_input_as_output_without_sam: bool = True
    binarize_mask_from_pts_for_mem_enc: bool = True
    fill_hole_area: int = 8
    dynamic_multimask_via_stability: bool = True
    dynamic_multimask_stability_delta: float = 0.05
    dynamic_multimask_stability_thresh: float = 0.98
    pixel_mean: tuple[float, float, float] = field(default=(0.485, 0.456, 0.406))
    pixel_std: tuple[float, float, float] = field(default=(0.229, 0.224, 0.225))

    def __post_init__(self) -> None:
        object.__setattr__(self, "fpn_top_down_levels", tuple(self.fpn_top_down_levels))
        if self.image_size % self.backbone_stride:
            raise ValueError(
                f"{self.name}: backbone_stride {self.backbone_stride} must divide image_size "
                f"{self.image_size}"
            )
        if self.hidden_dim % 8:
            raise ValueError(
                f"{self.name}: hidden_dim must be a multiple of 8, got {self.hidden_dim}"
            )
        if self.proj_tpos_enc_in_obj_ptrs and not self.add_tpos_enc_to_obj_ptrs:
            raise ValueError(
                f"{self.name}: proj_tpos_enc_in_obj_ptrs needs add_tpos_enc_to_obj_ptrs"
            )
        if self.fixed_no_obj_ptr and not (self.pred_obj_scores and self.use_obj_ptrs_in_encoder):
            raise ValueError(
                f"{self.name}: fixed_no_obj_ptr needs pred_obj_scores and use_obj_ptrs_in_encoder"
            )

    @property
    def feature_size(self) -> int:
        """Side of the stride-16 feature grid (64 for the official models)."""
        return self.image_size // self.backbone_stride

    @property
    def low_res_size(self) -> int:
        """Side of the decoder's low-res mask grid (256)."""
        return 4 * self.feature_size

    @property
    def decoder_settings(self) -> DecoderSettings:
        return DecoderSettings(
            iou_sigmoid=self.iou_prediction_use_sigmoid,
            pred_obj_scores=self.pred_obj_scores,
            pred_obj_scores_mlp=self.pred_obj_scores_mlp,
            use_multimask_token_for_obj_ptr=self.use_multimask_token_for_obj_ptr,
            dynamic_multimask=self.dynamic_multimask_via_stability,
            stability_delta=self.dynamic_multimask_stability_delta,
            stability_thresh=self.dynamic_multimask_stability_thresh,
        )


_TRUNKS: dict[str, HieraConfig] = {
    "tiny": HieraConfig(96, 1, (1, 2, 7, 2), (5, 7, 9), window_pos_embed_bkg_spatial_size=(7, 7)),
    "small": HieraConfig(
        96, 1, (1, 2, 11, 2), (7, 10, 13), window_pos_embed_bkg_spatial_size=(7, 7)
    ),
    "base_plus": HieraConfig(112, 2, (2, 3, 16, 3), (12, 16, 20)),
    "large": HieraConfig(
        144,
        2,
        (2, 6, 36, 4),
        (23, 33, 43),
        window_spec=(8, 4, 16, 8),
        window_pos_embed_bkg_spatial_size=(7, 7),
    ),
}

# Meta's SAM 2.0 configs: object pointers carry no temporal encoding, and spatial memories of
# absent objects get no learned embedding.
_SAM2_0 = {
    "add_tpos_enc_to_obj_ptrs": False,
    "proj_tpos_enc_in_obj_ptrs": False,
    "use_signed_tpos_enc_to_obj_ptrs": False,
    "no_obj_embed_spatial": False,
}

#: The official variants by registry name.
SAM2_CONFIGS: dict[str, Sam2Config] = {
    **{
        f"sam2_hiera_{size}": Sam2Config(f"sam2_hiera_{size}", t, **_SAM2_0)
        for size, t in _TRUNKS.items()
    },
    **{
        f"sam2.1_hiera_{size}": Sam2Config(f"sam2.1_hiera_{size}", t) for size, t in _TRUNKS.items()
    },
}


def reduced_config(base: Sam2Config | str = "sam2.1_hiera_tiny", **changes: object) -> Sam2Config:
    """A small model of ``base``'s kind for tests: 256-pixel input, narrow and shallow.

    Keyword arguments override any field (e.g. ``trunk=HieraConfig(...)``).
    """
    if isinstance(base, str):
        base = SAM2_CONFIGS[base]
    small = {
        "name": f"{base.name}_reduced",
        "trunk": HieraConfig(
            16,
            1,
            (1, 2, 2, 1),
            (4,),
            window_spec=(8, 4, 6, 2),
            window_pos_embed_bkg_spatial_size=(5, 5),
        ),
        "image_size": 256,
        "hidden_dim": 64,
        "mem_dim": 16,
        "memory_attention_layers": 2,
        "memory_attention_ffn": 128,
    }
    small.update(changes)
    return dataclasses.replace(base, **small)


def build_sam2(variant: str | Sam2Config, *, model_class: type[Sam2Model] = Sam2Model) -> Sam2Model:
    """Build a SAM 2 model with zero-filled weights, in eval mode.

    Args:
        variant: A name of :data:`SAM2_CONFIGS` or a :class:`Sam2Config`.
        model_class: :class:`Sam2Model` or a subclass adding an interface (image mode's
            :class:`~segany_video.models.sam2.image_engine.Sam2ImageSegmenter`).

    Returns:
        The model on the current default device; load a checkpoint into it strictly.

    Raises:
        KeyError: an unknown variant name.
    """
    if isinstance(variant, str):
        if variant not in SAM2_CONFIGS:
            raise KeyError(
                f"unknown SAM 2 variant {variant!r}: expected one of {sorted(SAM2_CONFIGS)}"
            )
        config = SAM2_CONFIGS[variant]
    else:
        config = variant
    c = config.hidden_dim
    trunk = Hiera(config.trunk)
    neck = FpnNeck(c, trunk.channel_list, config.fpn_top_down_levels, SinePositionEncoding(c))
    grid = config.feature_size
    prompt_encoder = PromptEncoder(
        embed_dim=c,
        image_embedding_size=(grid, grid),
        input_image_size=(config.image_size, config.image_size),
        mask_in_chans=config.mask_in_chans,
    )
    transformer = TwoWayTransformer(
        depth=config.decoder_depth,
        embedding_dim=c,
        num_heads=config.decoder_heads,
        mlp_dim=config.decoder_mlp_dim,
        token_mlp=lambda dim, hidden: MLP(dim, hidden, dim, 2),
    )
    mask_decoder = Sam2MaskDecoder(
        transformer_dim=c,
        transformer=transformer,
        settings=config.decoder_settings,
        iou_head_hidden_dim=config.iou_head_hidden_dim,
        use_high_res_features=config.use_high_res_features_in_sam,
    )
    model = model_class(
        config,
        image_encoder=ImageEncoder(trunk, neck, scalp=config.scalp),
        prompt_encoder=prompt_encoder,
        mask_decoder=mask_decoder,
        memory_attention=MemoryAttention(
            d_model=c,
            num_layers=config.memory_attention_layers,
            mem_dim=config.mem_dim,
            dim_feedforward=config.memory_attention_ffn,
            num_heads=config.memory_attention_heads,
        ),
        memory_encoder=MemoryEncoder(
            in_dim=c, out_dim=config.mem_dim, num_fuser_layers=config.memory_fuser_layers
        ),
    )
    return model.eval()
