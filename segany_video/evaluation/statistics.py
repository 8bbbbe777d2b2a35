"""Statistics over an evaluation's per-frame records: leaks (area ratio) and score honesty.

- **Area ratio**: predicted mask area / true area per frame. A ratio above 2 means the mask
  covers more than twice the object (a leak onto the background); above 5, the mask is mostly
  background.
- **Score vs IoU**: how well the engine's per-frame score predicts failure. AUC is the
  probability that a failing frame (IoU < 0.5) scores lower than a good one (ties count half):
  1.0 = the score separates them perfectly, 0.5 = no better than chance. Pearson is the linear
  correlation of score and IoU.

Only scored frames enter (all but each sequence's first and last, as for J and F). Recompute
them from ``segany-video eval ... --json EVAL.json`` with::

    python -m segany_video.evaluation.statistics EVAL.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from segany_video.errors import ConfigError

FAIL_IOU = 0.5


@dataclass(frozen=True)
class AreaRatioStats:
    """Area ratios over frames whose object is visible.

    Attributes:
        frames: frames with a non-empty true mask.
        over_2: share of those frames whose mask exceeds twice the true area.
        over_5: share exceeding five times the true area.
        median: median ratio.
        empty_truth_painted: frames where the object is absent but a mask was painted.
    """

    frames: int
    over_2: float
    over_5: float
    median: float
    empty_truth_painted: int


def area_ratio_stats(areas: Sequence[int], true_areas: Sequence[int]) -> AreaRatioStats:
    """Area-ratio statistics of aligned per-frame predicted and true areas (pixels)."""
    pred = np.asarray(areas, dtype=np.float64)
    truth = np.asarray(true_areas, dtype=np.float64)
    if pred.shape != truth.shape:
        raise ValueError(f"{pred.size} predicted areas but {truth.size} true areas")
    visible = truth > 0
    ratios = pred[visible] / truth[visible]
    painted = int(np.count_nonzero(~visible & (pred > 0)))
    if ratios.size == 0:
        return AreaRatioStats(0, math.nan, math.nan, math.nan, painted)
    return AreaRatioStats(
        frames=int(ratios.size),
        over_2=float(np.mean(ratios > 2)),
        over_5=float(np.mean(ratios > 5)),
        median=float(np.median(ratios)),
        empty_truth_painted=painted,
    )


def _midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of ``values``, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    start = 0
    while start < len(values):
        stop = start + 1
        while stop < len(values) and sorted_values[stop] == sorted_values[start]:
            stop += 1
        ranks[order[start:stop]] = (start + stop + 1) / 2  # mean of ranks start+1 .. stop
        start = stop
    return ranks


def failure_auc(
    scores: Sequence[float], ious: Sequence[float], fail_iou: float = FAIL_IOU
) -> float:
    """AUC of the score as a detector of failure (IoU < ``fail_iou``), lower score = failure.

    Computed with the Mann-Whitney rank statistic: with ``R`` the sum of the good frames' score
    ranks among all frames, ``AUC = (R - n_good (n_good + 1) / 2) / (n_good n_fail)``, i.e. the
    share of (failing, good) pairs where the failing frame scores lower, ties counting half.

    Returns:
        AUC in ``[0, 1]``; NaN when there are no failing or no good frames.
    """
    s = np.asarray(scores, dtype=np.float64)
    j = np.asarray(ious, dtype=np.float64)
    if s.shape != j.shape:
        raise ValueError(f"{s.size} scores but {j.size} IoU values")
    good = j >= fail_iou
    n_good, n_fail = int(np.count_nonzero(good)), int(np.count_nonzero(~good))
    if n_good == 0 or n_fail == 0:
        return math.nan
    rank_sum = float(_midranks(s)[good].sum())
    return (rank_sum - n_good * (n_good + 1) / 2) / (n_good * n_fail)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or fewer than 2 values."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{a.size} values against {b.size}")
    if a.size < 2:
        return math.nan
    a, b = a - a.mean(), b - b.mean()
    denominator = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denominator if denominator > 0 else math.nan


@dataclass(frozen=True)
class SplitStatistics:
    """Leak and score-honesty figures over every scored frame of an evaluation."""

    area: AreaRatioStats
    auc: float
    pearson: float
    frames: int
    failing_frames: int

    def to_dict(self) -> dict:
        """JSON-able figures; NaN (undefined) becomes None."""
        return {
            "area_ratio": {k: _finite(v) for k, v in asdict(self.area).items()},
            "auc_iou_below_0.5": _finite(self.auc),
            "pearson_score_iou": _finite(self.pearson),
            "frames": self.frames,
            "failing_frames": self.failing_frames,
        }

    def lines(self) -> list[str]:
        a = self.area
        return [
            f"area ratio   > 2: {a.over_2:.1%}  > 5: {a.over_5:.1%}  median {a.median:.2f}  "
            f"({a.frames} frames; {a.empty_truth_painted} painted with the object absent)",
            f"score        AUC(IoU < {FAIL_IOU}) {self.auc:.3f}  Pearson(score, IoU) "
            f"{self.pearson:.3f}  ({self.failing_frames} of {self.frames} frames failing)",
        ]


def _finite(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def split_statistics(per_frame: Sequence[dict]) -> SplitStatistics:
    """Statistics over the scored frames of each sequence's per-frame record.

    Args:
        per_frame: one record per sequence with aligned lists ``J``, ``score``, ``area`` and
            ``true_area`` over all its frames (as in eval's JSON ``per_frame``).
    """
    js: list[float] = []
    scores: list[float] = []
    areas: list[int] = []
    truths: list[int] = []
    for record in per_frame:
        scored = slice(1, len(record["J"]) - 1)  # first and last frames are not scored
        js += record["J"][scored]
        scores += record["score"][scored]
        areas += record["area"][scored]
        truths += record["true_area"][scored]
    return SplitStatistics(
        area=area_ratio_stats(areas, truths),
        auc=failure_auc(scores, js),
        pearson=pearson(scores, js),
        frames=len(js),
        failing_frames=sum(1 for v in js if v < FAIL_IOU),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m segany_video.evaluation.statistics EVAL.json [...]``: one block per file."""
    parser = argparse.ArgumentParser(
        prog="python -m segany_video.evaluation.statistics",
        description="Area-ratio and score-vs-IoU statistics from `segany-video eval --json`.",
    )
    parser.add_argument("reports", type=Path, nargs="+", help="JSON files written by eval --json")
    args = parser.parse_args(argv)
    for path in args.reports:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            records = [s["per_frame"] for s in data["sequences"].values()]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}: not an eval --json report with per-frame records: {exc}"
            ) from exc
        stats = split_statistics(records)
        print(f"{path} ({data.get('split') or 'sequences'}, prompt {data.get('prompt')}):")
        for line in stats.lines():
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
