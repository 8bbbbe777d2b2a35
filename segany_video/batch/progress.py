"""Batch progress: one overall bar (jobs, frames, frames/s, ETA) and a line per finished job.

On a terminal the bar is a tqdm bar counting frames, with the jobs done in its postfix; job lines
are printed above it. Elsewhere (logs, CI) there is no bar, and each job line carries the overall
figures instead. Frame totals of jobs that have not started are estimated from the mean of
those that have, so the ETA firms up as jobs start.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from segany_video.batch.runner import JobResult


class BatchProgress:
    """Collects worker reports; draws the bar and prints the job lines.

    Args:
        total_jobs: jobs in the batch.
        out: where job lines go (default stdout).
        bar_stream: where the bar goes (default stderr); no bar unless it is a terminal.
    """

    def __init__(
        self, total_jobs: int, out: IO[str] | None = None, bar_stream: IO[str] | None = None
    ) -> None:
        self.total_jobs = total_jobs
        self.out = out if out is not None else sys.stdout
        stream = bar_stream if bar_stream is not None else sys.stderr
        self.jobs_done = 0
        self.failed = 0
        self._done: dict[int, int] = {}  # job index -> frames done by this batch
        self._totals: dict[int, int] = {}  # job index -> frames the job will write
        self._finished: set[int] = set()
        self._t0 = time.perf_counter()
        self._bar = None
        if hasattr(stream, "isatty") and stream.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="frame", file=stream, dynamic_ncols=True)
            self._bar.set_postfix_str(f"jobs 0/{total_jobs}")

    # ------------------------------------------------------------------------------ reports

    def frames(self, index: int, done: int, total: int | None) -> None:
        """A worker's report: job ``index`` has written ``done`` of ``total`` frames."""
        self._done[index] = done
        if total is not None:
            self._totals[index] = total
        self._refresh()

    def finished(self, result: JobResult) -> None:
        """A job ended (any status): count it and print its line."""
        self.jobs_done += 1
        self._finished.add(result.index)
        self.failed += result.status == "failed"
        if result.status == "done":
            self._done[result.index] = result.frames
            self._totals[result.index] = result.frames
        elif result.status == "skipped":
            self._totals.pop(result.index, None)  # skipped frames are no work of this batch
        self._refresh()
        self._print(self._line(result))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    # ------------------------------------------------------------------------------ figures

    @property
    def frames_done(self) -> int:
        return sum(self._done.values())

    def frames_per_s(self) -> float:
        return self.frames_done / max(time.perf_counter() - self._t0, 1e-9)

    def estimated_total(self) -> int:
        """Known frame totals, plus their mean for every job that has not reported one."""
        known = len(self._totals)
        unknown = self.total_jobs - len(self._finished | set(self._totals))
        mean = sum(self._totals.values()) / known if known else 0
        return sum(self._totals.values()) + round(mean * unknown)

    def eta_s(self) -> float | None:
        rate = self.frames_per_s()
        remaining = self.estimated_total() - self.frames_done
        return remaining / rate if rate > 0 and self._totals else None

    def _refresh(self) -> None:
        if self._bar is None:
            return
        self._bar.total = max(self.estimated_total(), self.frames_done)
        self._bar.set_postfix_str(f"jobs {self.jobs_done}/{self.total_jobs}", refresh=False)
        delta = self.frames_done - self._bar.n
        if delta > 0:
            self._bar.update(delta)  # through update(), so tqdm's rate and ETA follow
        else:
            # A retried job counts its frames again from its journal: the count may step back.
            self._bar.n = self.frames_done
            self._bar.refresh()

    def _line(self, result: JobResult) -> str:
        head = f"[{self.jobs_done}/{self.total_jobs}] job {result.index} {result.status}"
        if result.status == "failed":
            error = result.error or ""
            body = error if error.startswith(result.input) else f"{result.input}: {error}"
        elif result.status == "cancelled":
            body = f"{result.input}: not run ({result.error})"
        else:
            lost = f", {result.objects_lost} lost" if result.objects_lost else ""
            retried = f", {result.attempts} attempts" if result.attempts > 1 else ""
            body = (
                f"{result.input}: {result.frames} frames, {result.frames_per_s:.2f} frames/s, "
                f"{result.wall_time_s:.1f} s, {result.objects} objects{lost}{retried} "
                f"-> {result.out}"
            )
        if self._bar is not None:
            return f"{head}: {body}"
        eta = self.eta_s()
        overall = f" | frames {self.frames_done}, {self.frames_per_s():.2f} frames/s" + (
            f", ETA {eta:.0f} s" if eta is not None and self.jobs_done < self.total_jobs else ""
        )
        return f"{head}: {body}{overall}"

    def _print(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self.out)
        else:
            print(line, file=self.out, flush=True)
