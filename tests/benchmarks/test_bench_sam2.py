"""Smoke checks of the SAM 2 video-mode benchmarks (figures come from the command)."""

from __future__ import annotations

import importlib.util
import re

import pytest
import torch

from segany_video.benchmarks import sam2_video


@pytest.mark.slow
@pytest.mark.parametrize("formats", [None, "masks,json"])
def test_memory_child_runs_our_side_and_reports_its_peak(capsys, formats):
    argv = ["memory", "--frames", "4", "--size", "96x64", "--image-size", "128"]
    argv += ["--objects", "1", "--threads", "1", "--sides", "ours"]
    argv += ["--formats", formats] if formats else []
    assert sam2_video.main(argv) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    label = f"ours writing {formats}" if formats else "ours"
    match = re.fullmatch(
        rf"{label}: 4 frames 96x64, 1 objects, input 128: peak RSS (\d+) MiB .*", line
    )
    assert match, line
    assert int(match.group(1)) > 0


@pytest.mark.parametrize(
    ("times", "first", "expected"),
    [
        ([0.0, 1.0, 2.0, 4.0, 6.0], 2, "0.500 frames/s"),  # frames 3 and 4 took 2 s each
        ([0.0, 1.0, 2.0], 2, "clip too short to fill the memory"),
        ([0.0, 1.0], 7, "clip too short to fill the memory"),
    ],
)
def test_full_memory_rate_counts_frames_after_the_bank_fills(times, first, expected) -> None:
    assert sam2_video._full_memory_rate(times, first) == expected


@pytest.mark.slow
def test_speed_runs_both_sides_and_reports_agreeing_masks(capsys) -> None:
    if importlib.util.find_spec("sam2") is None:
        pytest.skip("Meta's sam2 package is not installed (pip install --no-deps sam2)")
    argv = ["speed", "--frames", "9", "--image-size", "128", "--size", "160x96", "--objects", "2"]
    argv += ["--threads", "1"]
    assert sam2_video.main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^machine: .+, \d+ cores, torch ", out, re.M)
    assert re.search(r"^ours: .* from frame 7 \(memory full\): [0-9.]+ frames/s$", out, re.M)
    assert re.search(r"^meta: .* from frame 7 \(memory full\): [0-9.]+ frames/s$", out, re.M)
    assert re.search(r"^speed ratio from frame 7 on: [0-9.]+x$", out, re.M)
    assert re.search(r"^CPU-time ratio meta/ours .*: [0-9.]+x$", out, re.M)
    differing = re.search(r"^masks: (\d+) of (\d+) object-pixels differ", out, re.M)
    assert differing is not None
    assert int(differing.group(1)) <= 1e-4 * int(differing.group(2))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_speed_on_a_gpu_where_there_is_none_exits_2(capsys) -> None:
    assert sam2_video.main(["speed", "--device", "cuda", "--dtype", "bfloat16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench sam2 speed: device 'cuda' was requested but CUDA is not available")
    assert "\n" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dtype", "bfloat16"], "dtype bfloat16 is not supported on the CPU runtime"),
        (["--device", "gpu"], "device 'gpu' is not valid"),
    ],
)
def test_speed_refuses_what_it_cannot_run_with_exit_2(capsys, argv, message) -> None:
    assert sam2_video.main(["speed", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"bench sam2 speed: {message}")
    assert "\n" not in err


@pytest.mark.slow
def test_meta_side_in_bf16_runs_under_autocast(tmp_path) -> None:
    """What `--dtype bfloat16` asks of Meta's side, checked on the CPU: its masks move a little
    away from float32's (so autocast took effect) and stay close to them."""
    if importlib.util.find_spec("sam2") is None:
        pytest.skip("Meta's sam2 package is not installed (pip install --no-deps sam2)")
    torch.set_num_threads(1)
    video = tmp_path / "clip.mp4"
    clicks = sam2_video.write_video(video, 6, (160, 96), 0)[:2]
    with torch.inference_mode():
        ours = sam2_video.build_ours(128, 0)
        predictor, module = sam2_video.build_meta(128, ours.state_dict())
        full = list(sam2_video.run_meta(predictor, module, ours, video, clicks))
        half = list(sam2_video.run_meta(predictor, module, ours, video, clicks, dtype="bfloat16"))
    assert len(full) == len(half) == 6
    differing = sum(int((a != b).sum()) for a, b in zip(full, half, strict=True))
    object_pixels = sum(int(a.sum()) for a in full)
    assert object_pixels > 0
    assert 0 < differing <= 0.05 * object_pixels
