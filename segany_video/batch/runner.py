"""Running one job inside a worker process (local or Ray): engines loaded once, results as data.

A worker keeps the segmenters it built (:class:`SegmenterCache`, their engines loaded) and runs
jobs one after another through :meth:`VideoSegmenter.run`. Every attempt of a job first writes
``out/.batch-attempt`` (the batch's run token, the attempt number, the worker's host and pid):
when a later attempt of the same batch finds its own token there, the earlier attempt died
(worker killed, node lost, out of memory) and the job continues from its resume journal instead
of starting over. A job that raises fails alone: its error becomes part of the
:class:`JobResult`, never an exception in the batch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from segany_video.batch.manifest import Job
from segany_video.config import Config
from segany_video.errors import SegAnyVideoError
from segany_video.resume import RESUME_DIR
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.atomic import AtomicPath

ATTEMPT_FILE = ".batch-attempt"
STATUSES = ("done", "skipped", "failed", "cancelled")
#: ``frames(job_index, done, total)``: a worker's progress report for the overall bar.
FrameReport = Callable[[int, int, "int | None"], None]


@dataclass(frozen=True)
class JobResult:
    """What became of one job; one row of ``batch.json`` / ``batch.csv``.

    Attributes:
        index, input, out: the job's 1-based index, its input and output folder.
        status: ``done``, ``skipped`` (finished by an earlier batch; figures from its
            ``run.json``), ``failed`` or ``cancelled`` (``--fail-fast`` stopped it).
        frames: frames written; frames_per_s and wall_time_s: of the job's last attempt.
        objects: prompted objects; objects_tracked: those never lost; objects_lost: those lost
            on at least one frame; lost_frames: frames summed over objects where they were lost.
        attempts: runs started in this batch (more than one after a worker died), counted in
            the job's ``.batch-attempt`` marker.
        resumed_at: frame the last attempt resumed at, None when it ran from the start.
        error: one line saying why a job failed.
        worker: ``host:pid`` of the process that ran the last attempt.
    """

    index: int
    input: str
    out: str
    status: str
    frames: int = 0
    frames_per_s: float = 0.0
    wall_time_s: float = 0.0
    objects: int = 0
    objects_tracked: int = 0
    objects_lost: int = 0
    lost_frames: int = 0
    attempts: int = 1
    resumed_at: int | None = None
    error: str | None = None
    worker: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"job status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class SegmenterCache:
    """The segmenters a worker built, one per distinct config; the least recently used goes.

    A worker running many jobs of one config loads its engine once. The output formats are not
    part of the key (each run is given its own), so jobs differing only in formats share one.

    Args:
        capacity: segmenters kept at once (each may hold a GPU's worth of weights).
        threads: torch/OpenCV threads for this worker (None: leave the runtime's choice).
    """

    def __init__(self, capacity: int = 2, threads: int | None = None) -> None:
        self.capacity = capacity
        self.threads = threads
        self._segmenters: OrderedDict[str, VideoSegmenter] = OrderedDict()
        self.loads = 0

    def segmenter(self, config: Config) -> VideoSegmenter:
        data = config.to_dict()
        data["writers"].pop("formats")
        key = json.dumps(data, sort_keys=True)
        segmenter = self._segmenters.pop(key, None)
        if segmenter is None:
            while len(self._segmenters) >= self.capacity:
                self._segmenters.popitem(last=False)  # free its engine before loading one
            segmenter = VideoSegmenter(config=config)
            self.loads += 1
            self._limit_threads()  # the runtime just set the process's thread count
        self._segmenters[key] = segmenter
        return segmenter

    def _limit_threads(self) -> None:
        if self.threads is None:
            return
        import cv2
        import torch

        torch.set_num_threads(self.threads)
        cv2.setNumThreads(self.threads)


def run_job(
    job: Job,
    token: str,
    cache: SegmenterCache,
    *,
    resume: bool = False,
    report: FrameReport | None = None,
    attempt_hook: Callable[[Job], None] | None = None,
) -> JobResult:
    """Run one job to completion in this process; failures come back as a failed result.

    Args:
        job: the job.
        token: this batch's run token; finding it in ``out/.batch-attempt`` means an earlier
            attempt of this batch died, so the run continues from its journal.
        cache: the worker's segmenters.
        resume: continue an interrupted run of an earlier batch too (``--resume``).
        report: receives frame progress.
        attempt_hook: called once the attempt is recorded (the local pool reports the start).
    """
    t0 = time.perf_counter()
    out = Path(job.out)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    attempt = 1
    try:
        earlier = _read_attempt(out)
        retry = earlier is not None and earlier.get("token") == token
        attempt = int(earlier.get("attempt", 1)) + 1 if retry else 1
        _write_attempt(out, token, worker, attempt)
        if attempt_hook is not None:
            attempt_hook(job)
        journal = (out / RESUME_DIR / "run.json").is_file()
        config = job.run_config()
        segmenter = cache.segmenter(config)

        def progress(done: int, total: int | None) -> None:
            if report is not None:
                report(job.index, done, total)

        summary = segmenter.run(
            job.input,
            job.prompts,
            out,
            formats=config.writers.formats,
            start=job.start,
            end=job.end,
            resume=journal and (retry or resume),
            progress=progress,
            snapshot_every=job.snapshot_every,
        )
        _forget_attempt(out)
        result = result_from_summary(job, summary.to_dict(), "done", worker=worker)
        return dataclasses.replace(result, attempts=attempt)
    except Exception as exc:
        _forget_attempt(out)
        return JobResult(
            job.index,
            job.input,
            job.out,
            "failed",
            wall_time_s=round(time.perf_counter() - t0, 3),
            attempts=attempt,
            error=error_line(exc),
            worker=worker,
        )


def error_line(exc: BaseException) -> str:
    """One line for the report: our own errors already say what and where."""
    text = " ".join(str(exc).split())
    if isinstance(exc, SegAnyVideoError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def result_from_summary(
    job: Job, run: Mapping[str, Any], status: str, *, worker: str | None = None
) -> JobResult:
    """A :class:`JobResult` from a ``run.json`` (or :meth:`RunSummary.to_dict`)."""
    lost = [obj["frames"].get("lost", 0) for obj in run["objects"]]
    return JobResult(
        job.index,
        job.input,
        job.out,
        status,
        frames=int(run["frames"]),
        frames_per_s=float(run["frames_per_s"]),
        wall_time_s=float(run["wall_time_s"]),
        objects=len(lost),
        objects_tracked=sum(1 for n in lost if n == 0),
        objects_lost=sum(1 for n in lost if n > 0),
        lost_frames=sum(lost),
        resumed_at=run.get("resumed_at"),
        worker=worker,
    )


def finished_run(job: Job) -> dict[str, Any] | None:
    """The ``run.json`` of an earlier complete run of this very job, else None.

    Complete: ``run.json`` present, no resume journal or unfinished attempt left, and the same
    input and config (and first frame, when the start is a frame index).
    """
    out = Path(job.out)
    if (out / RESUME_DIR).exists() or (out / ATTEMPT_FILE).exists():
        return None
    try:
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (
        run.get("source") == job.input
        and run.get("config") == json.loads(json.dumps(job.run_config().to_dict()))
        and (not isinstance(job.start, int) or run.get("first_frame") == job.start)
    )
    return run if same else None


def _read_attempt(out: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out / ATTEMPT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_attempt(out: Path, token: str, worker: str, attempt: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    marker = AtomicPath(out / ATTEMPT_FILE)
    record = {
        "token": token,
        "attempt": attempt,
        "worker": worker,
        "pid": os.getpid(),
        "started": time.time(),
    }
    marker.temp.write_text(json.dumps(record) + "\n", encoding="utf-8")
    marker.commit()


def _forget_attempt(out: Path) -> None:
    """Drop the attempt marker, and the folder too when the job left nothing else in it."""
    (out / ATTEMPT_FILE).unlink(missing_ok=True)
    # Not empty (outputs, or a journal worth keeping) or already gone: keep it.
    with contextlib.suppress(OSError):
        out.rmdir()
