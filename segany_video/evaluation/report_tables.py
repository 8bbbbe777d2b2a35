"""Markdown tables from ``segany-video eval --json`` reports, for benchmark notes.

Given the reports of one split (one per prompt), prints a per-sequence table with J, F and J&F
for each prompt, then one row of leak and score-honesty statistics per report::

    python -m segany_video.evaluation.report_tables mask.json box.json clicks.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from segany_video.errors import ConfigError
from segany_video.evaluation.statistics import split_statistics


def read_report(path: Path) -> dict:
    """An eval report with per-frame records.

    Raises:
        ConfigError: unreadable, or not an eval ``--json`` report.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        complete = all("score" in r["per_frame"] for r in data["sequences"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not an eval --json report: {exc}") from exc
    if not complete:
        raise ConfigError(f"{path}: an eval --json report without per-frame scores")
    return data


def sequence_table(reports: Sequence[dict]) -> str:
    """Rows: sequences, then the mean; columns: J, F, J&F for each report's prompt."""
    head = "| sequence |" + "".join(f" {r['prompt']} J | F | J&F |" for r in reports)
    rule = "|---|" + "---:|---:|---:|" * len(reports)
    lines = [head, rule]
    names = list(reports[0]["sequences"])
    for name in names:
        cells = []
        for r in reports:
            s = r["sequences"].get(name)
            cells.append(" — | — | — |" if s is None else f" {s['J']:.3f} | {s['F']:.3f} | "
                         f"{s['JF']:.3f} |")  # fmt: skip
        lines.append(f"| {name} |" + "".join(cells))
    means = "".join(
        f" **{r['mean']['J']:.3f}** | **{r['mean']['F']:.3f}** | **{r['mean']['JF']:.3f}** |"
        for r in reports
    )
    lines.append("| **mean** |" + means)
    return "\n".join(lines)


def statistics_table(reports: Sequence[dict]) -> str:
    """One row per report: area-ratio shares and median, AUC and Pearson of score vs IoU."""
    lines = [
        "| prompt | frames | area > 2x | area > 5x | median ratio | AUC (IoU<0.5) | Pearson |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        stats = split_statistics([s["per_frame"] for s in r["sequences"].values()])
        a = stats.area
        lines.append(
            f"| {r['prompt']} | {stats.frames} | {a.over_2:.1%} | {a.over_5:.1%} | "
            f"{a.median:.2f} | {stats.auc:.3f} | {stats.pearson:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m segany_video.evaluation.report_tables",
        description="Markdown tables from eval --json reports of one split.",
    )
    parser.add_argument("reports", type=Path, nargs="+", help="JSON files written by eval --json")
    args = parser.parse_args(argv)
    reports = [read_report(p) for p in args.reports]
    print(sequence_table(reports))
    print()
    print(statistics_table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
