"""The classic engine on generated images whose true masks are known by construction."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import scipy.stats
import torch

from segany_video.errors import ConfigError, DeviceError, PromptError
from segany_video.models.base import ObjectPrompt, PromptableSegmenter
from segany_video.models.classic import ClassicEngine, ClassicSettings, build_classic
from segany_video.models.classic.colour_model import ColourMixture
from segany_video.models.classic.quality import prompt_agreement
from segany_video.models.classic.trimap import search_boxes
from segany_video.results import mask_iou as iou

H, W = 160, 200


def textured(rng: np.random.Generator, colour: tuple[int, int, int], period: int) -> np.ndarray:
    """A colour with pixel noise and stripes, so no region is flat."""
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 18 * np.sin(2 * np.pi * (xx + 0.5 * yy) / period)[..., None]
    noise = rng.normal(0, 12, (H, W, 3))
    return np.asarray(colour, dtype=np.float64) + stripes + noise


def compose(layers: list[tuple[np.ndarray, tuple[int, int, int], int]], seed: int = 0):
    """Paint textured layers over a textured green background; returns uint8 RGB."""
    rng = np.random.default_rng(seed)
    image = textured(rng, (60, 130, 70), 23)
    for mask, colour, period in layers:
        image[mask] = textured(rng, colour, period)[mask]
    return np.clip(image, 0, 255).astype(np.uint8)


def blob(centre: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    """A non-convex object: an ellipse with a rectangular arm."""
    mask = np.zeros((H, W), np.uint8)
    cv2.ellipse(mask, centre, axes, 20, 0, 360, 1, -1)
    cx, cy = centre
    cv2.rectangle(mask, (cx, cy - 6), (cx + axes[0] + 18, cy + 4), 1, -1)
    return mask.astype(bool)


def box_of(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)


@pytest.fixture(scope="module")
def engine() -> ClassicEngine:
    return build_classic("cpu")


@pytest.fixture(scope="module")
def scene():
    """One red object on a textured background."""
    obj = blob((90, 80), (40, 28))
    image = compose([(obj, (200, 70, 60), 11)])
    return image, obj


def features_of(engine: ClassicEngine, image: np.ndarray):
    return engine.embed(torch.from_numpy(image)[None])[0]


def test_is_a_promptable_segmenter(engine: ClassicEngine) -> None:
    assert isinstance(engine, PromptableSegmenter)
    assert engine.info.name == "classic"
    assert engine.info.description == "classic engine, no learned weights"
    assert engine.info.weights is None
    assert engine.device == torch.device("cpu")


def test_box_recovers_object(engine: ClassicEngine, scene) -> None:
    image, obj = scene
    out = engine.decode(features_of(engine, image), [ObjectPrompt(box=box_of(obj))])
    assert out.logits.shape == (1, 3, H, W) and out.scores.shape == (1, 3)
    assert out.low_res_logits is None
    assert ((out.scores >= 0) & (out.scores <= 1)).all()
    masks = out.masks[0].numpy()
    assert iou(masks[0], obj) >= 0.9
    assert iou(masks[int(out.scores[0].argmax())], obj) >= 0.9


def test_single_mask_output(engine: ClassicEngine, scene) -> None:
    image, obj = scene
    features = features_of(engine, image)
    clicks = ObjectPrompt(points=np.array([[90, 80]], np.float32), point_labels=np.array([1]))
    for prompt, pick in ((ObjectPrompt(box=box_of(obj)), "first"), (clicks, "best")):
        many = engine.decode(features, [prompt], multimask=True)
        one = engine.decode(features, [prompt], multimask=False)
        assert one.logits.shape == (1, 1, H, W)
        slot = 0 if pick == "first" else int(many.scores[0].argmax())
        torch.testing.assert_close(one.logits[0, 0], many.logits[0, slot])
        torch.testing.assert_close(one.scores[0, 0], many.scores[0, slot])


def test_clicks_recover_object(engine: ClassicEngine, scene) -> None:
    image, obj = scene
    clicks = np.array([[80, 80], [100, 75], [90, 95]], np.float32)
    prompt = ObjectPrompt(points=clicks, point_labels=np.ones(3, np.int64))
    out = engine.decode(features_of(engine, image), [prompt])
    masks = out.masks[0].numpy()
    assert max(iou(m, obj) for m in masks) >= 0.85
    best = masks[int(out.scores[0].argmax())]
    assert iou(best, obj) >= 0.8
    assert all(best[int(y), int(x)] for x, y in clicks)


def test_negative_click_removes_a_region(engine: ClassicEngine) -> None:
    body = blob((90, 90), (38, 26))
    hat = np.zeros((H, W), bool)
    hat[40:66, 70:112] = True
    hat &= ~body
    image = compose([(body, (200, 70, 60), 11), (hat, (230, 210, 60), 7)])
    features = features_of(engine, image)
    box = box_of(body | hat)
    with_hat = engine.decode(features, [ObjectPrompt(box=box)]).masks[0, 0].numpy()
    assert iou(with_hat, body | hat) >= 0.85
    prompt = ObjectPrompt(
        box=box, points=np.array([[90, 52], [90, 90]], np.float32), point_labels=np.array([0, 1])
    )
    without = engine.decode(features, [prompt]).masks[0, 0].numpy()
    assert without[hat].mean() <= 0.2
    assert iou(without, body) >= 0.85


def test_mask_prior_is_respected(engine: ClassicEngine) -> None:
    left, right = blob((55, 80), (30, 22)), blob((150, 85), (28, 20))
    image = compose([(left, (200, 70, 60), 11), (right, (200, 70, 60), 11)])
    # The prior is the left object moved by a few pixels, as a motion-warped previous mask is.
    prior = np.roll(left, (3, -2), axis=(0, 1)).astype(np.float32)
    out = engine.decode(features_of(engine, image), [ObjectPrompt(mask=prior)])
    mask = out.masks[0, 0].numpy()
    assert iou(mask, left) >= 0.9
    assert not mask[right].any()  # the same-coloured twin outside the prior stays out


def test_empty_mask_prior_gives_an_empty_zero_score_result(engine: ClassicEngine, scene) -> None:
    image, _ = scene
    out = engine.decode(features_of(engine, image), [ObjectPrompt(mask=np.zeros((H, W)))])
    assert not out.masks.any()
    assert (out.scores == 0).all()


def test_batched_decode_equals_decoding_each_alone(engine: ClassicEngine) -> None:
    left, right = blob((55, 80), (30, 22)), blob((150, 85), (28, 20))
    image = compose([(left, (200, 70, 60), 11), (right, (60, 60, 200), 9)])
    features = features_of(engine, image)
    prompts = [
        ObjectPrompt(box=box_of(left)),
        ObjectPrompt(points=np.array([[150, 85]], np.float32), point_labels=np.array([1])),
        ObjectPrompt(mask=right.astype(np.float32)),
    ]
    together = engine.decode(features, prompts)
    for i, prompt in enumerate(prompts):
        alone = engine.decode(features, [prompt])
        torch.testing.assert_close(together.logits[i], alone.logits[0], rtol=0, atol=0)
        torch.testing.assert_close(together.scores[i], alone.scores[0], rtol=0, atol=0)


def test_embed_matches_opencv_luma_and_sobel(engine: ClassicEngine, scene) -> None:
    image, _ = scene
    batch = torch.from_numpy(np.stack([image, image[::-1].copy()]))
    features = engine.embed(batch)
    assert len(features) == 2 and features[0].frame_size == (H, W)
    np.testing.assert_array_equal(features[1].image, image[::-1])
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    np.testing.assert_allclose(features[0].guide, grey, atol=1 / 255)
    exact = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255
    gx = cv2.Sobel(exact, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REPLICATE) / 4
    gy = cv2.Sobel(exact, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REPLICATE) / 4
    np.testing.assert_allclose(features[0].gradient, np.hypot(gx, gy), atol=1e-4)


def test_colour_mixture_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    weights = np.array([0.1, 0.2, 0.3, 0.25, 0.15])
    means = rng.uniform(0, 255, (5, 3))
    factors = rng.normal(0, 8, (5, 3, 3))
    covs = factors @ factors.transpose(0, 2, 1) + 30 * np.eye(3)
    model = np.concatenate([weights, means.ravel(), covs.ravel()])[None]
    mixture = ColourMixture.from_opencv(model)
    pixels = rng.uniform(0, 255, (50, 3))
    ridge = 1e-2 * np.eye(3)  # the engine's regulariser
    expected = np.log(
        sum(
            w * scipy.stats.multivariate_normal(m, c + ridge).pdf(pixels)
            for w, m, c in zip(weights, means, covs, strict=True)
        )
    )
    np.testing.assert_allclose(mixture.log_likelihood(pixels), expected, rtol=1e-4, atol=1e-3)


BAD_PROMPTS = [
    pytest.param(
        lambda: ObjectPrompt(box=np.array([300, 10, 400, 50])), "does not cover", id="box-off"
    ),
    pytest.param(
        lambda: ObjectPrompt(box=np.array([10, 10, 10, 50])), "degenerate", id="box-empty"
    ),
    pytest.param(
        lambda: ObjectPrompt(points=np.array([[10, 500]]), point_labels=np.array([1])),
        "outside the frame",
        id="point-off",
    ),
    pytest.param(
        lambda: ObjectPrompt(points=np.array([[-3, 5]]), point_labels=np.array([0])),
        "outside the frame",
        id="negative-off",
    ),
    pytest.param(lambda: ObjectPrompt(mask=np.zeros((10, 10))), "expected the frame", id="mask"),
    pytest.param(
        lambda: ObjectPrompt(low_res_logits=torch.zeros(256, 256)), "`mask`", id="sam-logits"
    ),
]


@pytest.mark.parametrize(("make", "message"), BAD_PROMPTS)
def test_bad_prompts_raise_clear_errors(engine: ClassicEngine, scene, make, message) -> None:
    image, _ = scene
    features = features_of(engine, image)
    with pytest.raises(PromptError, match=message):
        engine.decode(features, [ObjectPrompt(box=np.array([5, 5, 50, 50])), make()])


def test_bad_prompt_error_names_the_object(engine: ClassicEngine, scene) -> None:
    image, _ = scene
    bad = ObjectPrompt(points=np.array([[10, 500]]), point_labels=np.array([1]))
    with pytest.raises(PromptError, match="object 1"):
        engine.decode(features_of(engine, image), [ObjectPrompt(box=np.array([5, 5, 50, 50])), bad])
    with pytest.raises(PromptError, match="at least one"):
        engine.decode(features_of(engine, image), [])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"iterations": 0}, "iterations"),
        ({"box_iterations": 21}, "box_iterations"),
        ({"work_pixels": 10}, "work_pixels"),
        ({"click_scales": [0.5, 0.2]}, "click_scales"),
        ({"prior_band": -1.0}, "prior_band"),
        ({"speed": 3}, "unknown"),
    ],
)
def test_settings_reject_invalid_values(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ClassicSettings.from_dict(values)


def test_settings_from_dict_round_trip() -> None:
    settings = ClassicSettings.from_dict({"iterations": 3, "click_scales": [0.1, 0.3, 0.6]})
    assert settings.iterations == 3 and settings.click_scales == (0.1, 0.3, 0.6)
    assert ClassicSettings.from_dict({}) == ClassicSettings()


def test_box_partly_outside_the_frame_is_clipped(engine: ClassicEngine) -> None:
    obj = np.zeros((H, W), bool)
    cv2.ellipse(obj.view(np.uint8), (170, 80), (40, 30), 0, 0, 360, 1, -1)
    image = compose([(obj, (200, 70, 60), 11)])
    box = np.array([128, 48, 240, 112], np.float32)  # runs past the right edge (W = 200)
    mask = engine.decode(features_of(engine, image), [ObjectPrompt(box=box)]).masks[0, 0].numpy()
    assert iou(mask, obj) >= 0.9


def test_whole_frame_box_and_tiny_frame_do_not_crash(engine: ClassicEngine, scene) -> None:
    image, _ = scene
    whole = ObjectPrompt(box=np.array([0, 0, W, H], np.float32))
    out = engine.decode(features_of(engine, image), [whole])
    assert out.masks.shape == (1, 3, H, W)
    tiny = np.full((4, 5, 3), 128, np.uint8)
    out = engine.decode(features_of(engine, tiny), [ObjectPrompt(box=np.array([1, 1, 4, 3]))])
    assert out.masks.shape == (1, 3, 4, 5)
    assert out.masks[0, 0, 1:3, 1:4].all()  # too few pixels to model: the box itself


def test_unavailable_cuda_device_is_a_device_error() -> None:
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DeviceError, match="cpu"):
        build_classic("cuda")


def test_click_on_an_object_leaving_the_frame(engine: ClassicEngine) -> None:
    obj = np.zeros((H, W), bool)
    obj[40:120, 150:] = True  # runs past the right edge
    image = compose([(obj, (200, 70, 60), 11)])
    prompt = ObjectPrompt(points=np.array([[185, 80]], np.float32), point_labels=np.array([1]))
    out = engine.decode(features_of(engine, image), [prompt])
    assert max(iou(m, obj) for m in out.masks[0].numpy()) >= 0.85


def test_tracker_style_prompt_with_a_negative_click_on_a_same_coloured_neighbour(
    engine: ClassicEngine,
) -> None:
    left, right = blob((60, 80), (34, 24)), blob((142, 84), (30, 22))
    image = compose([(left, (200, 70, 60), 11), (right, (200, 70, 60), 11)])
    prompt = ObjectPrompt(
        points=np.array([[60, 80], [142, 84]], np.float32),
        point_labels=np.array([1, 0]),
        box=box_of(left) + np.array([-8, -8, 8, 8], np.float32),
        mask=np.roll(left, 2, axis=1).astype(np.float32),
    )
    mask = engine.decode(features_of(engine, image), [prompt]).masks[0, 0].numpy()
    assert iou(mask, left) >= 0.85
    assert mask[right].mean() <= 0.05


def test_search_boxes_stretch_along_the_axis_the_clicks_spread_on() -> None:
    settings = ClassicSettings()
    short = min(H, W)
    one = ObjectPrompt(points=np.array([[100, 80]], np.float32), point_labels=np.array([1]))
    for box, fraction in zip(
        search_boxes(one, (H, W), settings), settings.click_scales, strict=True
    ):
        x0, y0, x1, y1 = box
        assert (x1 - x0, y1 - y0) == pytest.approx((fraction * short, fraction * short))
    # Clicks at head, waist and feet of a standing figure: 90 px tall, 4 px wide.
    clicks = np.array([[500, 105], [502, 150], [498, 195]], np.float32)
    tall = ObjectPrompt(points=clicks, point_labels=np.ones(3, np.int64))
    for box, fraction in zip(
        search_boxes(tall, (300, 1000), settings), settings.click_scales, strict=True
    ):
        x0, y0, x1, y1 = box
        assert x1 - x0 == pytest.approx(max(fraction * 300, 1.5 * 4 + 8))
        assert y1 - y0 == pytest.approx(max(fraction * 300, 1.5 * 90 + 8))
        assert (x0 + x1) / 2 == pytest.approx(500) and (y0 + y1) / 2 == pytest.approx(150)


def test_clicks_along_a_tall_object_leave_out_a_look_alike_beside_it(engine: ClassicEngine) -> None:
    figure = np.zeros((H, W), bool)
    figure[15:150, 92:108] = True
    look_alike = np.zeros((H, W), bool)
    look_alike[60:110, 135:175] = True
    image = compose([(figure, (200, 70, 60), 11), (look_alike, (200, 70, 60), 11)])
    clicks = np.array([[100, 25], [100, 82], [100, 140]], np.float32)
    prompt = ObjectPrompt(points=clicks, point_labels=np.ones(3, np.int64))
    mask = engine.decode(features_of(engine, image), [prompt], multimask=False).masks[0, 0].numpy()
    assert iou(mask, figure) >= 0.85
    assert mask[look_alike].mean() <= 0.05


def test_a_click_deep_inside_a_mask_agrees_more_than_one_on_its_edge() -> None:
    # Users click inside objects: a mask that has the click on its rim (a neighbouring part)
    # is a worse answer than one around it. Discs of radius 20: the click is at the centre of
    # one and 2 px inside the rim of the other, whose agreement is the click's depth over 0.3 of
    # the disc's greatest depth (depths: Euclidean distance to the nearest pixel outside).
    yy, xx = np.mgrid[0:H, 0:W]
    around = (xx - 100) ** 2 + (yy - 80) ** 2 <= 20**2
    beside = (xx - 118) ** 2 + (yy - 80) ** 2 <= 20**2
    outside = np.argwhere(~beside)

    def depth(y: int, x: int) -> float:
        return float(np.sqrt(((outside - [y, x]) ** 2).sum(axis=1).min()))

    deepest = max(depth(80, x) for x in range(110, 127))
    click = ObjectPrompt(points=np.array([[100.5, 80.5]]), point_labels=np.array([1]))
    assert prompt_agreement(around, (0, 0), click, None) == 1.0
    expected = depth(80, 100) / (0.3 * deepest)
    assert expected < 0.5
    assert prompt_agreement(beside, (0, 0), click, None) == pytest.approx(expected, rel=1e-4)
    # A negative click only has to be outside.
    off = ObjectPrompt(points=np.array([[100.5, 80.5]]), point_labels=np.array([0]))
    assert prompt_agreement(~around, (0, 0), off, None) == 1.0
    assert prompt_agreement(around, (0, 0), off, None) == 0.0
