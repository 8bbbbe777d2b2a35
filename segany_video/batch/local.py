"""Local mode: N worker processes on this machine, each loading its engines once.

Workers are the processes of a :class:`ProcessPoolExecutor` (spawn start method: no forked
torch or thread state); each keeps an :class:`SegmenterCache` from its initializer on and runs
jobs one after another. Progress comes back through one multiprocessing queue. When a worker
dies (killed, out of memory, crashed), the pool is broken and every job in flight on it is
interrupted: those that had started run again on a fresh pool, continuing from their resume
journals, up to ``max_retries`` times; those still queued simply run.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue as queue_module
import signal
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from segany_video.batch.manifest import Job
from segany_video.batch.progress import BatchProgress
from segany_video.batch.runner import JobResult, SegmenterCache, error_line, run_job
from segany_video.runtime.device import usable_cpu_count

_POLL_S = 0.2  # how often the parent drains progress while waiting for jobs
_REPORT_EVERY_S = 0.25  # least time between two progress reports of one worker
_BARREN_POOLS = 3
_NO_WORKERS = (
    "the worker processes died before running any job, 3 times (see the errors above); a "
    "script that calls run_batch must do so under if __name__ == '__main__':"
)


class _Worker:
    """The state one worker process keeps between jobs (built by the pool's initializer)."""

    def __init__(self, channel: mp.Queue, stop: Any, threads: int | None) -> None:
        self.channel = channel
        self.stop = stop  # set by the parent: --fail-fast or Ctrl-C; start no more jobs
        self.cache = SegmenterCache(threads=threads)
        self._last = 0.0

    def started(self, job: Job) -> None:
        self.channel.put(("started", job.index, os.getpid()))

    def report(self, index: int, done: int, total: int | None) -> None:
        import time

        now = time.monotonic()
        if now - self._last >= _REPORT_EVERY_S or done == total:
            self._last = now
            self.channel.put(("frames", index, done, total))


_worker: _Worker | None = None


def _init_worker(channel: mp.Queue, stop: Any, threads: int | None) -> None:
    global _worker
    _worker = _Worker(channel, stop, threads)


def _run_in_worker(job: Job, token: str, resume: bool) -> JobResult:
    assert _worker is not None, "the pool's initializer did not run"
    worker = _worker
    if worker.stop.is_set():  # queued on this worker before the batch was stopped
        return _cancelled(job, 0)
    return run_job(
        job, token, worker.cache, resume=resume, report=worker.report, attempt_hook=worker.started
    )


def run_local(
    jobs: Sequence[Job],
    token: str,
    progress: BatchProgress,
    *,
    workers: int = 2,
    resume: bool = False,
    fail_fast: bool = False,
    max_retries: int = 3,
) -> list[JobResult]:
    """Run ``jobs`` on ``workers`` local processes; one result per job, in job order.

    Args:
        jobs: the jobs to run (finished ones already filtered out).
        token: the batch's run token (see :func:`run_job`).
        progress: receives frame reports and finished jobs.
        workers: worker processes; each gets ``cores // workers`` torch/OpenCV threads.
        resume: continue interrupted runs of earlier batches from their journals.
        fail_fast: after the first failed job, start no other (running ones finish).
        max_retries: times a job whose worker died is run again.

    Ctrl-C interrupts the running jobs (they keep their journals) and starts no other. When
    worker processes die before running any job, three pools in a row, the remaining jobs fail
    with a message saying so (rather than respawning forever).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    context = mp.get_context("spawn")
    channel = context.Queue()
    stop = context.Event()
    threads = max(1, usable_cpu_count() // workers)
    todo = deque(jobs)
    attempts: Counter[int] = Counter()
    pids: dict[int, int] = {}  # job index -> pid of the worker that started it last
    results: dict[int, JobResult] = {}
    stopping = False
    barren = 0  # pools in a row that broke before any job started on them
    while todo and not stopping:
        if barren >= _BARREN_POOLS:
            for job in todo:
                results[job.index] = JobResult(
                    job.index, job.input, job.out, "failed", attempts=0, error=_NO_WORKERS
                )
                progress.finished(results[job.index])
            todo.clear()
            break
        started: set[int] = set()
        with ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=context,
            initializer=_init_worker,
            initargs=(channel, stop, threads),
        ) as pool:
            running: dict[Future, Job] = {
                pool.submit(_run_in_worker, job, token, resume): job for job in todo
            }
            todo.clear()
            try:
                while running:
                    done, _ = wait(running, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                    _drain(channel, progress, started, attempts, pids)
                    for future in done:
                        job = running.pop(future)
                        result = _outcome(future, job, started, attempts, max_retries)
                        if result is None:
                            todo.append(job)  # its worker died: run it again
                            continue
                        results[job.index] = result
                        progress.finished(result)
                        if result.status == "failed" and fail_fast and not stopping:
                            stopping = True
                            stop.set()
                            for other in running:
                                other.cancel()  # those not yet on a worker
            except KeyboardInterrupt:
                stop.set()
                pool.shutdown(wait=False, cancel_futures=True)
                _interrupt(started, pids)
                raise
        barren = barren + 1 if todo and not started else 0
    _drain(channel, progress, set(), attempts, pids)
    for job in todo:  # --fail-fast stopped the batch before these could run again
        results[job.index] = _cancelled(job, attempts[job.index])
        progress.finished(results[job.index])
    return [results[job.index] for job in jobs]


def _outcome(
    future: Future, job: Job, started: set[int], attempts: Counter[int], max_retries: int
) -> JobResult | None:
    """The job's result; None when its worker died and it should run again."""
    if future.cancelled():
        return _cancelled(job, attempts[job.index])
    try:
        result = future.result()
    except BrokenProcessPool:
        if job.index not in started:
            return None  # it was only queued on the broken pool
        if attempts[job.index] > max_retries:
            return JobResult(
                job.index,
                job.input,
                job.out,
                "failed",
                attempts=attempts[job.index],
                error=f"its worker process died {attempts[job.index]} times (killed, out of "
                "memory or crashed); the journal in the output folder lets --resume continue",
            )
        return None
    except Exception as exc:  # the job could not even be sent to a worker
        return JobResult(job.index, job.input, job.out, "failed", error=error_line(exc))
    return result


def _cancelled(job: Job, attempts: int) -> JobResult:
    return JobResult(
        job.index,
        job.input,
        job.out,
        "cancelled",
        attempts=attempts,
        error="the batch was stopped (--fail-fast after a failed job, or Ctrl-C)",
    )


def _drain(
    channel: mp.Queue,
    progress: BatchProgress,
    started: set[int],
    attempts: Counter[int],
    pids: dict[int, int],
) -> None:
    while True:
        try:
            message = channel.get_nowait()
        except queue_module.Empty:
            return
        if message[0] == "started":
            started.add(message[1])
            attempts[message[1]] += 1
            pids[message[1]] = message[2]
        else:
            progress.frames(*message[1:])


def _interrupt(started: set[int], pids: dict[int, int]) -> None:
    """Ctrl-C: interrupt the workers' running jobs too (they keep their journals), so the
    pool's shutdown does not wait for them to finish."""
    for index in started:
        with contextlib.suppress(ProcessLookupError, KeyError):
            os.kill(pids[index], signal.SIGINT)
