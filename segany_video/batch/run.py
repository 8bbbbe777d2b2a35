"""``run_batch``: a manifest of videos through local workers or a Ray cluster, with one report.

>>> from segany_video.batch import run_batch
>>> report = run_batch("clips.yaml", workers=2)              # local processes
>>> report = run_batch("clips.yaml", ray_address="auto")     # the Ray cluster of this node
>>> [job.status for job in report.jobs]
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path
from typing import IO

from segany_video.batch.manifest import Job, Manifest, load_manifest
from segany_video.batch.progress import BatchProgress
from segany_video.batch.report import BatchReport, print_table, write_report
from segany_video.batch.runner import JobResult, finished_run, result_from_summary
from segany_video.errors import ConfigError


def run_batch(
    manifest: str | os.PathLike[str] | Manifest,
    *,
    workers: int = 2,
    ray_address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
    resume: bool = False,
    fail_fast: bool = False,
    max_retries: int = 3,
    report_dir: str | os.PathLike[str] | None = None,
    out: IO[str] | None = None,
) -> BatchReport:
    """Run every job of a manifest; write ``batch.json`` / ``batch.csv``; return the report.

    A job that fails (broken input, bad prompts) fails alone: its error is in the report and
    the other jobs run. Check :attr:`BatchReport.ok`.

    Args:
        manifest: a manifest file (YAML, JSON or CSV) or a loaded :class:`Manifest`.
        workers: local worker processes (ignored with ``ray_address``).
        ray_address: run each job as a Ray task on this cluster (``"auto"``: the cluster this
            node belongs to; ``"ray://host:10001"``: a remote one through Ray Client).
        cpus_per_job, gpus_per_job: Ray resources of each job (fractions allowed).
        resume: skip jobs whose ``run.json`` shows they finished, and continue interrupted ones
            from their journals.
        fail_fast: start no more jobs after the first failure.
        max_retries: times a job whose worker died is run again (from its journal).
        report_dir: where ``batch.json`` and ``batch.csv`` go (default: beside the outputs,
            see :func:`report_folder`).
        out: where job lines and the table are printed (default stdout).

    Raises:
        ConfigError: a mistake in the manifest (naming the job and key) or in the options.
    """
    t0 = time.perf_counter()
    out = out if out is not None else sys.stdout
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest)
    if ray_address is None and workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if max_retries < 0:
        raise ConfigError(f"--max-retries must be 0 or more, got {max_retries}")
    if cpus_per_job <= 0 or gpus_per_job < 0:
        raise ConfigError(
            f"--cpus-per-job must be > 0 and --gpus-per-job >= 0, got {cpus_per_job} and "
            f"{gpus_per_job}"
        )
    token = uuid.uuid4().hex
    progress = BatchProgress(len(manifest.jobs), out=out)
    results: dict[int, JobResult] = {}
    todo: list[Job] = []
    for job in manifest.jobs:
        earlier = finished_run(job) if resume else None
        if earlier is None:
            todo.append(job)
        else:
            results[job.index] = result_from_summary(job, earlier, "skipped")
            progress.finished(results[job.index])
    try:
        if todo and ray_address is not None:
            from segany_video.batch.cluster import run_ray

            ran = run_ray(
                todo,
                token,
                progress,
                address=ray_address,
                cpus_per_job=cpus_per_job,
                gpus_per_job=gpus_per_job,
                resume=resume,
                fail_fast=fail_fast,
                max_retries=max_retries,
            )
        elif todo:
            from segany_video.batch.local import run_local

            ran = run_local(
                todo,
                token,
                progress,
                workers=workers,
                resume=resume,
                fail_fast=fail_fast,
                max_retries=max_retries,
            )
        else:
            ran = []
    finally:
        progress.close()
    results.update({result.index: result for result in ran})
    report = BatchReport(
        manifest=str(manifest.path),
        mode="ray" if ray_address is not None else "local",
        workers=ray_address if ray_address is not None else str(workers),
        wall_time_s=time.perf_counter() - t0,
        jobs=tuple(results[job.index] for job in manifest.jobs),
    )
    folder = Path(report_dir) if report_dir is not None else report_folder(manifest)
    json_path, csv_path = write_report(report, folder)
    print_table(report, out)
    print(f"report   {json_path}\nreport   {csv_path}", file=out)
    return report


def report_folder(manifest: Manifest) -> Path:
    """Beside the outputs: the folder holding every job's output folder, when that is more
    than a file-system root; else the manifest's folder."""
    common = Path(os.path.commonpath([str(Path(job.out).parent) for job in manifest.jobs]))
    return common if common != Path(common.anchor) else manifest.path.parent
