"""Report files, progress lines and the missing-Ray message: no workers started here."""

from __future__ import annotations

import csv
import io
import json
import sys

from segany_video.batch.command import main as batch_main
from segany_video.batch.progress import BatchProgress
from segany_video.batch.report import COLUMNS, BatchReport, print_table, write_report
from segany_video.batch.runner import JobResult

DONE = JobResult(
    1,
    "a.mp4",
    "/o/a",
    "done",
    frames=40,
    frames_per_s=8.0,
    wall_time_s=5.0,
    objects=3,
    objects_tracked=2,
    objects_lost=1,
    lost_frames=7,
    worker="h:1",
)
FAILED = JobResult(2, "b.mp4", "/o/b", "failed", error="b.mp4: not a video FFmpeg can read")
SKIPPED = JobResult(
    3, "c.mp4", "/o/c", "skipped", frames=10, frames_per_s=5.0, objects=1, objects_tracked=1
)


def test_report_files_hold_every_job(tmp_path):
    report = BatchReport("m.yaml", "local", "2", 6.0, (DONE, FAILED, SKIPPED))
    json_path, csv_path = write_report(report, tmp_path / "rep")
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["batch.csv", "batch.json"]
    data = json.loads(json_path.read_text())
    assert data["counts"] == {"done": 1, "failed": 1, "skipped": 1}
    assert data["frames"] == 40 and data["frames_per_s"] == round(40 / 6.0, 3)
    assert [job["status"] for job in data["jobs"]] == ["done", "failed", "skipped"]
    assert data["jobs"][0] == DONE.to_dict()
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS
    assert rows[1]["error"] == FAILED.error and rows[0]["error"] == ""
    assert [int(row["frames"]) for row in rows] == [40, 0, 10]
    assert not report.ok and [job.index for job in report.failed] == [2]


def test_table_lists_jobs_totals_and_failures():
    report = BatchReport("m.yaml", "local", "2", 6.0, (DONE, FAILED, SKIPPED))
    out = io.StringIO()
    print_table(report, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "job",
        "status",
        "frames",
        "frames/s",
        "wall",
        "s",
        "objects",
        "lost",
        "input",
    ]
    assert lines[1].split() == ["1", "done", "40", "8.00", "5.0", "3", "1", "a.mp4"]
    assert "batch: 3 jobs (1 done, 1 skipped, 1 failed); 40 frames in 6.0 s" in lines[4]
    assert lines[5] == "failed: job 2 (b.mp4): b.mp4: not a video FFmpeg can read"


def test_progress_lines_carry_overall_figures_without_a_terminal():
    out = io.StringIO()
    progress = BatchProgress(3, out=out, bar_stream=io.StringIO())
    progress.frames(1, 20, 40)
    progress.frames(2, 10, None)
    # Known total 40, one job without a total yet and one not started: both estimated at 40.
    assert progress.estimated_total() == 120
    progress.finished(DONE)
    progress.finished(FAILED)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("[1/3] job 1 done: a.mp4: 40 frames, 8.00 frames/s, 5.0 s, ")
    assert "3 objects, 1 lost -> /o/a | frames 50, " in lines[0] and "ETA" in lines[0]
    assert lines[1].startswith("[2/3] job 2 failed: b.mp4: not a video FFmpeg can read | ")
    progress.close()


def test_missing_ray_gives_one_line_how_to_install(tmp_path, monkeypatch, capsys):
    (tmp_path / "a.mp4").write_bytes(b"")
    manifest = tmp_path / "m.yaml"
    manifest.write_text("jobs:\n  - {input: a.mp4, prompts: p.json, out: o}\n")
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert batch_main([str(manifest), "--ray", "auto"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "segany-video batch: error: Ray is not installed; install it with: "
        'pip install "segany-video[cluster]"'
    ]


def test_ray_resources_without_ray_are_refused(tmp_path, capsys):
    manifest = tmp_path / "m.yaml"
    manifest.write_text("jobs:\n  - {input: a.mp4, prompts: p.json, out: o}\n")
    assert batch_main([str(manifest), "--gpus-per-job", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--gpus-per-job are Ray resources and need --ray" in err[0]
