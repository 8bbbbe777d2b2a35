"""Our SAM 2 image side against Meta's ``sam2`` with the same random weights.

Reduced configs (a few narrow Hiera blocks, 256-pixel input) keep this fast on two CPU cores;
both SAM 2.0 and 2.1 flavours are built. Meta's models come from its own builders and YAML
(:mod:`meta_build`). Compared: image features, ``SAM2ImagePredictor.predict`` (points, boxes,
masks, single and multimask, N objects in one call), object scores, and the video model's
``_forward_sam_heads`` / ``_use_mask_as_output`` / ``_use_multimask`` rules.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from meta_build import build_meta_sam2, import_meta, random_state_dict

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt, PromptableSegmenter
from segany_video.models.sam2.image_engine import Sam2Features, Sam2ImageSegmenter
from segany_video.models.sam2.mask_decoder import Sam2MaskDecoder
from segany_video.models.sam2.variants import build_sam2, reduced_config

TOL = {"atol": 1e-4, "rtol": 1e-4}
FLAVOURS = ["sam2.1_hiera_tiny", "sam2_hiera_tiny"]
FRAME = (120, 200)  # (H, W): not square, so the stretch to the square input matters


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models: one thread avoids OpenMP spin-waits on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def meta():
    return import_meta()


def _pair(meta, base: str, predictor: str, seed: int = 0, obj_bias: float | None = None):
    config = reduced_config(base)
    theirs = build_meta_sam2(meta, config, base_variant=base, reduced=True, predictor=predictor)
    state = random_state_dict(theirs, seed)
    if obj_bias is not None:
        # Push the object-score logit to one side to exercise present / absent handling.
        state["sam_mask_decoder.pred_obj_score_head.layers.2.bias"] = torch.tensor([obj_bias])
    theirs.load_state_dict(state)
    ours = build_sam2(config, model_class=Sam2ImageSegmenter)
    ours.load_state_dict(state, strict=True)
    return config, ours, theirs


@pytest.fixture(scope="module", params=FLAVOURS)
def image_pair(request, meta):
    """(config, ours, Meta's image predictor with the image set, our features, the frame)."""
    config, ours, theirs = _pair(meta, request.param, "image")
    predictor = meta.image_predictor.SAM2ImagePredictor(theirs)
    g = config.feature_size
    predictor._bb_feat_sizes = [(4 * g, 4 * g), (2 * g, 2 * g), (g, g)]  # it assumes 1024 input
    frame = np.random.default_rng(3).integers(0, 256, (*FRAME, 3), dtype=np.uint8)
    predictor.set_image(frame)
    features = ours.embed(torch.from_numpy(frame)[None])[0]
    return config, ours, predictor, features


@pytest.fixture(scope="module", params=FLAVOURS)
def video_pair(request, meta):
    return _pair(meta, request.param, "video", seed=1)


def test_engine_is_a_promptable_segmenter(image_pair) -> None:
    _, ours, _, features = image_pair
    assert isinstance(ours, PromptableSegmenter)
    assert isinstance(features, Sam2Features)
    assert features.frame_size == FRAME


@pytest.mark.parametrize("base", FLAVOURS)
def test_backbone_matches_forward_image(meta, base) -> None:
    config, ours, theirs = _pair(meta, base, "image", seed=2)
    images = torch.randn(2, 3, config.image_size, config.image_size)
    with torch.inference_mode():
        expected = theirs.forward_image(images)
        got = ours.backbone(images)
    fpn = expected["backbone_fpn"]
    torch.testing.assert_close(got.high_res[0], fpn[0], **TOL)
    torch.testing.assert_close(got.high_res[1], fpn[1], **TOL)
    torch.testing.assert_close(got.top, fpn[2], **TOL)
    torch.testing.assert_close(got.top_pos, expected["vision_pos_enc"][2][:1], **TOL)


def test_embed_matches_set_image(image_pair) -> None:
    """Preprocessing (stretch to the square, normalisation) and encoding of a frame."""
    _, ours, predictor, features = image_pair
    image = features.top[None] + ours.no_mem_embed.reshape(1, -1, 1, 1)
    torch.testing.assert_close(image, predictor._features["image_embed"], **TOL)
    for got, expected in zip(features.high_res, predictor._features["high_res_feats"], strict=True):
        torch.testing.assert_close(got[None], expected, **TOL)


POINT = {"point_coords": np.array([[50.0, 60.0]]), "point_labels": np.array([1])}
CLICKS = {"point_coords": np.array([[50.0, 60.0], [150.0, 30.0]]), "point_labels": np.array([1, 0])}
BOX = {"box": np.array([20.0, 30.0, 120.0, 100.0])}
BOX_CLICK = {**BOX, "point_coords": np.array([[60.0, 70.0]]), "point_labels": np.array([0])}
PROMPTS = {"point": POINT, "clicks": CLICKS, "box": BOX, "box_click": BOX_CLICK}


def _object_prompt(kwargs: dict, low_res: np.ndarray | None = None) -> ObjectPrompt:
    return ObjectPrompt(
        points=kwargs.get("point_coords"),
        point_labels=kwargs.get("point_labels"),
        box=kwargs.get("box"),
        low_res_logits=None if low_res is None else torch.from_numpy(low_res),
    )


def _assert_candidates(candidates, index: int, expected) -> None:
    masks, iou, low_res = expected
    torch.testing.assert_close(candidates.logits[index], torch.from_numpy(masks), **TOL)
    torch.testing.assert_close(candidates.scores[index], torch.from_numpy(iou), **TOL)
    torch.testing.assert_close(candidates.low_res_logits[index], torch.from_numpy(low_res), **TOL)
    # Identical binary masks, except where the logit is within the tolerance of 0.
    expected_logits = torch.from_numpy(masks)
    decided = expected_logits.abs() > 1e-3
    assert torch.equal(candidates.masks[index][decided], (expected_logits > 0)[decided])


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
@pytest.mark.parametrize("name", list(PROMPTS))
def test_decode_matches_predict(image_pair, name, multimask) -> None:
    _, ours, predictor, features = image_pair
    kwargs = PROMPTS[name]
    expected = predictor.predict(**kwargs, multimask_output=multimask, return_logits=True)
    got = ours.decode(features, [_object_prompt(kwargs)], multimask=multimask)
    assert got.logits.shape == (1, 3 if multimask else 1, *FRAME)
    _assert_candidates(got, 0, expected)


@pytest.mark.parametrize("name", ["point", "box_click", "mask_only"])
def test_decode_with_a_mask_prompt_matches_predict(image_pair, name) -> None:
    """The low-res logits handed back are a valid mask prompt, with or without clicks."""
    _, ours, predictor, features = image_pair
    _, _, low_res = predictor.predict(**BOX, multimask_output=False, return_logits=True)
    kwargs = {} if name == "mask_only" else PROMPTS[name]
    expected = predictor.predict(
        **kwargs, mask_input=low_res, multimask_output=False, return_logits=True
    )
    got = ours.decode(features, [_object_prompt(kwargs, low_res[0])], multimask=False)
    _assert_candidates(got, 0, expected)


def test_n_objects_in_one_call_equal_their_own_calls(image_pair) -> None:
    _, ours, predictor, features = image_pair
    _, _, low_res = predictor.predict(**POINT, multimask_output=False, return_logits=True)
    objects = [(POINT, None), (BOX, None), (BOX_CLICK, None), (CLICKS, low_res), ({}, low_res)]
    prompts = [_object_prompt(k, None if m is None else m[0]) for k, m in objects]
    got = ours.decode(features, prompts, multimask=True)
    for i, (kwargs, mask) in enumerate(objects):
        expected = predictor.predict(
            **kwargs, mask_input=mask, multimask_output=True, return_logits=True
        )
        _assert_candidates(got, i, expected)


def test_object_scores_match_the_decoder(image_pair) -> None:
    """Meta's predictor drops the object-score logits; they are read from its decoder."""
    _, ours, predictor, features = image_pair
    seen = []
    hook = predictor.model.sam_mask_decoder.register_forward_hook(
        lambda module, args, output: seen.append(output[3])
    )
    try:
        for kwargs in (POINT, BOX_CLICK):
            predictor.predict(**kwargs, multimask_output=True)
    finally:
        hook.remove()
    got = ours.decode(features, [_object_prompt(POINT), _object_prompt(BOX_CLICK)])
    torch.testing.assert_close(got.object_score_logits, torch.cat(seen), **TOL)


def test_a_mask_prior_of_ones_is_the_logit_ten_everywhere(image_pair) -> None:
    """A frame-size prior of 1 stretches to the low-res grid as 1, i.e. logit 20 * 1 - 10."""
    config, ours, _, features = image_pair
    s = config.low_res_size
    from_prior = ours.decode(features, [ObjectPrompt(mask=np.ones(FRAME, np.float32))])
    from_logits = ours.decode(features, [ObjectPrompt(low_res_logits=torch.full((s, s), 10.0))])
    torch.testing.assert_close(from_prior.logits, from_logits.logits, **TOL)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (ObjectPrompt(low_res_logits=torch.zeros(32, 32)), "object 0: low_res_logits"),
        (ObjectPrompt(mask=np.zeros((10, 10), np.float32)), "object 0: mask prompt is"),
    ],
    ids=["low_res_logits", "mask"],
)
def test_wrong_dense_prompts_are_refused(image_pair, prompt, message) -> None:
    _, ours, _, features = image_pair
    with pytest.raises(PromptError, match=message):
        ours.decode(features, [prompt])


