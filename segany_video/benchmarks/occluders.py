"""DAVIS sequences with a thin pole passing in front of the object (or a band of look-alike
background behind it), tracked as `track` runs.

Each sequence of the split is tracked twice from its frame-0 prompt: as it is, and with a pole
drawn across it (:mod:`segany_video.evaluation.occluders`). Printed per sequence: J&F of both,
mean J over the frames after the pole has left the object, clean and occluded (whether the part
the pole cut off and then uncovered was grown back), and the share of frames whose mask is more
than twice the object's area (leaks). With ``--behind`` the pole is replaced by a wide band of
the object's own texture behind it: the leak column is then the one to read. With ``--still``
as well, the band stands in the scene (carried by the camera's pan) as a fence would.

Usage::

    segany-video bench occluders ../shared/data/davis2016-train --split tuning [--behind [--still]]
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
    add_prompt_options,
    add_run_options,
    add_sequence_options,
    chosen_sequences,
    evaluate_davis,
    run_config,
)
from segany_video.evaluation.davis_report import FrameTrace
from segany_video.evaluation.metrics import SequenceScores
from segany_video.evaluation.occluders import DEFAULT_SEED, Pole, write_occluded
from segany_video.evaluation.statistics import area_ratio_stats
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.atomic import write_text_atomically


@dataclass(frozen=True)
class OccluderScores:
    """One sequence, clean and with the pole."""

    name: str
    clean: SequenceScores
    occluded: SequenceScores
    after: tuple[int, ...]  # frames after the pole has left the object
    clean_over_2: float  # share of frames whose mask exceeds twice the true area
    occluded_over_2: float

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
    root: Path,
    name: str,
    segmenter: VideoSegmenter,
    prompt: str,
    seed: int,
    behind: bool = False,
    still: bool = False,
) -> OccluderScores:
    sequence = open_sequence(root, name)
    clean = evaluate_davis(root, segmenter, prompt=prompt, sequences=[name])
    with tempfile.TemporaryDirectory(prefix="segany-occluded-") as folder:
        pole = write_occluded(sequence, Path(folder), seed, behind, still)
        occluded = evaluate_davis(folder, segmenter, prompt=prompt, sequences=[name])
    return OccluderScores(
        name,
        clean.sequences[0],
        occluded.sequences[0],
        frames_after_crossing(sequence, pole),
        _over_2(clean.traces[name]),
        _over_2(occluded.traces[name]),
    )


def _over_2(trace: FrameTrace) -> float:
    return area_ratio_stats(trace.areas, trace.true_areas).over_2


def _cell(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.3f}"


def table(results: Sequence[OccluderScores], thing: str = "pole") -> str:
    lines = [
        f"{'sequence':20s} {'clean':>6s} {thing:>6s}   J after the {thing}: "
        f"{'clean':>6s} {thing:>6s} (frames)   mask > 2x area: {'clean':>6s} {thing:>6s}"
    ]
    for r in results:
        lines.append(
            f"{r.name:20s} {r.clean.jf_mean:6.3f} {r.occluded.jf_mean:6.3f}"
            f"{'':19s}{_cell(r.mean_j_after(r.clean))} {_cell(r.mean_j_after(r.occluded))}"
            f" ({len(r.after)}){'':18s}{r.clean_over_2:6.1%} {r.occluded_over_2:6.1%}"
        )
    if len(results) > 1:
        clean = float(np.mean([r.clean.jf_mean for r in results]))
        occluded = float(np.mean([r.occluded.jf_mean for r in results]))
        afters = [(r.mean_j_after(r.clean), r.mean_j_after(r.occluded)) for r in results]
        afters = [a for a in afters if a[0] is not None]
        after_clean = float(np.mean([a[0] for a in afters])) if afters else None
        after_pole = float(np.mean([a[1] for a in afters])) if afters else None
        # Over all frames (sequences weighted by length), as `eval` reports leaks.
        frames = np.array([len(r.clean.j_per_frame) for r in results], dtype=np.float64)
        leaks = [
            float(np.average([getattr(r, side) for r in results], weights=frames))
            for side in ("clean_over_2", "occluded_over_2")
        ]
        lines.append(
            f"{'mean':20s} {clean:6.3f} {occluded:6.3f}{'':19s}"
            f"{_cell(after_clean)} {_cell(after_pole)} ({len(afters)} sequences)"
            f"{'':4s}{leaks[0]:6.1%} {leaks[1]:6.1%}"
        )
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video bench occluders",
        description="J&F of DAVIS sequences as they are and with a thin pole passing in front "
        "of the object (or, with --behind, a band of its own texture behind it).",
    )
    add_sequence_options(parser)
    add_prompt_options(parser, clicks=False)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the poles' draw")
    parser.add_argument(
        "--behind",
        action="store_true",
        help="a band of the object's own texture behind it instead of a pole in front "
        "(look-alike background: how far masks leak)",
    )
    parser.add_argument(
        "--still",
        action="store_true",
        help="with --behind: the band stands still in the scene, as a fence would, instead "
        "of sweeping past; only the object moves across it",
    )
    add_run_options(parser)
    parser.add_argument("--json", help="write the figures as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.still and not args.behind:
        parser.error("--still describes the band of --behind; give both")
    names = chosen_sequences(args)
    segmenter = VideoSegmenter(config=run_config(args))
    thing = "band" if args.behind else "pole"
    results = []
    for name in names:
        results.append(
            score(args.root, name, segmenter, args.prompt, args.seed, args.behind, args.still)
        )
        print(table(results[-1:], thing).splitlines()[1], flush=True)
    print(table(results, thing))
    if args.json is not None:
        data = {
            r.name: {
                "clean_jf": r.clean.jf_mean,
                "occluded_jf": r.occluded.jf_mean,
                "frames_after": len(r.after),
                "clean_j_after": r.mean_j_after(r.clean),
                "occluded_j_after": r.mean_j_after(r.occluded),
                "clean_over_2": r.clean_over_2,
                "occluded_over_2": r.occluded_over_2,
            }
            for r in results
        }
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
