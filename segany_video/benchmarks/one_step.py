"""One tracking step from the true previous mask: which stage of the step loses what.

Tracking compounds each frame's error, so a whole-sequence J&F does not say which stage of a
step is at fault. Here every step starts from the ground truth: the tracker is seeded with the
true mask of frame ``t - 1`` and stepped to frame ``t``, and three masks of frame ``t`` are
scored against its truth (J):

- ``warp``: the true previous mask carried by the optical flow alone;
- ``prior``: the tracker's expected mask (the warp sharpened by the keyframe's colours and the
  motion evidence) that the engine is prompted with;
- ``step``: the tracker's output for the frame (the engine's cut, matched and bounded).

A stage scoring below the one before it removes information there, whatever happens later.

Usage::

    segany-video bench one-step ../shared/data/davis2016-train --split tuning --every 4
    segany-video bench one-step ../shared/data/davis2016-train --split tuning --stride 2

``--stride N`` steps from frame ``t - N`` to ``t`` (the clip N times faster), as ``eval`` does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from segany_video.errors import ConfigError
from segany_video.evaluation.davis_data import DavisSequence, open_sequence
from segany_video.evaluation.davis_eval import (
    add_run_options,
    add_sequence_options,
    add_stride_option,
    chosen_sequences,
    run_config,
)
from segany_video.evaluation.metrics import region_similarity
from segany_video.models.base import PromptableSegmenter
from segany_video.runtime.encoded import EncodedFrame
from segany_video.segmenter import VideoSegmenter
from segany_video.tracking.appearance import ColourIndex
from segany_video.tracking.motion import FlowField
from segany_video.tracking.prompts import ResolvedKeyframe
from segany_video.tracking.propagator import Propagator
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.track import Track
from segany_video.writers.atomic import write_text_atomically

STAGES = ("warp", "prior", "step")


class _Recording(Propagator):
    """A propagator that keeps its last expectation (warp and prior) of each track."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.expected: dict[str, np.ndarray] = {}

    def _expect(self, track: Track, flow: FlowField | None, fine: ColourIndex, *args: object):
        expectation = super()._expect(track, flow, fine, *args)  # type: ignore[arg-type]
        self.expected = {"warp": expectation.moved, "prior": expectation.mask}
        return expectation


@dataclass(frozen=True)
class SequenceSteps:
    """Mean J of each stage over a sequence's scored steps."""

    name: str
    steps: int
    j: dict[str, float]


def step_from_truth(
    model: PromptableSegmenter, sequence: DavisSequence, t: int, settings: TrackerSettings
) -> dict[str, float] | None:
    """J of each stage for the step ``t - 1 -> t``; None when either frame shows no object."""
    previous, truth = sequence.mask(t - 1), sequence.mask(t)
    if not previous.any() or not truth.any():
        return None
    keyframe = ResolvedKeyframe(t - 1, None, None, None, previous)
    propagator = _Recording(model, [1], {t - 1: [(0, keyframe)]}, settings)
    result = None
    for index in (t - 1, t):
        image = sequence.frame(index)
        features = model.embed(torch.from_numpy(image)[None])[0]
        result = propagator.step(EncodedFrame(index, 0.0, image, features))[0]
    assert result is not None
    # No expectation when the object was not followed into frame t: those stages hold nothing.
    masks = {**propagator.expected, "step": result.mask}
    empty = np.zeros_like(truth)
    return {stage: region_similarity(masks.get(stage, empty), truth) for stage in STAGES}


def run(
    model: PromptableSegmenter,
    sequence: DavisSequence,
    every: int,
    settings: TrackerSettings,
) -> SequenceSteps:
    scores = [step_from_truth(model, sequence, t, settings) for t in range(1, len(sequence), every)]
    kept = [s for s in scores if s is not None]
    j = {stage: float(np.mean([s[stage] for s in kept])) if kept else 0.0 for stage in STAGES}
    return SequenceSteps(sequence.name, len(kept), j)


def table(results: Sequence[SequenceSteps]) -> str:
    lines = [f"{'sequence':20s} {'steps':>5s} " + " ".join(f"{s:>6s}" for s in STAGES)]
    for r in results:
        lines.append(f"{r.name:20s} {r.steps:5d} " + " ".join(f"{r.j[s]:6.3f}" for s in STAGES))
    total = sum(r.steps for r in results)
    if total:
        means = [sum(r.j[s] * r.steps for r in results) / total for s in STAGES]
        lines.append(f"{'all steps':20s} {total:5d} " + " ".join(f"{m:6.3f}" for m in means))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video bench one-step",
        description="J of the warp, the prior and the tracker's output for single steps "
        "started from the true previous mask.",
    )
    add_sequence_options(parser)
    parser.add_argument("--every", type=int, default=4, help="score every Nth step")
    add_stride_option(parser)
    add_run_options(parser)
    parser.add_argument("--json", help="write the figures as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.every < 1:
        raise ConfigError(f"--every must be at least 1 (got {args.every})")
    config = run_config(args)
    names = chosen_sequences(args)
    # Built as `track` builds it (the config's engine, on --device).
    model = VideoSegmenter(config=config).model
    results = []
    for name in names:
        sequence = open_sequence(args.root, name).every(args.stride)
        results.append(run(model, sequence, args.every, config.tracker))
        print(table(results[-1:]).splitlines()[1], flush=True)
    print(table(results))
    if args.json is not None:
        data = {r.name: {"steps": r.steps, **r.j} for r in results}
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
