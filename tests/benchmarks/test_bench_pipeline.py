"""Smoke checks of the pipeline benchmark's pieces (figures come from the command, not here)."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import torch

from segany_video.benchmarks import pipeline as bench_pipeline
from segany_video.benchmarks.reference_predictors import (
    _resize_bilinear,
    import_mobile_sam,
    import_segment_anything,
)
from segany_video.readers.reader import open_video


def test_overlap_part_runs_and_reports(capsys):
    argv = ["overlap", "--frames", "6", "--width", "64", "--height", "48", "--batch-size", "2"]
    argv += ["--encode-ms", "2", "--consume-ms", "0"]
    assert bench_pipeline.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    # 6 frames at 2 ms each, measured around the sleeps.
    assert report["encoder_busy_s"] >= 0.012
    assert report["pipeline_wall_s"] >= report["encoder_busy_s"]


def test_generated_clip_and_prompts(tmp_path):
    clip = bench_pipeline.write_clip(tmp_path / "c.mp4", 5, width=96, height=64)
    with open_video(clip) as video:
        assert (video.info.width, video.info.height) == (96, 64)
        assert sum(len(b) for b in video.batches(2)) == 5
    prompts = bench_pipeline.three_prompts(64, 96)
    assert len(prompts) == 3
    for prompt in prompts:
        x0, y0, x1, y1 = prompt.box
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 64


@pytest.mark.parametrize("importer", [import_segment_anything, import_mobile_sam])
def test_reference_packages_import_without_leaving_stand_ins(importer):
    name = importer.__name__.removeprefix("import_")
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"the {name} oracle is not installed (pip install --no-deps)")
    package = importer()
    assert hasattr(package, "SamPredictor")
    assert "torchvision" not in sys.modules or sys.modules["torchvision"].__spec__ is not None
    assert "timm" not in sys.modules or sys.modules["timm"].__spec__ is not None


def test_stand_in_resize_is_bilinear_to_height_width():
    image = np.zeros((4, 6, 3), np.uint8)
    image[:, 3:] = 200
    out = _resize_bilinear(image, (8, 12))
    assert out.shape == (8, 12, 3)
    assert out[0, 0, 0] == 0 and out[0, -1, 0] == 200


def test_our_stages_time_every_step_of_a_frame():
    from segany_video.models.sam.mobile_sam import build_mobile_sam
    from segany_video.models.sam.tiny_vit import TinyViTConfig

    torch.manual_seed(0)
    tiny = TinyViTConfig(
        img_size=128, embed_dims=(8, 16, 16, 32), depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)
    )
    model = build_mobile_sam(tiny)
    frames = np.random.default_rng(0).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    with torch.inference_mode():
        stages = bench_pipeline._our_stages(
            model, frames, bench_pipeline.three_prompts(48, 64), repeats=1
        )
    assert set(stages) == {
        "preprocess",
        "encoder",
        "embed_batch_2_per_frame",
        "decode_3_objects",
        "postprocess_3_objects",
        "whole_frame",
    }
    assert all(seconds > 0 for seconds in stages.values())
