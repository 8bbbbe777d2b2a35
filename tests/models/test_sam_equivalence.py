"""Our SAM against Meta's ``segment-anything`` with the same random weights.

Reduced configs (few, narrow blocks on a 256-pixel input) keep this fast on two CPU cores; the
full-size variants are checked by key and shape against Meta's modules built on the ``meta``
device, and one full vit_b-shaped checkpoint file in the official format is loaded strictly.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from oracles import import_segment_anything

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt, PromptableSegmenter
from segany_video.models.sam.model import SamFeatures, SamModel
from segany_video.models.sam.preprocess import input_size_for, mask_prior_logits
from segany_video.models.sam.variants import SAM_VIT_CONFIGS, SamVitConfig, build_sam_vit

TOL = {"atol": 1e-4, "rtol": 1e-4}

SMALL = SamVitConfig(
    name="tiny_test",
    embed_dim=64,
    depth=3,
    num_heads=4,
    global_attn_indexes=(1,),
    window_size=6,  # a 16x16 grid does not divide into 6x6 windows: exercises the padding
    img_size=256,
    prompt_embed_dim=64,
    decoder_mlp_dim=128,
    iou_head_hidden_dim=64,
)


def build_meta_sam(sa, config: SamVitConfig):
    modeling = sa.modeling
    grid = config.img_size // config.patch_size
    return modeling.Sam(
        image_encoder=modeling.ImageEncoderViT(
            depth=config.depth,
            embed_dim=config.embed_dim,
            img_size=config.img_size,
            mlp_ratio=4,
            norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=config.num_heads,
            patch_size=config.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=config.global_attn_indexes,
            window_size=config.window_size,
            out_chans=config.prompt_embed_dim,
        ),
        prompt_encoder=modeling.PromptEncoder(
            embed_dim=config.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(config.img_size, config.img_size),
            mask_in_chans=config.mask_in_chans,
        ),
        mask_decoder=modeling.MaskDecoder(
            num_multimask_outputs=3,
            transformer=modeling.TwoWayTransformer(
                depth=config.decoder_depth,
                embedding_dim=config.prompt_embed_dim,
                mlp_dim=config.decoder_mlp_dim,
                num_heads=config.decoder_heads,
            ),
            transformer_dim=config.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=config.iou_head_hidden_dim,
        ),
    ).eval()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids OpenMP spin-waits on a busy 2-core machine (40x here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sa():
    return import_segment_anything()


@pytest.fixture(scope="module")
def pair(sa) -> tuple[SamModel, torch.nn.Module]:
    """(ours, Meta's) holding the same random state dict (non-zero relative positions too)."""
    torch.manual_seed(0)
    meta = build_meta_sam(sa, SMALL)
    state = {
        k: (torch.randn_like(v) * (0.5 if v.ndim > 1 else 0.1))
        if "gaussian" not in k
        else v.clone()
        for k, v in meta.state_dict().items()
    }
    meta.load_state_dict(state)
    ours = build_sam_vit(SMALL)
    ours.load_state_dict(state, strict=True)
    return ours, meta


def test_image_embeddings_match(pair) -> None:
    ours, meta = pair
    images = torch.randn(
        2, 3, SMALL.img_size, SMALL.img_size, generator=torch.Generator().manual_seed(1)
    )
    with torch.inference_mode():
        torch.testing.assert_close(ours.encode(images), meta.image_encoder(images), **TOL)


# Bias budgets (elements): 1 builds every (image, head) slice alone; 4 heads x 16^4 holds one
# image of the global block, so a batch of two runs image by image.
# Expected chunks: global block (2 images x 4 heads) + 2 windowed blocks (18 windows x 4 heads).
@pytest.mark.parametrize(
    ("budget", "chunks"), [(1, 8 + 2 * 72), (4 * 16**4, 2 + 2 * 1)], ids=["heads", "images"]
)
def test_image_embeddings_match_when_the_bias_is_built_in_chunks(
    pair, monkeypatch, budget, chunks
) -> None:
    from segany_video.models.sam import image_encoder

    monkeypatch.setattr(image_encoder, "_BIAS_CHUNK_ELEMENTS", budget)
    calls = []
    chunk = image_encoder.RelPosAttention._attend_chunk
    monkeypatch.setattr(
        image_encoder.RelPosAttention,
        "_attend_chunk",
        lambda self, *args: calls.append(1) or chunk(self, *args),
    )
    ours, meta = pair
    images = torch.randn(
        2, 3, SMALL.img_size, SMALL.img_size, generator=torch.Generator().manual_seed(6)
    )
    with torch.inference_mode():
        torch.testing.assert_close(ours.encode(images), meta.image_encoder(images), **TOL)
    assert len(calls) == chunks


def _meta_decode(meta, embedding, coords, labels, box, mask_logits, multimask):
    """Meta's prompt encoder + decoder for ONE object (prompts already in input pixels)."""
    sparse, dense = meta.prompt_encoder(
        points=None if coords is None else (coords[None], labels[None]),
        boxes=None if box is None else box[None],
        masks=None if mask_logits is None else mask_logits[None, None],
    )
    return meta.mask_decoder(
        image_embeddings=embedding[None],
        image_pe=meta.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=multimask,
    )


# Prompts in the pixels of a 256 x 256 frame (= the encoder input: no resizing).
LOW = SMALL.img_size // 4
MASK_LOGITS = torch.randn(LOW, LOW, generator=torch.Generator().manual_seed(2)) * 4
OBJECTS = {
    "one_point": dict(points=[[40.0, 60.0]], labels=[1]),
    "points": dict(points=[[40.0, 60.0], [200.5, 17.0], [10.0, 250.0]], labels=[1, 0, 1]),
    "box": dict(box=[30.0, 40.0, 180.0, 220.0]),
    "point_box": dict(points=[[100.0, 120.0]], labels=[0], box=[12.0, 8.0, 150.0, 99.0]),
    "mask": dict(mask=True),
    "points_mask": dict(points=[[70.0, 90.0], [5.0, 5.0]], labels=[1, 1], mask=True),
    "box_mask": dict(box=[1.0, 2.0, 254.0, 255.0], mask=True),
}


def _prompt(spec: dict) -> ObjectPrompt:
    return ObjectPrompt(
        points=None if "points" not in spec else np.array(spec["points"], np.float32),
        point_labels=None if "labels" not in spec else np.array(spec["labels"]),
        box=None if "box" not in spec else np.array(spec["box"], np.float32),
        low_res_logits=MASK_LOGITS if spec.get("mask") else None,
    )


def _meta_for(meta, embedding, spec: dict, multimask: bool):
    return _meta_decode(
        meta,
        embedding,
        None if "points" not in spec else torch.tensor(spec["points"]),
        None if "labels" not in spec else torch.tensor(spec["labels"]),
        None if "box" not in spec else torch.tensor(spec["box"]),
        MASK_LOGITS if spec.get("mask") else None,
        multimask,
    )


@pytest.fixture(scope="module")
def square_features(pair) -> SamFeatures:
    ours, _ = pair
    frame = torch.randint(
        0,
        256,
        (1, SMALL.img_size, SMALL.img_size, 3),
        dtype=torch.uint8,
        generator=torch.Generator().manual_seed(3),
    )
    return ours.embed(frame)[0]


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
@pytest.mark.parametrize("name", list(OBJECTS))
def test_decoder_matches_per_prompt_kind(pair, square_features, name, multimask) -> None:
    ours, meta = pair
    spec = OBJECTS[name]
    with torch.inference_mode():
        want_masks, want_iou = _meta_for(meta, square_features.embedding, spec, multimask)
        batch = ours.prompt_batch(square_features, [_prompt(spec)])
        got_masks, got_iou = ours.decode_low_res(
            square_features.embedding, batch, multimask=multimask
        )
    assert got_masks.shape == (1, 3 if multimask else 1, LOW, LOW)
    torch.testing.assert_close(got_masks, want_masks, **TOL)
    torch.testing.assert_close(got_iou, want_iou, **TOL)


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
def test_mixed_batch_equals_one_call_per_object(pair, square_features, multimask) -> None:
    """Objects with different prompt structures in ONE call give each its own answer."""
    ours, meta = pair
    specs = list(OBJECTS.values())
    with torch.inference_mode():
        batch = ours.prompt_batch(square_features, [_prompt(s) for s in specs])
        got_masks, got_iou = ours.decode_low_res(
            square_features.embedding, batch, multimask=multimask
        )
        for i, spec in enumerate(specs):
            want_masks, want_iou = _meta_for(meta, square_features.embedding, spec, multimask)
            torch.testing.assert_close(got_masks[i : i + 1], want_masks, **TOL)
            torch.testing.assert_close(got_iou[i : i + 1], want_iou, **TOL)


def test_same_structure_batch_matches_meta_batch(pair, square_features) -> None:
    """Three point-only objects batched through Meta's own batched path."""
    ours, meta = pair
    coords = torch.tensor(
        [[[10.0, 20.0], [30.0, 40.0]], [[100.0, 7.0], [8.0, 9.0]], [[250.0, 250.0], [0.0, 0.0]]]
    )
    labels = torch.tensor([[1, 0], [1, 1], [0, 1]])
    prompts = [
        ObjectPrompt(points=c.numpy(), point_labels=lab.numpy())
        for c, lab in zip(coords, labels, strict=True)
    ]
    with torch.inference_mode():
        sparse, dense = meta.prompt_encoder(points=(coords, labels), boxes=None, masks=None)
        want_masks, want_iou = meta.mask_decoder(
            square_features.embedding[None], meta.prompt_encoder.get_dense_pe(), sparse, dense, True
        )
        got = ours.decode(square_features, prompts)
    torch.testing.assert_close(got.low_res_logits, want_masks, **TOL)
    torch.testing.assert_close(got.scores, want_iou, **TOL)


@pytest.mark.parametrize("frame_hw", [(90, 160), (300, 420)], ids=["upscale", "downscale"])
def test_full_pipeline_matches_sam_predictor(sa, pair, frame_hw) -> None:
    """embed + decode on a non-square frame vs SamPredictor.set_torch_image / predict."""
    ours, meta = pair
    height, width = frame_hw
    frame = torch.randint(
        0, 256, (height, width, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4)
    )
    predictor = sa.SamPredictor(meta)
    target = sa.utils.transforms.ResizeLongestSide.get_preprocess_shape(
        height, width, SMALL.img_size
    )
    # Meta's tensor resize path (apply_image_torch), applied at the right (H, W).
    resized = F.interpolate(
        frame.permute(2, 0, 1)[None].float(),
        target,
        mode="bilinear",
        align_corners=False,
        antialias=True,
    )
    predictor.set_torch_image(resized, (height, width))

    point = np.array([[width * 0.3, height * 0.6]], np.float32)
    box = np.array([width * 0.1, height * 0.2, width * 0.8, height * 0.9], np.float32)
    with torch.inference_mode():
        features = ours.embed(frame[None])[0]
        assert features.frame_size == (height, width)
        assert features.input_size == tuple(target)
        torch.testing.assert_close(features.embedding, predictor.features[0], **TOL)
        got = ours.decode(
            features,
            [
                ObjectPrompt(points=point, point_labels=np.array([1])),
                ObjectPrompt(box=box),
                ObjectPrompt(points=point, point_labels=np.array([0]), box=box),
            ],
        )
    assert got.logits.shape == (3, 3, height, width)
    wants = [
        predictor.predict(point_coords=point, point_labels=np.array([1]), return_logits=True),
        predictor.predict(box=box, return_logits=True),
        predictor.predict(
            point_coords=point, point_labels=np.array([0]), box=box, return_logits=True
        ),
    ]
    for i, (want_logits, want_iou, want_low) in enumerate(wants):
        torch.testing.assert_close(got.logits[i], torch.as_tensor(want_logits), **TOL)
        torch.testing.assert_close(got.scores[i], torch.as_tensor(want_iou), **TOL)
        torch.testing.assert_close(got.low_res_logits[i], torch.as_tensor(want_low), **TOL)

    # A follow-up call with the low-res logits as the dense prompt, single-mask output.
    with torch.inference_mode():
        again = ours.decode(
            features,
            [
                ObjectPrompt(
                    points=point,
                    point_labels=np.array([1]),
                    low_res_logits=got.low_res_logits[0, 0],
                )
            ],
            multimask=False,
        )
    want_logits, want_iou, _ = predictor.predict(
        point_coords=point,
        point_labels=np.array([1]),
        mask_input=got.low_res_logits[0, :1].numpy(),
        multimask_output=False,
        return_logits=True,
    )
    torch.testing.assert_close(again.logits[0], torch.as_tensor(want_logits), **TOL)
    torch.testing.assert_close(again.scores[0], torch.as_tensor(want_iou), **TOL)


def test_mask_prior_lands_on_the_matching_low_res_cells() -> None:
    """A (64, 128) frame in a 256 input (scale 2): a prior rectangle rows 16..47, cols 32..95
    covers input rows 32..95, cols 64..191, i.e. low-res (64 x 64) rows 8..23, cols 16..47."""
    prior = torch.zeros(1, 64, 128)
    prior[0, 16:48, 32:96] = 1.0
    size = input_size_for((64, 128), 256)
    assert size == (128, 256)
    logits = mask_prior_logits(prior, size, 256, 64)[0, 0]
    assert logits.shape == (64, 64)
    torch.testing.assert_close(logits[9:23, 17:47], torch.full((14, 30), 10.0))
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[7:25, 15:49] = False
    assert torch.all(logits[outside] == -10.0)  # includes the padding rows 32..63
    assert torch.all((logits >= -10.0) & (logits <= 10.0))


def test_mask_prior_prompt_is_decoded_like_its_logits(pair) -> None:
    ours, meta = pair
    frame = torch.randint(
        0, 256, (1, 64, 128, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)
    )
    prior = np.zeros((64, 128), np.float32)
    prior[10:40, 20:70] = 1.0
    with torch.inference_mode():
        features = ours.embed(frame)[0]
        got = ours.decode(features, [ObjectPrompt(mask=prior)])
        logits = mask_prior_logits(torch.from_numpy(prior)[None], features.input_size, 256, LOW)
        want_masks, want_iou = _meta_decode(
            meta, features.embedding, None, None, None, logits[0, 0], True
        )
    torch.testing.assert_close(got.low_res_logits, want_masks, **TOL)
    torch.testing.assert_close(got.scores, want_iou, **TOL)


def test_model_fulfils_the_engine_protocol(pair) -> None:
    ours, _ = pair
    assert isinstance(ours, PromptableSegmenter)
    assert ours.device == torch.device("cpu")
    assert ours.info.name == "sam_tiny_test"


@pytest.mark.parametrize(
    ("prompt", "match"),
    [
        (ObjectPrompt(mask=np.zeros((10, 10), np.float32)), "object 0: mask prompt is"),
        (ObjectPrompt(low_res_logits=torch.zeros(32, 32)), "object 0: low_res_logits must be"),
    ],
)
def test_bad_dense_prompts_are_refused(pair, square_features, prompt, match) -> None:
    ours, _ = pair
    with pytest.raises(PromptError, match=match):
        ours.decode(square_features, [prompt])


def test_no_prompts_are_refused(pair, square_features) -> None:
    ours, _ = pair
    with pytest.raises(PromptError, match="at least one"):
        ours.decode(square_features, [])


@pytest.mark.parametrize("variant", sorted(SAM_VIT_CONFIGS))
def test_full_variants_have_meta_keys_and_shapes(sa, variant) -> None:
    with torch.device("meta"):
        want = getattr(sa, f"build_sam_{variant}")().state_dict()
        got = build_sam_vit(variant).state_dict()
    assert {k: tuple(v.shape) for k, v in got.items()} == {
        k: tuple(v.shape) for k, v in want.items()
    }


def test_full_vit_b_checkpoint_file_loads_strictly(sa, tmp_path) -> None:
    """A vit_b-shaped state dict saved like the official .pth loads with strict=True."""
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in sa.build_sam_vit_b().state_dict().items()}
    state = {k: torch.empty(shape) for k, shape in shapes.items()}
    state["image_encoder.blocks.11.attn.rel_pos_h"].copy_(torch.arange(127 * 64.0).view(127, 64))
    path = tmp_path / "sam_vit_b_test.pth"
    torch.save(state, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    with torch.device("meta"):
        model = build_sam_vit("vit_b")
    model.load_state_dict(loaded, strict=True, assign=True)
    assert (
        sum(p.numel() for p in model.parameters()) == sum(v.numel() for v in state.values()) - 256
    )
    torch.testing.assert_close(
        model.image_encoder.blocks[11].attn.rel_pos_h,
        state["image_encoder.blocks.11.attn.rel_pos_h"],
    )
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
