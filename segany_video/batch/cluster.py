"""Cluster mode: every job a Ray task, scheduled by Ray across the cluster's nodes.

Each task asks for ``cpus_per_job`` CPUs and ``gpus_per_job`` GPUs (fractions allowed, so four
small-model jobs can share a GPU). Ray retries a task whose worker died (killed, node lost, out
of memory) up to ``max_retries`` times; the retry finds the batch's token in the job's
``out/.batch-attempt`` and continues from the job's resume journal. Exceptions are not retried:
a broken input fails alone, as a failed result. CPU workers are reused between tasks, so each
keeps its engines loaded (one :class:`SegmenterCache` per worker process); Ray gives GPU tasks a
fresh worker each (``max_calls=1``, its guard against leaked GPU memory), so there the model
loads once per job.

Every node must reach the inputs, prompts and output folders under the same paths (a shared
file system such as NFS, or the same mount everywhere), and so must the machine that starts the
batch: it checks ``run.json`` for ``--resume`` and writes the report.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from segany_video.batch.manifest import Job
from segany_video.batch.progress import BatchProgress
from segany_video.batch.runner import JobResult, SegmenterCache, error_line, run_job
from segany_video.errors import ConfigError

INSTALL_HINT = 'Ray is not installed; install it with: pip install "segany-video[cluster]"'
_POLL_S = 0.5
_REPORT_EVERY_S = 0.5

_cache: SegmenterCache | None = None  # this worker process's segmenters, kept between tasks


def import_ray() -> Any:
    """The ``ray`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


def _run_task(job: Job, token: str, resume: bool, threads: int, inbox: Any) -> JobResult:
    """The body of one job's Ray task (runs in a Ray worker process)."""
    import time

    global _cache
    if _cache is None:
        _cache = SegmenterCache(threads=threads)
    last = [0.0]

    def report(index: int, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] >= _REPORT_EVERY_S or done == total:
            last[0] = now
            inbox.put.remote(("frames", index, done, total))  # fire and forget

    return run_job(job, token, _cache, resume=resume, report=report)


class _Inbox:
    """A Ray actor collecting progress messages from the tasks for the driver."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def put(self, message: tuple) -> None:
        self.messages.append(message)

    def take(self) -> list[tuple]:
        messages, self.messages = self.messages, []
        return messages


def run_ray(
    jobs: Sequence[Job],
    token: str,
    progress: BatchProgress,
    *,
    address: str = "auto",
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
    resume: bool = False,
    fail_fast: bool = False,
    max_retries: int = 3,
) -> list[JobResult]:
    """Run ``jobs`` as Ray tasks; one result per job, in job order.

    Connects to the cluster at ``address`` unless this process is connected already (then that
    connection is used, and kept). Arguments as :func:`segany_video.batch.local.run_local`.

    Raises:
        ConfigError: Ray is not installed, or the cluster cannot be reached.
    """
    ray = import_ray()
    connected_here = not ray.is_initialized()
    if connected_here:
        try:
            ray.init(address=address, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"--ray {address}: cannot connect to a Ray cluster ({exc}); start one with "
                "'ray start --head' or give its address"
            ) from None
    try:
        return _submit_and_wait(
            ray, jobs, token, progress, cpus_per_job, gpus_per_job, resume, fail_fast, max_retries
        )
    finally:
        if connected_here:
            ray.shutdown()


def _submit_and_wait(
    ray: Any,
    jobs: Sequence[Job],
    token: str,
    progress: BatchProgress,
    cpus_per_job: float,
    gpus_per_job: float,
    resume: bool,
    fail_fast: bool,
    max_retries: int,
) -> list[JobResult]:
    inbox = ray.remote(num_cpus=0)(_Inbox).remote()
    task = ray.remote(
        num_cpus=cpus_per_job,
        num_gpus=gpus_per_job,
        max_retries=max_retries,
        retry_exceptions=False,
    )(_run_task)
    threads = max(1, int(cpus_per_job))
    refs = {task.remote(job, token, resume, threads, inbox): job for job in jobs}
    results: dict[int, JobResult] = {}
    stopping = False
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=_POLL_S)
            _drain(ray, inbox, progress)
            for ref in ready:
                job = refs.pop(ref)
                result = _outcome(ray, ref, job, max_retries + 1, stopping)
                results[job.index] = result
                progress.finished(result)
                if result.status == "failed" and fail_fast and not stopping:
                    stopping = True
                    for other in refs:
                        ray.cancel(other)  # interrupted runs keep their journals
        _drain(ray, inbox, progress)
    except KeyboardInterrupt:
        for ref in refs:
            ray.cancel(ref)
        raise
    return [results[job.index] for job in jobs]


def _outcome(ray: Any, ref: Any, job: Job, most_attempts: int, stopping: bool) -> JobResult:
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as exc:
        if stopping or isinstance(exc, ray.exceptions.TaskCancelledError):
            return JobResult(
                job.index,
                job.input,
                job.out,
                "cancelled",
                attempts=0,
                error="--fail-fast stopped the batch after a failed job",
            )
        detail = error_line(exc).splitlines()[0][:300]
        died = tuple(
            getattr(ray.exceptions, name)
            for name in ("WorkerCrashedError", "NodeDiedError", "OutOfMemoryError")
            if hasattr(ray.exceptions, name)
        )
        if isinstance(exc, died):  # Ray's retries are used up: the worker kept dying
            detail = (
                f"its Ray worker died {most_attempts} times; the journal in the output folder "
                f"lets --resume continue ({detail})"
            )
        return JobResult(
            job.index, job.input, job.out, "failed", attempts=most_attempts, error=detail
        )


def _drain(ray: Any, inbox: Any, progress: BatchProgress) -> None:
    for message in ray.get(inbox.take.remote()):
        progress.frames(*message[1:])
