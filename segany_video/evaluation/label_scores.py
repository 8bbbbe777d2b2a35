"""Score a run's label PNGs against ground truth: J, F and J&F per object, and when it is seen.

Both folders hold one indexed PNG per frame (the ``davis`` output format, DAVIS 2017
annotations): pixel value ``k`` is object ``k``, 0 is background. Frames are paired by file name
and only frames with ground truth are scored, so sparse annotations (every 10th frame) work.
Per object the standard DAVIS measures are taken over the scored frames except the first and
last (see :mod:`segany_video.evaluation.metrics`); besides them, the mean IoU over the frames where the
object is visible, and the frames where the run and the truth disagree on whether it is visible
at all: what an analyst checks for an object that hides and comes back. Run it as::

    segany-video score out/sample samples/sample/ground_truth
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segany_video.errors import ConfigError
from segany_video.evaluation.metrics import (
    DEFAULT_BOUND_TH,
    SequenceScores,
    boundary_f_measure,
    region_similarity,
    sequence_scores,
)
from segany_video.writers.atomic import write_text_atomically
from segany_video.writers.davis_png import read_davis_png


@dataclass(frozen=True)
class ObjectScores:
    """How well one object was followed.

    Attributes:
        label: the object's pixel value in both folders.
        scores: DAVIS J, F and J&F (first and last scored frame left out), per-frame values.
        visible_iou: mean IoU over the scored frames where the truth shows the object (NaN if
            none).
        visible_frames: how many scored frames the truth shows it in.
        visibility_mismatches: names of frames where the run shows it and the truth does not,
            or the other way round.
    """

    label: int
    scores: SequenceScores
    visible_iou: float
    visible_frames: int
    visibility_mismatches: tuple[str, ...]

    def to_dict(self) -> dict:
        s = self.scores
        return {
            "J": s.j_mean,
            "F": s.f_mean,
            "JF": s.jf_mean,
            "visible_iou": None if np.isnan(self.visible_iou) else self.visible_iou,
            "visible_frames": self.visible_frames,
            "visibility_mismatches": list(self.visibility_mismatches),
        }


@dataclass(frozen=True)
class LabelReport:
    """Scores of every object found in the ground truth, and the frames scored."""

    objects: tuple[ObjectScores, ...]
    frames: tuple[str, ...]

    def table(self) -> str:
        """A plain-text table: one row per object."""
        lines = [
            f"{'object':>6s} {'J':>6s} {'F':>6s} {'J&F':>6s} {'visible IoU':>11s} "
            f"{'visible':>7s} {'mismatches':>10s}"
        ]
        for o in self.objects:
            s = o.scores
            lines.append(
                f"{o.label:6d} {s.j_mean:6.3f} {s.f_mean:6.3f} {s.jf_mean:6.3f} "
                f"{o.visible_iou:11.3f} {o.visible_frames:7d} {len(o.visibility_mismatches):10d}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "frames": len(self.frames),
            "objects": {str(o.label): o.to_dict() for o in self.objects},
        }


def label_files(folder: Path, what: str) -> dict[str, Path]:
    """``{file name: path}`` of the PNGs in ``folder`` (a run's output folder: its ``davis/``).

    Raises:
        ConfigError: no such folder, or no PNG in it.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{what} folder {folder} does not exist")
    if not any(folder.glob("*.png")) and (folder / "davis").is_dir():
        folder = folder / "davis"
    files = {p.name: p for p in sorted(folder.glob("*.png")) if not p.name.startswith(".")}
    if not files:
        raise ConfigError(f"{what} folder {folder} holds no PNG files")
    return files


def read_labels(path: Path, binary: bool) -> np.ndarray:
    """``(H, W)`` uint8 object labels of one file (with ``binary``: 1 wherever nonzero).

    Raises:
        ConfigError: the file is not an 8-bit palette or grayscale PNG.
    """
    try:
        labels = read_davis_png(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"{path}: cannot read object labels ({exc}); labels must be 8-bit palette or "
            "grayscale PNGs, pixel value = object"
        ) from exc
    return (labels != 0).astype(np.uint8) if binary else labels


def score_label_folders(
    predicted: Path,
    truth: Path,
    *,
    binary: bool = False,
    bound_th: float = DEFAULT_BOUND_TH,
) -> LabelReport:
    """Score every object of the ground truth through the frames it annotates.

    Args:
        predicted: folder of the run's label PNGs, or the run's output folder holding ``davis/``.
        truth: folder of ground-truth label PNGs with the same file names.
        binary: one object: any nonzero pixel in either folder (0/255 masks, say).
        bound_th: F tolerance as a share of the image diagonal.

    Returns:
        One :class:`ObjectScores` per object label present in the ground truth, by label.

    Raises:
        ConfigError: a folder is missing or empty, a ground-truth frame has no prediction, the
            two differ in size, fewer than 3 frames are annotated, or the truth shows no object.
    """
    truth_files = label_files(truth, "ground-truth")
    predicted_files = label_files(predicted, "prediction")
    missing = [name for name in truth_files if name not in predicted_files]
    if missing:
        raise ConfigError(
            f"{len(missing)} ground-truth frames have no prediction in {predicted} "
            f"(first: {missing[0]}); score the run over the same frames"
        )
    names = tuple(truth_files)
    if len(names) < 3:
        raise ConfigError(
            f"{truth}: {len(names)} annotated frames; need at least 3 (the first and last "
            "are not scored)"
        )
    # Two passes so that no more than one frame pair is held: the objects first (one may first
    # show up late, and every frame before counts for it too), then the scores.
    labels: set[int] = set()
    for name in names:
        labels.update(np.unique(read_labels(truth_files[name], binary)).tolist())
    labels.discard(0)
    if not labels:
        raise ConfigError(f"{truth}: the ground truth shows no object (every pixel is 0)")
    tallies = {label: _Tally() for label in sorted(labels)}
    for name in names:
        pred = read_labels(predicted_files[name], binary)
        gt = read_labels(truth_files[name], binary)
        if pred.shape != gt.shape:
            raise ConfigError(
                f"frame {name}: prediction is {pred.shape[1]}x{pred.shape[0]}, ground truth "
                f"{gt.shape[1]}x{gt.shape[0]} (W x H)"
            )
        for label, tally in tallies.items():
            tally.add(pred == label, gt == label, bound_th)
    return LabelReport(
        objects=tuple(tally.scores(label, names) for label, tally in tallies.items()),
        frames=names,
    )


class _Tally:
    """Per-frame J, F and visibility of one object, gathered frame by frame."""

    def __init__(self) -> None:
        self.j: list[float] = []
        self.f: list[float] = []
        self.seen: list[bool] = []
        self.shown: list[bool] = []

    def add(self, pred: np.ndarray, gt: np.ndarray, bound_th: float) -> None:
        self.j.append(region_similarity(pred, gt))
        self.f.append(boundary_f_measure(pred, gt, bound_th))
        self.seen.append(bool(gt.any()))
        self.shown.append(bool(pred.any()))

    def scores(self, label: int, names: tuple[str, ...]) -> ObjectScores:
        scored = range(1, len(names) - 1)
        visible = [self.j[i] for i in scored if self.seen[i]]
        return ObjectScores(
            label=label,
            scores=sequence_scores(self.j, self.f, name=f"object {label}"),
            visible_iou=float(np.mean(visible)) if visible else float("nan"),
            visible_frames=len(visible),
            visibility_mismatches=tuple(names[i] for i in scored if self.seen[i] != self.shown[i]),
        )


def main(argv: Sequence[str] | None = None) -> int:
    """``segany-video score PREDICTED TRUTH [--binary] [--json OUT]``."""
    parser = argparse.ArgumentParser(
        prog="segany-video score",
        description="Score a run's label PNGs (its davis/ output) against ground-truth PNGs: "
        "J, F, J&F per object, mean IoU where visible, visibility mismatches.",
    )
    parser.add_argument("predicted", type=Path, help="the run's output folder or its davis/")
    parser.add_argument("truth", type=Path, help="ground-truth label PNGs, same file names")
    parser.add_argument("--binary", action="store_true", help="one object: any nonzero pixel")
    parser.add_argument("--bound-th", type=float, default=DEFAULT_BOUND_TH, help="F tolerance")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)
    report = score_label_folders(
        args.predicted, args.truth, binary=args.binary, bound_th=args.bound_th
    )
    print(f"{len(report.frames)} annotated frames (first and last not scored)")
    print(report.table())
    for o in report.objects:
        if o.visibility_mismatches:
            shown = ", ".join(o.visibility_mismatches[:8])
            more = len(o.visibility_mismatches) - 8
            tail = f" and {more} more" if more > 0 else ""
            print(f"object {o.label}: visible in only one of the two at {shown}{tail}")
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
