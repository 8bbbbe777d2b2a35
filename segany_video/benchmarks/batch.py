"""Benchmark of ``segany-video batch``: N clips through 2 local workers vs one by one, and the
overhead per job of the Ray path vs the local one.

All sides run in one invocation on the same generated clips (classic engine):

- **one by one**: one process, one :class:`VideoSegmenter`, the clips in a loop (what a script
  calling ``seg.run`` per file does; the engine is loaded once and torch uses every core).
- **local**: ``run_batch(workers=W)``: W spawned worker processes, each loading its engine.
- **ray** (when installed): ``run_batch(ray_address=...)`` on a local cluster of W CPUs started
  here on 127.0.0.1 before timing, once with fresh workers and once with the workers warm.

Overhead per job: the time each worker slot spent on a job outside ``VideoSegmenter.run``
(process start, imports, engine load, scheduling, progress, report), i.e.
``(batch wall time * slots - sum of the jobs' run times) / jobs``; for the local path also in
CPU seconds (batch minus one by one, workers included), which a busy machine does not inflate.
CPU time over wall time shows the share of the cores the run actually got. Run::

    segany-video bench batch --clips 8 --frames 40 --size 256x144 --workers 2
"""

from __future__ import annotations

import argparse
import io
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from segany_video.batch import BatchReport, run_batch
from segany_video.segmenter import VideoSegmenter
from segany_video.synthetic.clips import make_clip, write_clip

FORMATS = ("masks", "json")


def write_clips(root: Path, count: int, frames: int, size: tuple[int, int]) -> list[Path]:
    """``count`` scripted clips (seeds 0..count-1) under ``root/clips/clipN/``."""
    videos = []
    for seed in range(count):
        clip = make_clip(seed, num_frames=frames, size=size)
        videos.append(write_clip(clip, root / "clips" / f"clip{seed}", preset="ultrafast").video)
    return videos


def write_manifest(root: Path, name: str) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(
        f"formats: [{', '.join(FORMATS)}]\n"
        f"out: out_{name}/{{parent}}\n"
        "prompts: clips/{parent}/prompts.json\n"
        "jobs:\n  - input: clips/clip*/clip.mp4\n",
        encoding="utf-8",
    )
    return path


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the local workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one_by_one(videos: Sequence[Path], out: Path) -> tuple[float, float]:
    """Wall time of the loop (engine load included) and the summed run times."""
    t0 = time.perf_counter()
    segmenter = VideoSegmenter()
    runs = 0.0
    for video in videos:
        summary = segmenter.run(
            video, video.parent / "prompts.json", out / video.parent.name, formats=FORMATS
        )
        runs += summary.wall_time_s
    return time.perf_counter() - t0, runs


def overhead_per_job(report: BatchReport, slots: int) -> float:
    runs = sum(job.wall_time_s for job in report.jobs)
    return (report.wall_time_s * slots - runs) / len(report.jobs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench batch",
        description="Batch throughput: W local workers vs one by one; Ray vs local overhead.",
    )
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=40, help="frames per clip")
    parser.add_argument("--size", default="256x144", help="WIDTHxHEIGHT of the clips")
    parser.add_argument("--workers", type=int, default=2, help="local workers and Ray CPUs")
    parser.add_argument(
        "--rounds", type=int, default=2, help="alternating rounds of one-by-one and local"
    )
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray measurements")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: temp)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_batch"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        videos = write_clips(root, args.clips, args.frames, (width, height))
        frames = args.clips * args.frames
        print(f"{args.clips} clips of {args.frames} frames at {width}x{height}, classic engine")
        ratios, local_overheads = [], []
        for round_number in range(1, args.rounds + 1):
            cpu0 = cpu_seconds()
            seq_wall, _ = one_by_one(videos, root / "out_one_by_one")
            cpu1 = cpu_seconds()
            local = run_batch(
                write_manifest(root, "local"), workers=args.workers, out=io.StringIO()
            )
            cpu2 = cpu_seconds()
            _check(local)
            ratios.append(seq_wall / local.wall_time_s)
            local_overheads.append(overhead_per_job(local, args.workers))
            print(
                f"round {round_number}: one by one {seq_wall:6.2f} s ({frames / seq_wall:.2f} "
                f"frames/s, CPU {cpu1 - cpu0:.1f} s); {args.workers} workers "
                f"{local.wall_time_s:6.2f} s ({frames / local.wall_time_s:.2f} frames/s, CPU "
                f"{cpu2 - cpu1:.1f} s); speed-up {ratios[-1]:.2f}x; overhead per job "
                f"{local_overheads[-1]:.2f} s wall, {(cpu2 - cpu1 - cpu1 + cpu0) / args.clips:.2f} "
                "s CPU"
            )
        print(
            f"speed-up of {args.workers} workers over one by one: median "
            f"{statistics.median(ratios):.2f}x, best {max(ratios):.2f}x over {len(ratios)} rounds"
        )
        if not args.no_ray:
            _ray_figures(root, args.workers, frames, min(local_overheads))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _ray_figures(root: Path, slots: int, frames: int, local_overhead: float) -> None:
    try:
        import ray
    except ImportError:
        print('ray: not installed (pip install "segany-video[cluster]"); Ray figures skipped')
        return
    temp = tempfile.mkdtemp(prefix="segray", dir="/tmp")  # short: Ray's socket paths
    t0 = time.perf_counter()
    context = ray.init(
        address="local",
        num_cpus=slots,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp,
    )
    print(f"ray: local cluster of {slots} CPUs up in {time.perf_counter() - t0:.1f} s (untimed)")
    try:
        address = context.address_info["address"]
        for label in ("fresh workers", "warm workers"):
            report = run_batch(
                write_manifest(root, f"ray_{label.split()[0]}"),
                ray_address=address,
                out=io.StringIO(),
            )
            _check(report)
            overhead = overhead_per_job(report, slots)
            print(
                f"ray, {label:13s} {report.wall_time_s:7.2f} s  "
                f"({frames / report.wall_time_s:.2f} frames/s)  overhead per job {overhead:.2f} s "
                f"({overhead - local_overhead:+.2f} s vs local's best)"
            )
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _check(report: BatchReport) -> None:
    if not report.ok:
        bad = "; ".join(f"job {j.index}: {j.error}" for j in report.failed)
        raise SystemExit(f"bench batch: jobs failed: {bad}")


if __name__ == "__main__":
    sys.exit(main())
