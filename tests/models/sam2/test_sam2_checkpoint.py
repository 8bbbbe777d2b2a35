"""SAM 2 / 2.1 variants, checkpoints and registry entries.

- All eight official variants: our key names and shapes equal those of Meta's models built from
  Meta's YAML (on the ``meta`` device: shapes only), our configs' behaviour switches equal the
  attributes of Meta's video predictor, and the variant is detected from Meta's state dict.
- One full ``sam2.1_hiera_tiny``-shaped random checkpoint in the official format
  (``{"model": state_dict}``) loads strictly through our loader and Meta's builder, and both give
  the same features and masks.
- Loader errors: inconsistent or unknown SAM 2 key sets, missing keys, pickled objects.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from meta_build import META_YAML, build_meta_sam2, import_meta, on_meta_device, random_state_dict
from safetensors.torch import save_file

from segany_video.errors import CheckpointError
from segany_video.models.base import ObjectPrompt
from segany_video.models.checkpoint import (
    detect_variant,
    has_derived_buffers,
    load_state_dict_strict,
    read_state_dict,
)
from segany_video.models.registry import MODEL_SPECS, build_model
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.variants import SAM2_CONFIGS, build_sam2

TOL = {"atol": 1e-4, "rtol": 1e-4}
VARIANTS = list(SAM2_CONFIGS)

# Meta's SAM2Base / SAM2VideoPredictor attribute for each of our config fields, where they differ
# in name; the others have the same name on both sides.
META_ATTRIBUTE = {
    "hidden_dim": "hidden_dim",
    "mem_dim": "mem_dim",
    "fill_hole_area": "fill_hole_area",
    "no_obj_embed_spatial": None,  # a parameter on Meta's side: compared by presence below
}
SWITCHES = [
    "image_size",
    "backbone_stride",
    "hidden_dim",
    "mem_dim",
    "num_maskmem",
    "max_obj_ptrs_in_encoder",
    "max_cond_frames_in_attn",
    "memory_temporal_stride_for_eval",
    "non_overlap_masks_for_mem_enc",
    "directly_add_no_mem_embed",
    "use_high_res_features_in_sam",
    "use_obj_ptrs_in_encoder",
    "add_tpos_enc_to_obj_ptrs",
    "proj_tpos_enc_in_obj_ptrs",
    "use_signed_tpos_enc_to_obj_ptrs",
    "only_obj_ptrs_in_the_past_for_eval",
    "multimask_output_in_sam",
    "multimask_min_pt_num",
    "multimask_max_pt_num",
    "multimask_output_for_tracking",
    "use_multimask_token_for_obj_ptr",
    "iou_prediction_use_sigmoid",
    "pred_obj_scores",
    "pred_obj_scores_mlp",
    "fixed_no_obj_ptr",
    "soft_no_obj_ptr",
    "use_mlp_for_obj_ptr_proj",
    "sigmoid_scale_for_mem_enc",
    "sigmoid_bias_for_mem_enc",
    "use_mask_input_as_output_without_sam",
    "binarize_mask_from_pts_for_mem_enc",
    "fill_hole_area",
]


@pytest.fixture(scope="module")
def meta():
    return import_meta()


@pytest.fixture(scope="module")
def meta_shapes(meta) -> dict[str, tuple[dict[str, torch.Tensor], torch.nn.Module]]:
    """Each official variant's state dict (meta tensors) and model from Meta's video builder."""
    out = {}
    for name in VARIANTS:
        with on_meta_device():
            model = build_meta_sam2(
                meta,
                SAM2_CONFIGS[name],
                base_variant=name,
                reduced=False,
                predictor="video",
                device="meta",
            )
        out[name] = (model.state_dict(), model)
    return out


@pytest.mark.parametrize("name", VARIANTS)
def test_keys_and_shapes_equal_meta(meta_shapes, name) -> None:
    with torch.device("meta"):
        ours = build_sam2(name)
    theirs = meta_shapes[name][0]
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in theirs.items()
    }
    assert not has_derived_buffers(ours)  # built on meta and loaded with assign=True


@pytest.mark.parametrize("name", VARIANTS)
def test_switches_equal_meta_video_predictor(meta_shapes, name) -> None:
    config = SAM2_CONFIGS[name]
    model = meta_shapes[name][1]
    for field in SWITCHES:
        assert getattr(config, field) == getattr(model, META_ATTRIBUTE.get(field) or field), field
    assert config.no_obj_embed_spatial == (model.no_obj_embed_spatial is not None)
    decoder = model.sam_mask_decoder
    assert config.dynamic_multimask_via_stability == decoder.dynamic_multimask_via_stability
    assert config.dynamic_multimask_stability_delta == decoder.dynamic_multimask_stability_delta
    assert config.dynamic_multimask_stability_thresh == decoder.dynamic_multimask_stability_thresh


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_is_detected_from_meta_state_dict(meta_shapes, name) -> None:
    assert detect_variant(meta_shapes[name][0], source="x.pt") == name


def test_registry_names_the_official_files() -> None:
    # The URLs, written out independently of the table.
    for version, folder in (("sam2", "072824"), ("sam2.1", "092824")):
        for size in ("tiny", "small", "base_plus", "large"):
            spec = MODEL_SPECS[f"{version}_hiera_{size}"]
            assert spec.file_name == f"{version}_hiera_{size}.pt"
            assert spec.url == (
                f"https://dl.fbaipublicfiles.com/segment_anything_2/{folder}/{spec.file_name}"
            )
            assert spec.sha256 is None or (len(spec.sha256) == 64 and spec.sha256_source)


def _with(state: dict[str, torch.Tensor], drop=(), **extra) -> dict[str, torch.Tensor]:
    out = {k: v for k, v in state.items() if k not in drop}
    out.update(extra)
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: _with(s, drop=["obj_ptr_tpos_proj.weight"]), "mixes SAM 2 and SAM 2.1"),
        (
            lambda s: _with(
                s, drop=[k for k in s if k.startswith("image_encoder.trunk.blocks.11.")]
            ),
            "embed dim 96 and 11 blocks, which matches no known variant",
        ),
        (
            lambda s: _with(s, drop=["image_encoder.trunk.patch_embed.proj.weight"]),
            "looks like a SAM 2 .* no 'image_encoder.trunk.patch_embed.proj.weight'",
        ),
    ],
    ids=["half_2_1", "11_blocks", "no_patch_embed"],
)
def test_unknown_sam2_checkpoints_are_named(meta_shapes, edit, message) -> None:
    with pytest.raises(CheckpointError, match=message):
        detect_variant(edit(meta_shapes["sam2.1_hiera_tiny"][0]), source="x.pt")


def test_a_transformers_export_is_named() -> None:
    state = {
        "vision_encoder.backbone.patch_embed.projection.weight": torch.zeros(96, 3, 7, 7),
        "mask_decoder.iou_token.weight": torch.zeros(1, 256),
    }
    with pytest.raises(CheckpointError, match="Hugging Face transformers export"):
        detect_variant(state, source="model.safetensors")


def test_strict_load_lists_what_does_not_fit(meta_shapes) -> None:
    with torch.device("meta"):
        model = build_sam2("sam2.1_hiera_tiny")
    state = _with(
        meta_shapes["sam2.1_hiera_tiny"][0],
        drop=["no_mem_embed"],
        extra_weight=torch.zeros(1),
    )
    state["maskmem_tpos_enc"] = torch.zeros(6, 1, 1, 64)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(
            model, state, source="x.pt", variant="sam2.1_hiera_tiny", assign=True
        )
    message = str(info.value)
    assert "missing keys: no_mem_embed" in message
    assert "unexpected keys: extra_weight" in message
    assert "maskmem_tpos_enc: file (6, 1, 1, 64) vs model (7, 1, 1, 64)" in message


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickled_object_in_a_sam2_file_is_refused(tmp_path) -> None:
    path = tmp_path / "sam2_with_code.pt"
    torch.save({"model": {"no_mem_embed": torch.zeros(1, 1, 256)}, "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        read_state_dict(path)
    with path.open("rb") as f:  # the file really holds a code reference
        assert b"print" in f.read()
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


# -- one full sam2.1_hiera_tiny checkpoint ---------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(meta, tmp_path_factory):
    """A random sam2.1_hiera_tiny-shaped state dict saved as Meta saves its checkpoints."""
    with on_meta_device():
        shapes = build_meta_sam2(
            meta,
            SAM2_CONFIGS["sam2.1_hiera_tiny"],
            base_variant="sam2.1_hiera_tiny",
            reduced=False,
            device="meta",
        )
    state = random_state_dict(shapes.state_dict(), seed=7)
    path = tmp_path_factory.mktemp("sam2") / "random_tiny.pt"
    torch.save({"model": state}, path)
    return path, state


@pytest.mark.slow
def test_full_tiny_checkpoint_loads_in_both_and_agrees(meta, tiny_checkpoint, tmp_path) -> None:
    path, state = tiny_checkpoint
    ours = build_model(path)
    assert ours.info.name == "sam2.1_hiera_tiny" and isinstance(ours, Sam2ImageSegmenter)
    theirs = meta.build.build_sam2(META_YAML["sam2.1_hiera_tiny"], str(path), device="cpu")
    for key, value in ours.state_dict().items():
        assert torch.equal(value, state[key]), key

    frame = np.random.default_rng(8).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    predictor = meta.image_predictor.SAM2ImagePredictor(theirs)
    predictor.set_image(frame)
    features = ours.embed(torch.from_numpy(frame)[None])[0]
    image = features.top[None] + ours.no_mem_embed.reshape(1, -1, 1, 1)
    torch.testing.assert_close(image, predictor._features["image_embed"], **TOL)
    masks, iou, _ = predictor.predict(
        point_coords=np.array([[40.0, 50.0]]), point_labels=np.array([1]), return_logits=True
    )
    got = ours.decode(
        features, [ObjectPrompt(points=np.array([[40.0, 50.0]]), point_labels=np.array([1]))]
    )
    torch.testing.assert_close(got.logits[0], torch.from_numpy(masks), **TOL)
    torch.testing.assert_close(got.scores[0], torch.from_numpy(iou), **TOL)

    # The same tensors as safetensors load to the same model.
    export = tmp_path / "random_tiny.safetensors"
    save_file(state, export)
    again = build_model(export)
    assert again.info.name == "sam2.1_hiera_tiny"
    assert all(torch.equal(v, state[k]) for k, v in again.state_dict().items())
