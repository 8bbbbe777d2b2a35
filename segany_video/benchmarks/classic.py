"""Quality and speed of the classic engine on DAVIS 2016 sequences.

Two protocols, each on every ``--step``-th frame of each sequence:

* box: the prompt is the tight box of the ground-truth mask; J (IoU) of the engine's first
  candidate, of its best-scored candidate, and of plain full-resolution grabCut with the same
  box (5 iterations, the reference) measured side by side;
* prior: the prompt is the ground-truth mask of the previous frame as a dense prior (what the
  tracker passes, motion-warped, in video); J of the first and best-scored candidates, and of
  the prior itself as the answer (what the engine must beat);
* click (optional): one positive click at the object pixel farthest from its boundary; J of
  the best-scored and of the best of the 3 candidates.

Also reported: decode time per object (and frames/s), embed time per frame, and the Pearson
correlation between the engine's scores and the true J (is the score honest?).

Usage::

    segany-video bench classic --data ../shared/data/davis2016-train
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from segany_video.evaluation.metrics import region_similarity
from segany_video.models.base import ObjectPrompt
from segany_video.models.classic import ClassicEngine, ClassicFeatures, ClassicSettings
from segany_video.results import mask_box

_BASELINE_ITERATIONS = 5


@dataclass
class SequenceReport:
    """Per-frame figures of one sequence (lists align by frame)."""

    name: str
    box_first: list[float] = field(default_factory=list)
    box_best: list[float] = field(default_factory=list)
    box_oracle: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    prior_first: list[float] = field(default_factory=list)
    prior_best: list[float] = field(default_factory=list)
    prior_copy: list[float] = field(default_factory=list)
    click_best: list[float] = field(default_factory=list)
    click_oracle: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    score_truth: list[float] = field(default_factory=list)
    decode_s: list[float] = field(default_factory=list)
    decode_cpu_s: list[float] = field(default_factory=list)
    prior_decode_s: list[float] = field(default_factory=list)
    prior_decode_cpu_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    baseline_cpu_s: list[float] = field(default_factory=list)
    embed_s: list[float] = field(default_factory=list)


def load_frame(sequence: Path, index: int) -> tuple[np.ndarray, np.ndarray]:
    """``(H, W, 3)`` uint8 RGB frame and ``(H, W)`` bool ground truth of one DAVIS frame."""
    name = f"{index:05d}"
    bgr = cv2.imread(str(sequence / "JPEGImages" / f"{name}.jpg"), cv2.IMREAD_COLOR)
    gt = cv2.imread(str(sequence / "Annotations" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
    if bgr is None or gt is None:
        raise FileNotFoundError(f"frame {name} of {sequence} is missing (JPEGImages/Annotations)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), gt > 127


def plain_grabcut(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The reference: OpenCV grabCut on the full frame, initialised with the box."""
    labels = np.zeros(image.shape[:2], dtype=np.uint8)
    x0, y0, x1, y1 = (int(v) for v in box)
    bgd, fgd = np.zeros((1, 65)), np.zeros((1, 65))
    cv2.setRNGSeed(0)
    cv2.grabCut(
        image, labels, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, _BASELINE_ITERATIONS,
        cv2.GC_INIT_WITH_RECT,
    )  # fmt: skip
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def evaluate_sequence(
    engine: ClassicEngine,
    sequence: Path,
    step: int,
    baseline: bool,
    protocols: Sequence[str] = ("box", "prior"),
) -> SequenceReport:
    """Run the protocols on every ``step``-th frame (from frame ``step``) of one sequence."""
    report = SequenceReport(sequence.name)
    count = len(list((sequence / "JPEGImages").glob("*.jpg")))
    for index in range(step, count, step):
        image, gt = load_frame(sequence, index)
        _, previous = load_frame(sequence, index - 1)
        if not gt.any() or not previous.any():
            continue
        start = time.perf_counter()
        features = engine.embed(torch.from_numpy(image)[None])[0]
        report.embed_s.append(time.perf_counter() - start)

        box = mask_box(gt)
        if "box" in protocols:
            _box_protocol(engine, features, box, gt, report)
        if "prior" in protocols:
            start, cpu = time.perf_counter(), time.process_time()
            _prior_protocol(engine, features, previous, gt, report)
            report.prior_decode_s.append(time.perf_counter() - start)
            report.prior_decode_cpu_s.append(time.process_time() - cpu)
        if "click" in protocols:
            _click_protocol(engine, features, gt, report)
        if baseline:
            start, cpu = time.perf_counter(), time.process_time()
            reference = plain_grabcut(image, box)
            report.baseline_s.append(time.perf_counter() - start)
            report.baseline_cpu_s.append(time.process_time() - cpu)
            report.baseline.append(region_similarity(reference, gt))
    return report


def _box_protocol(
    engine: ClassicEngine,
    features: ClassicFeatures,
    box: np.ndarray,
    gt: np.ndarray,
    report: SequenceReport,
) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    out = engine.decode(features, [ObjectPrompt(box=box)])
    report.decode_s.append(time.perf_counter() - start)
    report.decode_cpu_s.append(time.process_time() - cpu)
    masks, scores = out.masks[0].cpu().numpy(), out.scores[0].cpu().numpy()
    js = [region_similarity(m, gt) for m in masks]
    report.box_first.append(js[0])
    report.box_best.append(js[int(np.argmax(scores))])
    report.box_oracle.append(max(js))
    report.scores.extend(scores.tolist())
    report.score_truth.extend(js)


