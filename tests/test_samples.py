"""The samples/ scripts run as smoke tests on the bundled sample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.mark.slow
def test_quickstart_tracks_and_writes_the_bundled_sample(tmp_path: Path):
    out = tmp_path / "qs"
    done = subprocess.run(
        [sys.executable, str(SAMPLES / "quickstart.py"), "--end", "4", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # .track: one line per frame, every object of prompts.json on it, prompted on frame 0.
    ids = [
        o["id"] for o in json.loads((SAMPLES / "sample" / "prompts.json").read_text())["objects"]
    ]
    frame_lines = [line for line in lines if line.startswith("frame ")]
    assert [int(line.split()[1]) for line in frame_lines] == [0, 1, 2, 3]
    for object_id in ids:
        assert f"{object_id}:prompted:" in frame_lines[0]
    # .run: the summary and the default outputs (masks, overlay, json) plus run.json.
    assert "4 frames in " in done.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["frames"] == 4 and [o["id"] for o in run["objects"]] == ids
    expected = {f"masks/{i}.mkv" for i in ids} | {"overlay.mp4", "tracks.json", "run.json"}
    assert {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} == expected
