"""Local mode: two worker processes equal one-by-one runs; failures stay with their job."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
import threading

import pytest
from batch_clips import (
    SNAPSHOT_EVERY,
    assert_same_outputs,
    hidden_files,
    kill_when_journaled,
    manifest_text,
    one_clip_manifest,
    report_jobs,
)

from segany_video.batch import run_batch
from segany_video.batch.command import main as batch_main

pytestmark = [
    pytest.mark.slow,  # worker processes start torch: several seconds each
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]


def run_command(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = batch_main(args)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def local_run(clips):
    manifest = clips.root / "local.yaml"
    manifest.write_text(manifest_text(clips, broken=True, out="out_local"))
    code, stdout, stderr = run_command([str(manifest), "--workers", "2"])
    return {"code": code, "stdout": stdout, "stderr": stderr, "out": clips.root / "out_local"}


def test_two_workers_equal_one_by_one(local_run, one_by_one):
    for name, reference in one_by_one.items():
        assert_same_outputs(local_run["out"] / name, reference)
        assert hidden_files(local_run["out"] / name) == []


def test_broken_clip_fails_alone_with_its_message(local_run, clips):
    assert local_run["code"] == 1
    jobs = report_jobs(local_run["out"] / "batch.json")
    assert [job["status"] for job in jobs] == ["done"] * 4 + ["failed"]
    broken = jobs[4]
    assert broken["input"] == str(clips.broken)
    assert str(clips.broken) in broken["error"] and "not a video" in broken["error"]
    assert not (local_run["out"] / "broken").exists()  # it left nothing behind
    last = local_run["stderr"].strip().splitlines()[-1]
    assert "1 of 5 jobs did not finish" in last and f"job 5 ({clips.broken})" in last
    assert f"failed: job 5 ({clips.broken}): {broken['error']}" in local_run["stdout"]


def test_report_rows_and_job_lines(local_run, clips):
    jobs = report_jobs(local_run["out"] / "batch.json")
    with open(local_run["out"] / "batch.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["input"] for row in rows] == [job["input"] for job in jobs]
    assert [row["status"] for row in rows] == [job["status"] for job in jobs]
    for job, video in zip(jobs[:4], clips.videos, strict=True):
        assert job["input"] == str(video)
        assert job["out"] == str(local_run["out"] / video.parent.name)
        assert job["frames"] == 24 and job["objects"] == 3 and job["attempts"] == 1
        assert job["objects_tracked"] + job["objects_lost"] == 3
        assert job["frames_per_s"] > 0 and job["error"] is None
    lines = [line for line in local_run["stdout"].splitlines() if line.startswith("[")]
    assert len(lines) == 5 and lines[-1].startswith("[5/5]")
    table = local_run["stdout"].split("job  status")[1]
    assert "batch: 5 jobs (4 done, 1 failed); 96 frames" in table


def test_resume_skips_finished_jobs(local_run, clips):
    stamps = {p: p.stat().st_mtime_ns for p in local_run["out"].glob("clip*/run.json")}
    code, _, _ = run_command([str(clips.root / "local.yaml"), "--resume"])
    assert code == 1  # the broken clip is still broken
    jobs = report_jobs(local_run["out"] / "batch.json")
    assert [job["status"] for job in jobs] == ["skipped"] * 4 + ["failed"]
    assert all(job["frames"] == 24 for job in jobs[:4])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # not run again


def test_fail_fast_starts_no_more_jobs(clips, tmp_path):
    manifest = clips.root / "failfast.yaml"
    # The broken clip first, one worker: after it fails, queued jobs must not start.
    text = manifest_text(clips, broken=False, out=str(tmp_path / "ff"))
    text = text.replace(
        "  - input: clips/clip*/clip.mp4",
        "  - {input: broken.mp4, prompts: clips/clip0/prompts.json, out: "
        + str(tmp_path / "ff" / "broken")
        + "}\n  - input: clips/clip*/clip.mp4",
    )
    manifest.write_text(text)
    code, _, _ = run_command([str(manifest), "--workers", "1", "--fail-fast"])
    assert code == 1
    statuses = [job["status"] for job in report_jobs(tmp_path / "ff" / "batch.json")]
    assert statuses[0] == "failed"
    assert "cancelled" in statuses and set(statuses[1:]) <= {"done", "cancelled"}


def test_killed_worker_job_is_retried_from_its_journal(clips, one_by_one, tmp_path):
    manifest = clips.root / "kill.yaml"
    manifest.write_text(one_clip_manifest(clips, "clip1", tmp_path / "killed"))
    out = tmp_path / "killed"
    reports = []
    thread = threading.Thread(
        target=lambda: reports.append(run_batch(manifest, workers=1, out=io.StringIO()))
    )
    thread.start()
    try:
        pid = kill_when_journaled(out, frames=2 * SNAPSHOT_EVERY + 1)
    finally:
        thread.join(timeout=300)
    assert not thread.is_alive()
    (job,) = reports[0].jobs
    assert job.status == "done" and job.attempts == 2, job
    assert job.resumed_at is not None and job.resumed_at >= SNAPSHOT_EVERY
    assert job.frames == 24 and job.worker != f"{os.uname().nodename}:{pid}"
    assert_same_outputs(out, one_by_one["clip1"])
    assert hidden_files(out) == []
