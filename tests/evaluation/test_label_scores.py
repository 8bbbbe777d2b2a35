"""``segany-video score``: per-object J/F, visible IoU and visibility mismatches of label folders.

Ground truth is written with OpenCV as plain grayscale PNGs and predictions with the product's
palette writer, so the two folders are read through both kinds of PNG the scorer accepts; the
expected figures are worked out by hand from rectangles."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from segany_video.cli import main as cli_main
from segany_video.errors import ConfigError
from segany_video.evaluation.label_scores import score_label_folders
from segany_video.writers.davis_png import davis_palette, encode_palette_png

H, W = 60, 80


def labels(*rects: tuple[int, int, int, int, int]) -> np.ndarray:
    """``(H, W)`` uint8 with ``(label, x0, y0, x1, y1)`` rectangles painted in order."""
    image = np.zeros((H, W), np.uint8)
    for label, x0, y0, x1, y1 in rects:
        image[y0:y1, x0:x1] = label
    return image


def write_truth(folder: Path, frames: dict[int, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in frames.items():
        assert cv2.imwrite(str(folder / f"{index:05d}.png"), image)
    return folder


def write_run(folder: Path, frames: dict[int, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in frames.items():
        (folder / f"{index:05d}.png").write_bytes(encode_palette_png(image, davis_palette()))
    return folder


ONE = (1, 10, 10, 30, 30)  # 20x20 square of object 1
TWO = (2, 50, 20, 70, 40)  # 20x20 square of object 2


def test_a_perfect_run_scores_one_everywhere(tmp_path):
    frames = {i: labels(ONE, TWO) for i in range(5)}
    report = score_label_folders(
        write_run(tmp_path / "run", frames), write_truth(tmp_path / "gt", frames)
    )
    assert [o.label for o in report.objects] == [1, 2]
    for o in report.objects:
        assert (o.scores.j_mean, o.scores.f_mean, o.visible_iou) == (1.0, 1.0, 1.0)
        assert o.visible_frames == 3 and o.visibility_mismatches == ()


def test_a_missed_stretch_and_a_shifted_mask_score_as_worked_out(tmp_path):
    truth = {i: labels(ONE, TWO) for i in range(5)}
    # Object 2 is missed on frames 2 and 3; object 1 is shifted right by 10 px on frame 1:
    # overlap 10x20 = 200, union 600, IoU 1/3.
    run = {i: labels(ONE, TWO) for i in range(5)}
    run[1] = labels((1, 20, 10, 40, 30), TWO)
    run[2] = run[3] = labels(ONE)
    report = score_label_folders(
        write_run(tmp_path / "run", run), write_truth(tmp_path / "gt", truth)
    )
    one, two = report.objects
    assert one.scores.j_per_frame == pytest.approx((1, 1 / 3, 1, 1, 1))
    assert one.scores.j_mean == pytest.approx((1 / 3 + 2) / 3)
    assert one.visibility_mismatches == ()
    assert two.scores.j_per_frame == (1, 1, 0, 0, 1)
    assert two.scores.f_per_frame == (1, 1, 0, 0, 1)
    assert two.visible_iou == pytest.approx(1 / 3)
    assert two.visibility_mismatches == ("00002.png", "00003.png")


def test_an_object_that_shows_up_late_counts_from_the_first_frame(tmp_path):
    # Object 2 enters on frame 3; the run shows it (wrongly) from frame 1 on.
    truth = {i: labels(ONE, TWO) if i >= 3 else labels(ONE) for i in range(6)}
    run = {i: labels(ONE, TWO) if i >= 1 else labels(ONE) for i in range(6)}
    report = score_label_folders(
        write_run(tmp_path / "run", run), write_truth(tmp_path / "gt", truth)
    )
    two = report.objects[1]
    assert two.scores.j_per_frame == (1, 0, 0, 1, 1, 1)
    assert two.visible_frames == 2 and two.visible_iou == 1.0
    assert two.visibility_mismatches == ("00001.png", "00002.png")


def test_sparse_ground_truth_scores_only_its_frames_and_a_run_folder_is_found(tmp_path):
    truth = {0: labels(ONE), 10: labels(ONE), 20: labels(ONE), 30: labels(ONE)}
    run = {i: labels(ONE) if i != 10 else labels() for i in range(31)}
    run[5] = labels()  # not annotated: not scored
    write_run(tmp_path / "out" / "davis", run)
    report = score_label_folders(tmp_path / "out", write_truth(tmp_path / "gt", truth))
    assert report.frames == ("00000.png", "00010.png", "00020.png", "00030.png")
    assert report.objects[0].scores.j_per_frame == (1, 0, 1, 1)
    assert report.objects[0].visibility_mismatches == ("00010.png",)


def test_binary_masks_are_one_object(tmp_path):
    truth = {i: labels((255, 10, 10, 30, 30)) for i in range(3)}
    run = {i: labels((1, 10, 10, 20, 30), (2, 20, 10, 30, 30)) for i in range(3)}
    report = score_label_folders(
        write_run(tmp_path / "run", run), write_truth(tmp_path / "gt", truth), binary=True
    )
    assert [o.label for o in report.objects] == [1]
    assert report.objects[0].scores.j_mean == 1.0


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing frame", "00002.png"),
        ("size", "frame 00001.png: prediction is 40x30, ground truth 80x60"),
        ("too few", "2 annotated frames"),
        ("no object", "shows no object"),
        ("rgb", "cannot read object labels"),
        ("no folder", "does not exist"),
        ("empty folder", "holds no PNG"),
    ],
)
def test_bad_folders_get_one_clear_error(tmp_path, case, message):
    truth = {i: labels(ONE) for i in range(4)}
    run = dict(truth)
    if case == "missing frame":
        del run[2]
    elif case == "size":
        run[1] = np.zeros((30, 40), np.uint8)
    elif case == "too few":
        truth = {0: labels(ONE), 1: labels(ONE)}
    elif case == "no object":
        truth = {i: labels() for i in range(4)}
    write_run(tmp_path / "run", run)
    write_truth(tmp_path / "gt", truth)
    if case == "rgb":
        cv2.imwrite(str(tmp_path / "gt" / "00001.png"), np.zeros((H, W, 3), np.uint8))
        message = f"{tmp_path / 'gt' / '00001.png'}: {message}"
    truth_dir = tmp_path / "gt"
    if case == "no folder":
        truth_dir = tmp_path / "nowhere"
    elif case == "empty folder":
        truth_dir = tmp_path / "empty"
        truth_dir.mkdir()
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score_label_folders(tmp_path / "run", truth_dir)


def test_the_command_prints_the_table_writes_json_and_fails_cleanly(tmp_path, capsys):
    truth = {i: labels(ONE, TWO) for i in range(4)}
    run = dict(truth)
    run[1] = labels(ONE)
    write_run(tmp_path / "run", run)
    write_truth(tmp_path / "gt", truth)
    report_path = tmp_path / "scores.json"
    code = cli_main(
        ["score", str(tmp_path / "run"), str(tmp_path / "gt"), "--json", str(report_path)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "object 2: visible in only one of the two at 00001.png" in out
    saved = json.loads(report_path.read_text())
    assert saved["frames"] == 4
    assert saved["objects"]["2"]["visibility_mismatches"] == ["00001.png"]
    assert saved["objects"]["2"]["J"] == pytest.approx(0.5)
    assert saved["objects"]["1"]["JF"] == 1.0

    code = cli_main(["score", str(tmp_path / "run"), str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and "missing" in err and "does not exist" in err
