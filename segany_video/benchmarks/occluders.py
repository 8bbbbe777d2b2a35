"""DAVIS sequences with a thin pole passing in front of the object, tracked as `track` runs.

Each sequence of the split is tracked twice from its frame-0 prompt: as it is, and with a pole
drawn across it (:mod:`segany_video.evaluation.occluders`). Printed per sequence: J&F of both,
and mean J over the frames after the pole has left the object, clean and occluded: whether the
part the pole cut off and then uncovered was grown back.

Usage::

    segany-video bench occluders ../shared/data/davis2016-train --split tuning
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segany_video.evaluation.davis_data import DavisSequence, open_sequence
from segany_video.evaluation.davis_eval import (
    PROMPT_KINDS,
    add_run_options,
    add_sequence_options,
    chosen_sequences,
    evaluate_davis,
    run_config,
)
from segany_video.evaluation.metrics import SequenceScores
from segany_video.evaluation.occluders import DEFAULT_SEED, Pole, write_occluded
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.atomic import write_text_atomically


@dataclass(frozen=True)
class OccluderScores:
    """One sequence, clean and with the pole."""

    name: str
    clean: SequenceScores
    occluded: SequenceScores
    after: tuple[int, ...]  # frames after the pole has left the object

    def mean_j_after(self, scores: SequenceScores) -> float | None:
        if not self.after:
            return None
        return float(np.mean([scores.j_per_frame[i] for i in self.after]))


def frames_after_crossing(sequence: DavisSequence, pole: Pole) -> tuple[int, ...]:
    """Frames after the last one on which the pole covers part of the (whole) object."""
    last = None
    for index in range(len(sequence)):
        truth = sequence.mask(index)
        if truth[:, pole.columns(index, truth.shape[1])].any():
            last = index
    if last is None:
        return ()
    # The last frame is not scored by DAVIS (nor the first), so it is left out here too.
    return tuple(range(last + 1, len(sequence) - 1))


def score(
    root: Path, name: str, segmenter: VideoSegmenter, prompt: str, seed: int
) -> OccluderScores:
    sequence = open_sequence(root, name)
    clean = evaluate_davis(root, segmenter, prompt=prompt, sequences=[name]).sequences[0]
    with tempfile.TemporaryDirectory(prefix="segany-occluded-") as folder:
        pole = write_occluded(sequence, Path(folder), seed)
        report = evaluate_davis(folder, segmenter, prompt=prompt, sequences=[name])
    return OccluderScores(name, clean, report.sequences[0], frames_after_crossing(sequence, pole))


def _cell(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.3f}"


def table(results: Sequence[OccluderScores]) -> str:
    lines = [
        f"{'sequence':20s} {'clean':>6s} {'pole':>6s}   J after the pole: "
        f"{'clean':>6s} {'pole':>6s} (frames)"
    ]
    for r in results:
        lines.append(
            f"{r.name:20s} {r.clean.jf_mean:6.3f} {r.occluded.jf_mean:6.3f}"
            f"{'':19s}{_cell(r.mean_j_after(r.clean))} {_cell(r.mean_j_after(r.occluded))}"
            f" ({len(r.after)})"
        )
    if len(results) > 1:
        clean = float(np.mean([r.clean.jf_mean for r in results]))
        occluded = float(np.mean([r.occluded.jf_mean for r in results]))
        afters = [(r.mean_j_after(r.clean), r.mean_j_after(r.occluded)) for r in results]
        afters = [a for a in afters if a[0] is not None]
        after_clean = float(np.mean([a[0] for a in afters])) if afters else None
        after_pole = float(np.mean([a[1] for a in afters])) if afters else None
        lines.append(
            f"{'mean':20s} {clean:6.3f} {occluded:6.3f}{'':19s}"
            f"{_cell(after_clean)} {_cell(after_pole)} ({len(afters)} sequences)"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video bench occluders",
        description="J&F of DAVIS sequences as they are and with a thin pole passing in front "
        "of the object.",
    )
    add_sequence_options(parser)
    parser.add_argument("--prompt", choices=PROMPT_KINDS, default="mask")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the poles' draw")
    add_run_options(parser)
    parser.add_argument("--json", help="write the figures as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = chosen_sequences(args)
    segmenter = VideoSegmenter(config=run_config(args))
    results = []
    for name in names:
        results.append(score(args.root, name, segmenter, args.prompt, args.seed))
        print(table(results[-1:]).splitlines()[1], flush=True)
    print(table(results))
    if args.json is not None:
        data = {
            r.name: {
                "clean_jf": r.clean.jf_mean,
                "occluded_jf": r.occluded.jf_mean,
                "frames_after": len(r.after),
                "clean_j_after": r.mean_j_after(r.clean),
                "occluded_j_after": r.mean_j_after(r.occluded),
            }
            for r in results
        }
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
