"""Two objects at once: composites of DAVIS sequences tracked as ``track`` runs them.

For each ``(foreground, background)`` pair of a split (see
:func:`segany_video.evaluation.composites.composite_pairs`), the foreground sequence's object is
pasted, scaled and drifting, in front of the background sequence; the composite's frames are
written as lossless PNGs to a temporary folder and tracked with :class:`VideoSegmenter` from
both objects' frame-0 masks. Reported per composite: each object's J, F and J&F (against its
visible truth) and the frames where an id holds the other object (target 0; see
:func:`~segany_video.evaluation.composites.holds_other`).

Usage::

    segany-video bench composites ../shared/data/davis2016-train --split confirmation
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import ConfigError, WriterError
from segany_video.evaluation.composites import (
    DEFAULT_SEED,
    Composite,
    composite_pairs,
    holds_other,
)
from segany_video.evaluation.davis_data import open_sequence
from segany_video.evaluation.davis_eval import add_run_options, run_config
from segany_video.evaluation.davis_split import SPLITS, load_split
from segany_video.evaluation.metrics import (
    SequenceScores,
    boundary_f_measure,
    region_similarity,
    sequence_scores,
)
from segany_video.segmenter import VideoSegmenter
from segany_video.tracking.prompts import KeyframeSpec, ObjectSpec, PromptSet
from segany_video.writers.atomic import write_text_atomically

BACKGROUND_ID, FOREGROUND_ID = 1, 2


@dataclass(frozen=True)
class CompositeScores:
    """One composite's figures.

    Attributes:
        name: ``<foreground>-over-<background>``.
        scale: the pasted object's scale factor.
        background, foreground: each object's J and F over the composite.
        swap_frames: frame indices where an id holds the other object.
        seconds: wall time of tracking and scoring (writing the frames excluded).
    """

    name: str
    scale: float
    background: SequenceScores
    foreground: SequenceScores
    swap_frames: tuple[int, ...]
    seconds: float

    @property
    def frames(self) -> int:
        return self.background.num_frames

    def to_dict(self) -> dict:
        def one(s: SequenceScores) -> dict:
            return {"J": s.j_mean, "F": s.f_mean, "JF": s.jf_mean, "J_per_frame": s.j_per_frame}

        return {
            "scale": self.scale,
            "frames": self.frames,
            "background": one(self.background),
            "foreground": one(self.foreground),
            "swap_frames": list(self.swap_frames),
            "seconds": self.seconds,
        }


def write_frames(composite: Composite, folder: Path, max_frames: int | None) -> list[tuple]:
    """Write the composite's frames as PNGs; return each frame's packed ``(bg, fg)`` truth."""
    count = len(composite) if max_frames is None else min(len(composite), max_frames)
    truths = []
    for index in range(count):
        frame = composite.frame(index)
        path = folder / f"{index:05d}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)):
            raise WriterError(f"cannot write composite frame {path}")
        truths.append((np.packbits(frame.background_truth), np.packbits(frame.foreground_truth)))
    return truths


def track_composite(
    composite: Composite, segmenter: VideoSegmenter, max_frames: int | None = None
) -> CompositeScores:
    """Build, track and score one composite."""
    first = composite.frame(0)
    height, width = first.background_truth.shape
    prompts = PromptSet(
        [
            ObjectSpec(
                BACKGROUND_ID,
                composite.background.name,
                [KeyframeSpec(frame=0, mask=first.background_truth)],
            ),
            ObjectSpec(
                FOREGROUND_ID,
                composite.foreground.name,
                [KeyframeSpec(frame=0, mask=first.foreground_truth)],
            ),
        ]
    )
    with tempfile.TemporaryDirectory(prefix="segany-composite-") as folder:
        truths = write_frames(composite, Path(folder), max_frames)
        started = time.perf_counter()
        j = {BACKGROUND_ID: [], FOREGROUND_ID: []}
        f = {BACKGROUND_ID: [], FOREGROUND_ID: []}
        swaps = []
        for result in segmenter.track(folder, prompts):
            packed_bg, packed_fg = truths[result.index]
            truth = {
                BACKGROUND_ID: np.unpackbits(packed_bg)[: height * width].reshape(height, width),
                FOREGROUND_ID: np.unpackbits(packed_fg)[: height * width].reshape(height, width),
            }
            truth = {k: v.astype(bool) for k, v in truth.items()}
            swapped = False
            for own, other in ((BACKGROUND_ID, FOREGROUND_ID), (FOREGROUND_ID, BACKGROUND_ID)):
                mask = result.objects[own].mask
                j[own].append(region_similarity(mask, truth[own]))
                f[own].append(boundary_f_measure(mask, truth[own]))
                swapped |= holds_other(mask, truth[own], truth[other])
            if swapped:
                swaps.append(result.index)
        seconds = time.perf_counter() - started
    return CompositeScores(
        composite.name,
        composite.scale,
        sequence_scores(j[BACKGROUND_ID], f[BACKGROUND_ID], name=composite.background.name),
        sequence_scores(j[FOREGROUND_ID], f[FOREGROUND_ID], name=composite.foreground.name),
        tuple(swaps),
        seconds,
    )


def table(results: Sequence[CompositeScores]) -> str:
    """Per composite: both objects' J&F and the swap frames; then the means and the total."""
    lines = [
        f"{'composite':34s} {'frames':>6s} {'scale':>5s} {'bg J&F':>6s} {'fg J&F':>6s} "
        f"{'swaps':>5s} {'s/frame':>7s}"
    ]
    for r in results:
        lines.append(
            f"{r.name:34s} {r.frames:6d} {r.scale:5.2f} {r.background.jf_mean:6.3f} "
            f"{r.foreground.jf_mean:6.3f} {len(r.swap_frames):5d} {r.seconds / r.frames:7.2f}"
        )
    per_object = [s for r in results for s in (r.background, r.foreground)]
    lines.append(
        f"mean per-object J&F {np.mean([s.jf_mean for s in per_object]):.3f} "
        f"(J {np.mean([s.j_mean for s in per_object]):.3f}, "
        f"F {np.mean([s.f_mean for s in per_object]):.3f}); "
        f"frames where an id holds the other object: {sum(len(r.swap_frames) for r in results)}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``segany-video bench composites DATA_ROOT --split tuning|confirmation [...]``."""
    parser = argparse.ArgumentParser(
        prog="segany-video bench composites",
        description="Two-object composites of a split's sequences, tracked as `track` runs.",
    )
    parser.add_argument("root", type=Path, help="DAVIS-format folder (one object a sequence)")
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--split-file", type=Path, help="another split file of the same form")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="pairs, scales, paths")
    parser.add_argument("--pairs", type=int, help="only the first N pairs")
    parser.add_argument("--max-frames", type=int, help="only the first N frames of each")
    add_run_options(parser)
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.max_frames is not None and args.max_frames < 3:
        raise ConfigError(f"--max-frames must be at least 3 (got {args.max_frames})")
    pairs = composite_pairs(load_split(args.split, args.split_file), args.seed)
    if args.pairs is not None:
        pairs = pairs[: args.pairs]
    segmenter = VideoSegmenter(config=run_config(args))
    print(f"engine: {segmenter.model.info.description}; split: {args.split}; seed {args.seed}")
    results = []
    for foreground, background in pairs:
        composite = Composite(
            open_sequence(args.root, foreground), open_sequence(args.root, background), args.seed
        )
        results.append(track_composite(composite, segmenter, args.max_frames))
        print(table(results[-1:]).splitlines()[1], flush=True)
    print(table(results))
    if args.json is not None:
        data = {
            "split": args.split,
            "seed": args.seed,
            "engine": segmenter.model.info.description,
            "composites": {r.name: r.to_dict() for r in results},
        }
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
