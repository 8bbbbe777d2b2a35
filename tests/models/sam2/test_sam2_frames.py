"""Frames to the SAM 2 input: Pillow's bicubic resize reproduced bit for bit, and both of Meta's
preprocessing paths (image predictor, video predictor on a JPEG folder) reproduced exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from meta_build import import_meta
from oracle import import_sam2

from segany_video.models.sam2.frame_resize import resize_like_pil
from segany_video.models.sam2.variants import build_sam2, reduced_config

Image = pytest.importorskip("PIL.Image", reason="Pillow is the oracle of the resize")

SIZES = [
    ((1080, 1920), (1024, 1024)),  # landscape HD: both axes shrink
    ((1920, 1080), (1024, 1024)),  # portrait: Pillow 13 runs the vertical pass first
    ((1500, 700), (1024, 1024)),  # height shrinks, width grows
    ((240, 320), (1024, 1024)),  # both grow
    ((479, 853), (256, 256)),  # odd sizes, strong shrink
    ((1024, 1024), (1024, 1024)),  # nothing to do
    ((7, 5), (64, 48)),
]


@pytest.mark.parametrize(("source", "target"), SIZES, ids=[f"{s}->{t}" for s, t in SIZES])
def test_resize_equals_pillow_bicubic(source, target) -> None:
    rng = np.random.default_rng(sum(source))
    frame = rng.integers(0, 256, (*source, 3), dtype=np.uint8)
    frame[: source[0] // 2] //= 4  # smooth and noisy halves, dark and bright
    expected = np.asarray(Image.fromarray(frame).resize(target[::-1], Image.BICUBIC))
    got = resize_like_pil(torch.from_numpy(frame)[None], target)[0].numpy()
    np.testing.assert_array_equal(got, expected)


def test_batched_frames_resize_independently() -> None:
    frames = torch.randint(0, 256, (3, 90, 160, 3), dtype=torch.uint8)
    batched = resize_like_pil(frames, (64, 64))
    for i in range(3):
        assert torch.equal(batched[i], resize_like_pil(frames[i : i + 1], (64, 64))[0])


@pytest.fixture(scope="module")
def model():
    return build_sam2(reduced_config("sam2.1_hiera_tiny"))


def test_pil_bicubic_preprocessing_equals_the_video_predictors_jpeg_loading(
    model, tmp_path
) -> None:
    misc = import_sam2("sam2.utils.misc")
    size = model.config.image_size
    rng = np.random.default_rng(4)
    decoded = []
    for i in range(3):
        frame = rng.integers(0, 256, (72, 128, 3), dtype=np.uint8)
        Image.fromarray(frame).save(tmp_path / f"{i:05d}.jpg", quality=90)
        decoded.append(np.asarray(Image.open(tmp_path / f"{i:05d}.jpg").convert("RGB")))
    expected, height, width = misc.load_video_frames_from_jpg_images(
        str(tmp_path), size, offload_video_to_cpu=True, compute_device=torch.device("cpu")
    )
    assert (height, width) == (72, 128)
    got = model.preprocess(torch.from_numpy(np.stack(decoded)), "pil_bicubic")
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_bilinear_preprocessing_equals_the_image_predictors_transform(model) -> None:
    meta = import_meta()
    transforms = meta.image_predictor.SAM2Transforms(model.config.image_size, mask_threshold=0.0)
    frame = np.random.default_rng(5).integers(0, 256, (72, 128, 3), dtype=np.uint8)
    got = model.preprocess(torch.from_numpy(frame)[None], "bilinear")
    torch.testing.assert_close(got[0], transforms(frame), atol=1e-6, rtol=0)


def test_unknown_resize_is_refused(model) -> None:
    with pytest.raises(ValueError, match="resize must be 'bilinear' or 'pil_bicubic'"):
        model.preprocess(torch.zeros(1, 8, 8, 3, dtype=torch.uint8), "nearest")
