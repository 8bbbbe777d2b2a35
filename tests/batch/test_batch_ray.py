"""Ray mode against a real local cluster (127.0.0.1, 2 CPUs) that this module starts and stops.

Skipped when ``ray`` is not installed (``pip install "segany-video[cluster]"``).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import threading

import pytest

ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "segany-video[cluster]"')

from batch_clips import (  # noqa: E402
    SNAPSHOT_EVERY,
    assert_same_outputs,
    hidden_files,
    kill_when_journaled,
    manifest_text,
    one_clip_manifest,
)

from segany_video.batch import run_batch  # noqa: E402

pytestmark = [
    pytest.mark.slow,  # a Ray cluster and its workers start in tens of seconds here
    pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX"),
]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster on 127.0.0.1 with 2 CPUs, started in this process (its own temp
    folder, no dashboard) and shut down after the module; its GCS address."""
    temp = tempfile.mkdtemp(prefix="segray", dir="/tmp")  # short: Ray's socket paths
    context = ray.init(
        address="local",
        num_cpus=2,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp,
    )
    try:
        yield context.address_info["address"]
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_jobs_equal_one_by_one_and_broken_fails_alone(cluster, clips, one_by_one):
    manifest = clips.root / "ray.yaml"
    manifest.write_text(manifest_text(clips, broken=True, out="out_ray"))
    report = run_batch(manifest, ray_address=cluster, cpus_per_job=1, out=io.StringIO())
    out = clips.root / "out_ray"
    assert [job.status for job in report.jobs] == ["done"] * 4 + ["failed"]
    for name, reference in one_by_one.items():
        assert_same_outputs(out / name, reference)
        assert hidden_files(out / name) == []
    assert str(clips.broken) in report.jobs[4].error and "not a video" in report.jobs[4].error
    saved = json.loads((out / "batch.json").read_text())
    assert saved["mode"] == "ray" and saved["workers"] == cluster
    assert [job["status"] for job in saved["jobs"]] == ["done"] * 4 + ["failed"]
    assert all(job["frames"] == 24 for job in saved["jobs"][:4])


def test_ray_worker_killed_mid_job_is_retried_from_its_journal(
    cluster, clips, one_by_one, tmp_path
):
    manifest = clips.root / "ray_kill.yaml"
    out = tmp_path / "killed"
    manifest.write_text(one_clip_manifest(clips, "clip2", out))
    reports = []
    thread = threading.Thread(
        target=lambda: reports.append(
            run_batch(manifest, ray_address=cluster, max_retries=2, out=io.StringIO())
        )
    )
    thread.start()
    try:
        pid = kill_when_journaled(out, frames=2 * SNAPSHOT_EVERY + 1)
    finally:
        thread.join(timeout=300)
    assert not thread.is_alive() and reports
    (job,) = reports[0].jobs
    assert job.status == "done" and job.attempts == 2, job
    assert job.resumed_at is not None and job.resumed_at >= SNAPSHOT_EVERY
    assert job.frames == 24 and not job.worker.endswith(f":{pid}")
    assert_same_outputs(out, one_by_one["clip2"])
    assert hidden_files(out) == []