def _prior_protocol(
    engine: ClassicEngine,
    features: ClassicFeatures,
    previous: np.ndarray,
    gt: np.ndarray,
    report: SequenceReport,
) -> None:
    out = engine.decode(features, [ObjectPrompt(mask=previous.astype(np.float32))])
    masks, scores = out.masks[0].cpu().numpy(), out.scores[0].cpu().numpy()
    js = [region_similarity(m, gt) for m in masks]
    report.prior_first.append(js[0])
    report.prior_best.append(js[int(np.argmax(scores))])
    report.prior_copy.append(region_similarity(previous, gt))
    report.scores.extend(scores.tolist())
    report.score_truth.extend(js)


def _click_protocol(
    engine: ClassicEngine, features: ClassicFeatures, gt: np.ndarray, report: SequenceReport
) -> None:
    # One click where a user would put it: the object pixel farthest from its boundary.
    distance = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
    prompt = ObjectPrompt(points=np.array([[x + 0.5, y + 0.5]]), point_labels=np.array([1]))
    out = engine.decode(features, [prompt])
    masks, scores = out.masks[0].cpu().numpy(), out.scores[0].cpu().numpy()
    js = [region_similarity(m, gt) for m in masks]
    report.click_best.append(js[int(np.argmax(scores))])
    report.click_oracle.append(max(js))


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def print_reports(reports: Sequence[SequenceReport], baseline: bool) -> None:
    """One row per sequence and the mean over sequences (each sequence weighs the same)."""
    columns = ["box J", "box J best", "box J oracle", "prior J", "prior J best", "prior as is"]
    keys = ["box_first", "box_best", "box_oracle", "prior_first", "prior_best", "prior_copy"]
    if any(r.click_best for r in reports):
        columns += ["click J best", "click oracle"]
        keys += ["click_best", "click_oracle"]
    if baseline:
        columns.append("grabCut J")
        keys.append("baseline")
    print(f"{'sequence':<18}{'frames':>7}" + "".join(f"{c:>14}" for c in columns))
    for r in reports:
        row = "".join(f"{_mean(getattr(r, k)):>14.3f}" for k in keys)
        print(f"{r.name:<18}{len(r.embed_s):>7}{row}")
    means = "".join(f"{_mean([_mean(getattr(r, k)) for r in reports]):>14.3f}" for k in keys)
    print(f"{'mean':<18}{sum(len(r.embed_s) for r in reports):>7}{means}")
    # CPU time of this process (one thread) says what an idle core would do; wall time is
    # what this run saw on a possibly shared machine.
    for what, key in (("box", "decode"), ("prior", "prior_decode")):
        wall = _mean([t for r in reports for t in getattr(r, f"{key}_s")])
        cpu = _mean([t for r in reports for t in getattr(r, f"{key}_cpu_s")])
        if wall == wall:  # not NaN: the protocol ran
            print(
                f"{what} decode, 3 candidates: {1000 * wall:.0f} ms wall "
                f"({1 / wall:.1f} frames/s per object), {1000 * cpu:.0f} ms CPU "
                f"({1 / cpu:.1f} frames/s per object on one idle core)"
            )
    print(f"embed: {1000 * _mean([t for r in reports for t in r.embed_s]):.0f} ms per frame")
    if baseline:
        wall = _mean([t for r in reports for t in r.baseline_s])
        cpu = _mean([t for r in reports for t in r.baseline_cpu_s])
        print(f"plain grabCut: {1000 * wall:.0f} ms wall, {1000 * cpu:.0f} ms CPU")
    scores = np.array([s for r in reports for s in r.scores])
    truth = np.array([s for r in reports for s in r.score_truth])
    if len(scores) > 2 and scores.std() > 0 and truth.std() > 0:
        print(f"score vs true J: Pearson r = {np.corrcoef(scores, truth)[0, 1]:.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench classic", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/data/davis2016-train"))
    parser.add_argument("--sequences", nargs="*", default=None, help="names (default: all)")
    parser.add_argument("--step", type=int, default=5, help="evaluate every STEP-th frame")
    parser.add_argument("--no-baseline", action="store_true", help="skip plain grabCut")
    parser.add_argument(
        "--protocols", nargs="+", choices=("box", "prior", "click"), default=["box", "prior"]
    )
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch threads")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="override ClassicSettings fields (numbers)")  # fmt: skip
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = float(value) if "." in value or "e" in value else int(value)
    engine = ClassicEngine("cpu", ClassicSettings.from_dict(overrides))
    names = args.sequences or sorted(p.name for p in args.data.iterdir() if p.is_dir())
    reports = []
    for name in names:
        reports.append(
            evaluate_sequence(
                engine, args.data / name, args.step, not args.no_baseline, args.protocols
            )
        )
        r = reports[-1]
        print(f"  {name}: box J {_mean(r.box_first):.3f}, prior J {_mean(r.prior_first):.3f}",
              flush=True)  # fmt: skip
    print_reports(reports, not args.no_baseline)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
