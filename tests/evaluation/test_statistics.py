"""Leak and score-honesty statistics against hand counts and brute-force pair counting."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from segany_video.evaluation import statistics
from segany_video.evaluation.statistics import (
    area_ratio_stats,
    failure_auc,
    pearson,
    split_statistics,
)


def brute_force_auc(scores: list[float], ious: list[float], fail_iou: float = 0.5) -> float:
    """Every (failing, good) pair: 1 when the failing frame scores lower, 1/2 on a tie."""
    failing = [s for s, j in zip(scores, ious, strict=True) if j < fail_iou]
    good = [s for s, j in zip(scores, ious, strict=True) if j >= fail_iou]
    wins = sum(
        1.0 if f < g else 0.5 if f == g else 0.0 for f, g in itertools.product(failing, good)
    )
    return wins / (len(failing) * len(good))


def test_area_ratio_counts_by_hand() -> None:
    # ratios 1, 2 (not > 2), 3, 6, 0.5; one frame without the object but painted, one empty both
    areas = [100, 200, 300, 600, 50, 40, 0]
    truth = [100, 100, 100, 100, 100, 0, 0]
    stats = area_ratio_stats(areas, truth)
    assert stats.frames == 5
    assert stats.over_2 == pytest.approx(2 / 5)
    assert stats.over_5 == pytest.approx(1 / 5)
    assert stats.median == pytest.approx(2.0)
    assert stats.empty_truth_painted == 1


def test_area_ratio_without_visible_frames_is_undefined() -> None:
    stats = area_ratio_stats([5, 0], [0, 0])
    assert stats.frames == 0 and math.isnan(stats.median) and stats.empty_truth_painted == 1


def test_auc_perfect_inverted_and_chance() -> None:
    ious = [0.1, 0.2, 0.8, 0.9]
    assert failure_auc([0.1, 0.2, 0.7, 0.9], ious) == 1.0  # failures score lowest
    assert failure_auc([0.9, 0.8, 0.2, 0.1], ious) == 0.0  # failures score highest
    assert failure_auc([0.5, 0.5, 0.5, 0.5], ious) == 0.5  # a constant score says nothing


def test_auc_threshold_is_strict() -> None:
    # IoU exactly 0.5 is not a failure
    assert failure_auc([0.2, 0.3], [0.5, 0.4]) == 0.0
    assert failure_auc([0.3, 0.2], [0.5, 0.4]) == 1.0


@pytest.mark.parametrize("seed", range(6))
def test_auc_matches_brute_force_pair_counting(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    ious = rng.uniform(0, 1, n).tolist()
    # Coarse scores so that ties happen (within and across classes).
    scores = (np.round(rng.uniform(0, 1, n) * 6) / 6).tolist()
    if all(j >= 0.5 for j in ious) or all(j < 0.5 for j in ious):
        ious[0], ious[1] = 0.1, 0.9
    assert failure_auc(scores, ious) == pytest.approx(brute_force_auc(scores, ious), abs=1e-12)


def test_auc_needs_both_classes() -> None:
    assert math.isnan(failure_auc([0.3, 0.4], [0.9, 0.8]))
    assert math.isnan(failure_auc([0.3, 0.4], [0.1, 0.2]))
    with pytest.raises(ValueError, match="2 scores but 3"):
        failure_auc([0.1, 0.2], [0.1, 0.2, 0.3])


def test_pearson_by_definition() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # x = (0, 1, 2, 3), y = (0, 1, 1, 0): centred dot product 0 -> no linear correlation
    assert pearson([0, 1, 2, 3], [0, 1, 1, 0]) == pytest.approx(0.0)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def test_split_statistics_leaves_out_first_and_last_frames() -> None:
    # Frames 0 and 3 would flip every figure; only frames 1 and 2 count.
    record = {
        "J": [1.0, 0.2, 0.9, 0.0],
        "score": [1.0, 0.3, 0.8, 1.0],
        "area": [100, 300, 100, 9999],
        "true_area": [100, 100, 100, 100],
    }
    stats = split_statistics([record, record])
    assert stats.frames == 4 and stats.failing_frames == 2
    assert stats.auc == 1.0
    assert stats.area.over_2 == 0.5 and stats.area.over_5 == 0.0


def test_main_reads_an_eval_report(tmp_path: Path, capsys) -> None:
    record = {
        "J": [1.0, 0.2, 0.9, 0.0],
        "F": [1.0, 0.2, 0.9, 0.0],
        "score": [1.0, 0.3, 0.8, 1.0],
        "state": ["prompted", "tracked", "tracked", "tracked"],
        "area": [100, 300, 100, 9999],
        "true_area": [100, 100, 100, 100],
    }
    report = {"split": "tuning", "prompt": "mask", "sequences": {"a": {"per_frame": record}}}
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(report))
    assert statistics.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "> 2: 50.0%" in out and "AUC(IoU < 0.5) 1.000" in out
