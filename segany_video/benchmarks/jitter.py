"""How much a DAVIS figure owes to luck: each sequence tracked at the configured settings and
again with single settings nudged by a few percent.

Some sequences have two outcomes: a part cut off by an occluder grows back or it does not; an
object lost is found again, found wrongly, or not found. Which one a run gets can turn on a
change of a setting far too small to mean anything (5 % of the prior's blur), so one run's
split mean carries that luck, and two variants compared on single runs differ by it. This
benchmark prints, per sequence, J&F at the configured settings and the lowest, highest and
mean over all runs, then each run's split mean and the mean over runs. Compare variants by the
mean over runs; a sequence whose range is wide is a coin toss, not a gain or a loss.

Usage::

    segany-video bench jitter ../shared/data/davis2016-train --split tuning [--prompt mask]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segany_video.config import Config
from segany_video.errors import ConfigError
from segany_video.evaluation.davis_eval import (
    add_prompt_options,
    add_run_options,
    add_sequence_options,
    add_stride_option,
    chosen_sequences,
    evaluate_davis,
    run_config,
)
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.atomic import write_text_atomically

# (tracker setting, factor): each nudge is one run with that one setting scaled. The prior's
# blur sets how far colour may move a mask, the growth limit how fast it may grow: the two
# settings every propagated frame depends on.
NUDGES: tuple[tuple[str, float], ...] = (
    ("prior_blur", 0.95),
    ("prior_blur", 1.05),
    ("max_growth", 0.96),
    ("max_growth", 1.04),
)


@dataclass(frozen=True)
class Run:
    """One evaluation: its label, the tracker settings it changed, J&F per sequence."""

    label: str
    changed: dict[str, float]
    jf: dict[str, float]

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.jf.values())))


def nudged_configs(config: Config) -> list[tuple[str, dict[str, float], Config]]:
    """The configured run first, then one per :data:`NUDGES` entry: ``(label, changed, config)``.

    Raises:
        ConfigError: a nudged value falls outside the setting's range.
    """
    runs: list[tuple[str, dict[str, float], Config]] = [("configured", {}, config)]
    for name, factor in NUDGES:
        value = getattr(config.tracker, name) * factor
        try:
            tracker = dataclasses.replace(config.tracker, **{name: value})
        except ConfigError as exc:
            raise ConfigError(
                f"bench jitter: the configured {name} cannot be nudged: {exc}"
            ) from exc
        runs.append(
            (f"{name} x{factor:g}", {name: value}, dataclasses.replace(config, tracker=tracker))
        )
    return runs


def table(runs: Sequence[Run]) -> str:
    """Per sequence: configured, lowest, highest and mean J&F; then each run's split mean."""
    names = list(runs[0].jf)
    lines = [f"{'sequence':20s} {'configured':>10s} {'lowest':>7s} {'highest':>7s} {'mean':>7s}"]
    for name in names:
        values = [run.jf[name] for run in runs]
        lines.append(
            f"{name:20s} {runs[0].jf[name]:10.3f} {min(values):7.3f} {max(values):7.3f}"
            f" {np.mean(values):7.3f}"
        )
    means = [run.mean for run in runs]
    lines.append(
        f"{'mean':20s} {means[0]:10.3f} {min(means):7.3f} {max(means):7.3f} {np.mean(means):7.3f}"
    )
    lines.append("")
    lines.extend(f"{run.label:20s} {run.mean:.3f}" for run in runs)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video bench jitter",
        description="J&F of DAVIS sequences at the configured tracker settings and with single "
        "settings nudged by a few percent: how much of a figure is luck.",
    )
    add_sequence_options(parser)
    add_prompt_options(parser)
    add_stride_option(parser)
    add_run_options(parser)
    parser.add_argument("--json", help="write every run's J&F per sequence as JSON here")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = chosen_sequences(args)
    runs = []
    for label, changed, config in nudged_configs(run_config(args)):
        report = evaluate_davis(
            args.root,
            VideoSegmenter(config=config),
            prompt=args.prompt,
            clicks=args.clicks,
            sequences=names,
            stride=args.stride,
        )
        runs.append(Run(label, changed, {s.name: s.jf_mean for s in report.sequences}))
        print(f"{label:20s} {runs[-1].mean:.3f}", flush=True)
    print(table(runs))
    if args.json is not None:
        data = {
            "prompt": args.prompt,
            "stride": args.stride,
            "runs": [
                {"label": r.label, "changed": r.changed, "jf": r.jf, "mean": r.mean} for r in runs
            ],
            "mean_of_runs": float(np.mean([r.mean for r in runs])),
        }
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
