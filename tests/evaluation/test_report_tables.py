"""Markdown tables from eval reports: the figures land in the right rows and columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segany_video.errors import ConfigError
from segany_video.evaluation import report_tables


def report(prompt: str, j: float, score: list[float]) -> dict:
    per_frame = {
        "J": [1.0, j, j, 1.0],
        "F": [1.0, j, j, 1.0],
        "score": score,
        "state": ["prompted", "tracked", "tracked", "tracked"],
        "area": [10, 30, 10, 10],
        "true_area": [10, 10, 10, 10],
    }
    sequence = {"J": j, "F": j, "JF": j, "per_frame": per_frame}
    return {
        "split": "confirmation",
        "prompt": prompt,
        "mean": {"J": j, "F": j, "JF": j},
        "sequences": {"walk": sequence},
    }


def test_tables_from_two_prompts(tmp_path: Path, capsys) -> None:
    paths = []
    for prompt, j in (("mask", 0.25), ("box", 0.75)):
        path = tmp_path / f"{prompt}.json"
        path.write_text(json.dumps(report(prompt, j, [1.0, 0.2, 0.9, 1.0])))
        paths.append(str(path))
    assert report_tables.main(paths) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "| sequence | mask J | F | J&F | box J | F | J&F |"
    assert lines[2] == "| walk | 0.250 | 0.250 | 0.250 | 0.750 | 0.750 | 0.750 |"
    # Frames 1-2 scored: ratios 3 and 1 -> half above 2x, none above 5x, median 2.
    assert "| mask | 2 | 50.0% | 0.0% | 2.00 |" in lines[7]


def test_not_a_report(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"sequences": {"walk": {"J": 1}}}))
    with pytest.raises(ConfigError, match="not an eval --json report"):
        report_tables.main([str(path)])
