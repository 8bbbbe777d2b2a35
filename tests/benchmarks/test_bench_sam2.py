"""Smoke check of the SAM 2 memory benchmark's own side (figures come from the command)."""

from __future__ import annotations

import re

import pytest

from segany_video.benchmarks import sam2_video


@pytest.mark.slow
@pytest.mark.parametrize("formats", [None, "masks,json"])
def test_memory_child_runs_our_side_and_reports_its_peak(capsys, formats):
    argv = ["memory", "--frames", "4", "--size", "96x64", "--image-size", "128"]
    argv += ["--objects", "1", "--threads", "1", "--sides", "ours"]
    argv += ["--formats", formats] if formats else []
    assert sam2_video.main(argv) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    label = f"ours writing {formats}" if formats else "ours"
    match = re.fullmatch(
        rf"{label}: 4 frames 96x64, 1 objects, input 128: peak RSS (\d+) MiB .*", line
    )
    assert match, line
    assert int(match.group(1)) > 0
