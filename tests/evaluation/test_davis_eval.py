"""DAVIS evaluation runs what ``track`` runs, and records what the statistics need.

A small DAVIS-format sequence (a textured block drifting over a textured background) is built
on disk; the evaluation's masks are compared with a ``track`` run's ``davis`` output on the
same frames and prompt, and its per-frame records with counts taken from the files.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from segany_video.config import Config
from segany_video.errors import ConfigError, VideoOpenError
from segany_video.evaluation import davis_eval
from segany_video.evaluation.davis_eval import evaluate_davis
from segany_video.models.classic import build_classic
from segany_video.runtime.settings import RuntimeSettings
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.davis_png import read_davis_png

H, W, FRAMES = 72, 96, 6


def truth(i: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[20:48, 14 + 4 * i : 40 + 4 * i] = True
    return mask


def frame(i: int, rng: np.random.Generator) -> np.ndarray:
    """BGR: grey-green noise background, a red-orange noisy block where ``truth(i)`` is."""
    image = rng.normal((90, 120, 80), 12, (H, W, 3))
    block = rng.normal((30, 60, 210), 12, (H, W, 3))
    image[truth(i)] = block[truth(i)]
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("davis")
    rng = np.random.default_rng(7)
    for name in ("block", "other"):
        (base / name / "JPEGImages").mkdir(parents=True)
        (base / name / "Annotations").mkdir(parents=True)
        for i in range(FRAMES):
            cv2.imwrite(str(base / name / "JPEGImages" / f"{i:05d}.jpg"), frame(i, rng))
            gt = truth(i).astype(np.uint8) * 255
            cv2.imwrite(str(base / name / "Annotations" / f"{i:05d}.png"), gt)
    return base


@pytest.fixture(scope="module")
def segmenter() -> VideoSegmenter:
    torch.set_num_threads(1)
    config = Config(runtime=RuntimeSettings(device="cpu", num_threads=1))
    return VideoSegmenter(build_classic("cpu"), config=config)


def test_eval_masks_are_the_masks_track_writes(
    root: Path, segmenter: VideoSegmenter, tmp_path: Path
) -> None:
    report = evaluate_davis(root, segmenter, sequences=["block"], out_dir=tmp_path / "eval")
    prompts = {
        "objects": [
            {
                "id": 1,
                "keyframes": [{"frame": 0, "mask": str(root / "block/Annotations/00000.png")}],
            }
        ]
    }
    segmenter.run(root / "block" / "JPEGImages", prompts, tmp_path / "track", formats=["davis"])
    for i in range(FRAMES):
        tracked = read_davis_png(tmp_path / "track" / "davis" / f"{i:05d}.png") == 1
        evaluated = cv2.imread(str(tmp_path / "eval" / "block" / f"{i:05d}.png"), 0) > 0
        assert np.array_equal(tracked, evaluated), f"frame {i}"
    # The block is easy: the evaluation must actually follow it.
    assert report.sequences[0].j_mean > 0.7


def test_per_frame_records_match_the_masks(
    root: Path, segmenter: VideoSegmenter, tmp_path: Path
) -> None:
    report = evaluate_davis(root, segmenter, sequences=["block"], out_dir=tmp_path)
    record = report.per_frame("block")
    assert all(len(v) == FRAMES for v in record.values())
    assert record["true_area"] == [int(truth(i).sum()) for i in range(FRAMES)]
    for i in range(FRAMES):
        predicted = cv2.imread(str(tmp_path / "block" / f"{i:05d}.png"), 0) > 0
        assert record["area"][i] == int(predicted.sum())
        inter = np.logical_and(predicted, truth(i)).sum()
        union = np.logical_or(predicted, truth(i)).sum()
        assert record["J"][i] == pytest.approx(inter / union)
        assert 0.0 <= record["score"][i] <= 1.0
    assert record["state"][0] == "prompted" and record["J"][0] == 1.0
    assert set(record["state"][1:]) <= {"tracked", "lost"}


def test_main_with_a_split_file_writes_per_frame_json(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    split = tmp_path / "split.yaml"
    split.write_text("tuning: [other]\nconfirmation: [block]\n")
    out = tmp_path / "eval.json"
    argv = [str(root), "--split", "confirmation", "--split-file", str(split), "--device", "cpu"]
    assert davis_eval.main([*argv, "--prompt", "box", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "split: confirmation; prompt: box" in printed and "AUC(IoU < 0.5)" in printed
    data = json.loads(out.read_text())
    assert data["split"] == "confirmation" and list(data["sequences"]) == ["block"]
    per_frame = data["sequences"]["block"]["per_frame"]
    assert set(per_frame) == {"J", "F", "score", "state", "area", "true_area"}
    assert data["statistics"]["frames"] == FRAMES - 2


def test_a_frame_folder_with_other_images_is_refused(
    root: Path, segmenter: VideoSegmenter, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    for sub in ("JPEGImages", "Annotations"):
        (copy / "block" / sub).mkdir(parents=True)
        for path in (root / "block" / sub).iterdir():
            (copy / "block" / sub / path.name).write_bytes(path.read_bytes())
    # Readable as a video frame, but not one of the sequence's (.jpg/.jpeg/.png) frames.
    cv2.imwrite(str(copy / "block" / "JPEGImages" / "thumb.bmp"), np.zeros((H, W, 3), np.uint8))
    with pytest.raises(VideoOpenError, match="holds images other than its frames"):
        evaluate_davis(copy, segmenter, sequences=["block"])


def test_a_stride_tracks_what_a_folder_of_those_frames_gives(
    root: Path, segmenter: VideoSegmenter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The expectation: the even frames copied into a sequence of their own, tracked whole.
    for sub in ("JPEGImages", "Annotations"):
        (tmp_path / "even" / "block" / sub).mkdir(parents=True)
        for n, i in enumerate(range(0, FRAMES, 2)):
            suffix = ".jpg" if sub == "JPEGImages" else ".png"
            source = root / "block" / sub / f"{i:05d}{suffix}"
            (tmp_path / "even" / "block" / sub / f"{n:05d}{suffix}").write_bytes(
                source.read_bytes()
            )
    expected = evaluate_davis(tmp_path / "even", segmenter, sequences=["block"])
    links = tmp_path / "links"
    links.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(links))
    strided = evaluate_davis(root, segmenter, sequences=["block"], stride=2)
    assert strided.stride == 2 and strided.to_dict()["stride"] == 2
    assert strided.per_frame("block") == expected.per_frame("block")
    assert len(strided.per_frame("block")["J"]) == len(range(0, FRAMES, 2))
    assert list(links.iterdir()) == []  # the folder of links is gone


def test_main_refuses_a_stride_below_one(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        davis_eval.main([str(root), "--sequences", "block", "--stride", "0"])
    assert exit_info.value.code == 2
    assert "--stride: must be a whole number >= 1, got '0'" in capsys.readouterr().err


def test_main_refuses_too_few_frames_and_two_selections(root: Path) -> None:
    with pytest.raises(ConfigError, match="--max-frames must be at least 3"):
        davis_eval.main([str(root), "--sequences", "block", "--max-frames", "2"])
    with pytest.raises(SystemExit) as exit_info:
        davis_eval.main([str(root), "--split", "tuning", "--sequences", "block"])
    assert exit_info.value.code == 2