def test_no_prompts_are_refused(image_pair) -> None:
    _, ours, _, features = image_pair
    with pytest.raises(PromptError, match="at least one object prompt"):
        ours.decode(features, [])


HEADS_INPUTS = ["clicks", "mask", "nothing"]


@pytest.mark.parametrize("multimask", [True, False], ids=["multimask", "single"])
@pytest.mark.parametrize("inputs", HEADS_INPUTS)
@pytest.mark.parametrize("obj_bias", [4.0, -4.0], ids=["present", "absent"])
@pytest.mark.parametrize("base", FLAVOURS)
def test_sam_heads_match_forward_sam_heads(meta, base, obj_bias, inputs, multimask) -> None:
    config, ours, theirs = _pair(meta, base, "video", seed=1, obj_bias=obj_bias)
    gen = torch.Generator().manual_seed(4)
    size = config.image_size
    with torch.inference_mode():
        backbone = theirs.forward_image(torch.randn(2, 3, size, size, generator=gen))
        features, high_res = backbone["backbone_fpn"][2], backbone["backbone_fpn"][:2]
        coords = torch.rand(2, 3, 2, generator=gen) * size
        labels = torch.tensor([[1, 0, 1], [2, 3, 1]], dtype=torch.int32)
        mask = torch.randn(2, 1, size // 2, size // 2, generator=gen)
        points = {"point_coords": coords, "point_labels": labels}
        meta_kwargs = {"clicks": {"point_inputs": points}, "mask": {"mask_inputs": mask}}
        our_kwargs = {"clicks": points, "mask": {"mask_inputs": mask}}
        expected = theirs._forward_sam_heads(
            features,
            high_res_features=high_res,
            multimask_output=multimask,
            **meta_kwargs.get(inputs, {}),
        )
        got = ours.sam_heads(
            features, tuple(high_res), multimask=multimask, **our_kwargs.get(inputs, {})
        )
    names = [
        "low_res_multimasks",
        "high_res_multimasks",
        "ious",
        "low_res_masks",
        "high_res_masks",
        "obj_ptr",
        "object_score_logits",
    ]
    for name, value in zip(names, expected, strict=True):
        torch.testing.assert_close(getattr(got, name), value, **TOL, msg=name)
    assert bool((got.object_score_logits > 0).all()) == (obj_bias > 0)


def test_mask_as_output_matches_use_mask_as_output(video_pair) -> None:
    config, ours, theirs = video_pair
    gen = torch.Generator().manual_seed(5)
    size = config.image_size
    masks = (torch.rand(2, 1, size, size, generator=gen) > 0.7).float()
    masks[1] = 0  # an empty mask: the object counts as absent
    with torch.inference_mode():
        backbone = theirs.forward_image(torch.randn(2, 3, size, size, generator=gen))
        features, high_res = backbone["backbone_fpn"][2], backbone["backbone_fpn"][:2]
        expected = theirs._use_mask_as_output(features, high_res, masks)
        got = ours.mask_as_output(features, tuple(high_res), masks)
    for name, value in zip(
        [
            "low_res_multimasks",
            "high_res_multimasks",
            "ious",
            "low_res_masks",
            "high_res_masks",
            "obj_ptr",
            "object_score_logits",
        ],
        expected,
        strict=True,
    ):
        torch.testing.assert_close(getattr(got, name), value, **TOL, msg=name)


def test_use_multimask_matches(video_pair) -> None:
    _, ours, theirs = video_pair
    for first_frame in (True, False):
        for clicks in range(4):
            inputs = None if clicks == 0 else {"point_labels": torch.ones(1, clicks)}
            assert ours.use_multimask(first_frame, clicks) == theirs._use_multimask(
                first_frame, inputs
            ), (first_frame, clicks)


def test_dynamic_single_mask_takes_both_branches(video_pair) -> None:
    """Stable single masks are kept; unstable ones fall back to the best candidate."""
    _, ours, theirs = video_pair
    decoder: Sam2MaskDecoder = ours.sam_mask_decoder
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn(3, 4, 16, 16, generator=gen) * 5
    logits[0, 0] = torch.where(logits[0, 0] > 0, 8.0, -8.0)  # far from 0: stable
    logits[1, 0] = 0.01 * logits[1, 0]  # hugs 0: unstable
    iou = torch.rand(3, 4, generator=gen)
    got_masks, got_iou = decoder._dynamic_single_mask(logits, iou)
    want_masks, want_iou = theirs.sam_mask_decoder._dynamic_multimask_via_stability(logits, iou)
    torch.testing.assert_close(got_masks, want_masks, rtol=0, atol=0)
    torch.testing.assert_close(got_iou, want_iou, rtol=0, atol=0)
    assert torch.equal(got_masks[0], logits[0, :1])
    best = iou[1, 1:].argmax() + 1
    assert torch.equal(got_masks[1], logits[1, best][None])


def test_cached_position_embedding_follows_loaded_weights(meta) -> None:
    """The trunk caches its resized position embedding; loading weights must refresh it."""
    config, fresh, theirs = _pair(meta, FLAVOURS[0], "image", seed=8)
    reused = build_sam2(config)
    images = torch.randn(1, 3, config.image_size, config.image_size)
    with torch.inference_mode():
        reused.backbone(images)  # caches the embedding of the zero-filled weights
    reused.load_state_dict(fresh.state_dict())
    with torch.inference_mode():
        torch.testing.assert_close(reused.backbone(images).top, fresh.backbone(images).top)
        expected = theirs.forward_image(images)["backbone_fpn"][2]
    torch.testing.assert_close(fresh.backbone(images).top, expected, **TOL)
