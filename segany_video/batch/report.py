"""The batch report: ``batch.json`` and ``batch.csv`` (written atomically) and a printed table.

``batch.json`` holds the batch (manifest, mode, workers, wall time, counts per status) and one
record per job; ``batch.csv`` the same per-job records as rows, for spreadsheets.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from segany_video.batch.runner import JobResult
from segany_video.writers.atomic import AtomicPath

COLUMNS = tuple(f.name for f in dataclasses.fields(JobResult))


@dataclasses.dataclass(frozen=True)
class BatchReport:
    """A finished batch.

    Attributes:
        manifest: the manifest file.
        mode: ``local`` or ``ray``.
        workers: local worker processes, or the Ray address.
        wall_time_s: the whole batch, seconds.
        jobs: one result per job, in manifest order.
    """

    manifest: str
    mode: str
    workers: str
    wall_time_s: float
    jobs: tuple[JobResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(job.status for job in self.jobs))

    @property
    def failed(self) -> tuple[JobResult, ...]:
        return tuple(job for job in self.jobs if job.status in ("failed", "cancelled"))

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        frames = sum(job.frames for job in self.jobs if job.status == "done")
        return {
            "manifest": self.manifest,
            "mode": self.mode,
            "workers": self.workers,
            "wall_time_s": round(self.wall_time_s, 3),
            "frames": frames,
            "frames_per_s": round(frames / self.wall_time_s, 3) if self.wall_time_s > 0 else 0.0,
            "counts": self.counts,
            "jobs": [job.to_dict() for job in self.jobs],
        }


def write_report(report: BatchReport, folder: Path) -> tuple[Path, Path]:
    """Write ``batch.json`` and ``batch.csv`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = AtomicPath(folder / "batch.json")
    json_path.temp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    csv_path = AtomicPath(folder / "batch.csv")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for job in report.jobs:
        writer.writerow({k: "" if v is None else v for k, v in job.to_dict().items()})
    csv_path.temp.write_text(buffer.getvalue(), encoding="utf-8")
    return json_path.commit(), csv_path.commit()


def read_report(path: Path) -> list[dict[str, Any]]:
    """The job records of a ``batch.json``."""
    return list(json.loads(Path(path).read_text(encoding="utf-8"))["jobs"])


def print_table(report: BatchReport, out: IO[str]) -> None:
    """A fixed-width table of the jobs, then the totals and every failure's reason."""
    rows = [("job", "status", "frames", "frames/s", "wall s", "objects", "lost", "input")]
    for job in report.jobs:
        rows.append(
            (
                str(job.index),
                job.status,
                str(job.frames),
                f"{job.frames_per_s:.2f}",
                f"{job.wall_time_s:.1f}",
                str(job.objects),
                str(job.objects_lost),
                job.input,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [
            cell.rjust(w) if i != 1 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=False))
        ]
        print("  ".join([*cells, row[-1]]), file=out)
    summary = report.to_dict()
    counts = ", ".join(f"{n} {status}" for status, n in _ordered(report.counts).items())
    print(
        f"batch: {len(report.jobs)} jobs ({counts}); {summary['frames']} frames in "
        f"{report.wall_time_s:.1f} s ({summary['frames_per_s']:.2f} frames/s)",
        file=out,
    )
    for job in report.failed:
        print(f"{job.status}: job {job.index} ({job.input}): {job.error}", file=out)


def _ordered(counts: Mapping[str, int]) -> dict[str, int]:
    order = ("done", "skipped", "failed", "cancelled")
    return {status: counts[status] for status in order if status in counts}


def describe(results: Sequence[JobResult]) -> str:
    """``2 of 8 jobs failed: job 3 (...), job 5 (...)`` for the command's last line."""
    bad = [r for r in results if r.status in ("failed", "cancelled")]
    names = ", ".join(f"job {r.index} ({r.input})" for r in bad)
    return f"{len(bad)} of {len(results)} jobs did not finish: {names}"
