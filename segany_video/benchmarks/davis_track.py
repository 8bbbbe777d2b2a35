"""End-to-end speed of ``segany-video track`` on a DAVIS split, run as a user runs it.

Each sequence is tracked by a separate command, exactly as a user would type it::

    segany-video track SEQ/JPEGImages --mask SEQ/Annotations/00000.png@0 --formats davis

timed from process start to exit (Python start, imports and engine build included), in wall
time and in the process's CPU time (which other jobs on a shared machine hardly inflate), and
its ``davis/`` output is then scored against the ground truth (J, F, J&F), so the speed goes
with the quality of the same run. Also reported: the run's own frames/s from ``run.json`` (tracking
and writing only). The total frames/s is all frames over all wall time.

Usage::

    segany-video bench davis-track ../shared/data/davis2016-train --split confirmation
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from segany_video.errors import ConfigError, PipelineError
from segany_video.evaluation.davis_data import DavisSequence, open_sequence
from segany_video.evaluation.davis_eval import frame_folder
from segany_video.evaluation.davis_split import SPLITS, load_split
from segany_video.evaluation.metrics import (
    SequenceScores,
    boundary_f_measure,
    region_similarity,
    sequence_scores,
)
from segany_video.writers.atomic import write_text_atomically
from segany_video.writers.davis_png import read_davis_png


@dataclass(frozen=True)
class TrackRun:
    """One ``track`` command: its wall time, the run's own speed and the quality of its output."""

    name: str
    frames: int
    wall_s: float
    cpu_s: float
    run_frames_per_s: float
    scores: SequenceScores

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.wall_s


def track_command(sequence: DavisSequence, out: Path, extra: Sequence[str] = ()) -> list[str]:
    """The user's command line for one sequence (the current interpreter runs the CLI)."""
    mask = f"{sequence.mask_paths[0]}@0"
    return [
        sys.executable, "-m", "segany_video.cli", "track", str(frame_folder(sequence)),
        "--mask", mask, "--formats", "davis", "--out", str(out), *extra,
    ]  # fmt: skip


def run_track(sequence: DavisSequence, extra: Sequence[str] = ()) -> TrackRun:
    """Run ``track`` on one sequence in a fresh process, time it and score its output.

    Raises:
        PipelineError: the command failed (its last output lines are in the message).
    """
    with tempfile.TemporaryDirectory(prefix="segany-davis-track-") as tmp:
        out = Path(tmp) / "out"
        command = track_command(sequence, out, extra)
        cpu_before = _children_cpu_s()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        wall = time.perf_counter() - started
        cpu = _children_cpu_s() - cpu_before
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-5:])
            raise PipelineError(f"track failed on {sequence.name} (exit {done.returncode}): {tail}")
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
        j, f = [], []
        for index in range(len(sequence)):
            labels = read_davis_png(out / "davis" / f"{sequence.frame_paths[index].stem}.png")
            truth = sequence.mask(index)
            j.append(region_similarity(labels == 1, truth))
            f.append(boundary_f_measure(labels == 1, truth))
    return TrackRun(
        sequence.name,
        len(sequence),
        wall,
        cpu,
        float(run["frames_per_s"]),
        sequence_scores(j, f, name=sequence.name),
    )


def _children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def table(runs: Sequence[TrackRun]) -> str:
    lines = [
        f"{'sequence':16s} {'frames':>6s} {'wall s':>7s} {'cpu s':>7s} {'fps':>6s} {'run fps':>7s} "
        f"{'J':>6s} {'F':>6s} {'J&F':>6s}"
    ]
    for r in runs:
        s = r.scores
        lines.append(
            f"{r.name:16s} {r.frames:6d} {r.wall_s:7.1f} {r.cpu_s:7.1f} {r.frames_per_s:6.2f} "
            f"{r.run_frames_per_s:7.2f} {s.j_mean:6.3f} {s.f_mean:6.3f} {s.jf_mean:6.3f}"
        )
    return "\n".join(lines)


def summary(runs: Sequence[TrackRun]) -> dict:
    frames = sum(r.frames for r in runs)
    wall = sum(r.wall_s for r in runs)
    cpu = sum(r.cpu_s for r in runs)
    j = sum(r.scores.j_mean for r in runs) / len(runs)
    f = sum(r.scores.f_mean for r in runs) / len(runs)
    return {"frames": frames, "wall_s": wall, "frames_per_s": frames / wall, "cpu_s": cpu,
            "frames_per_cpu_s": frames / cpu, "J": j, "F": f, "JF": (j + f) / 2}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """``segany-video bench davis-track DATA_ROOT --split confirmation [--track-args ...]``."""
    parser = argparse.ArgumentParser(
        prog="segany-video bench davis-track",
        description="Time `segany-video track` per sequence of a DAVIS split and score its output.",
    )
    parser.add_argument("root", type=Path, help="DAVIS-format folder")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--split", choices=SPLITS)
    which.add_argument("--sequences", nargs="+")
    parser.add_argument("--split-file", type=Path, help="another split file of the same form")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    parser.add_argument(
        "--track-args", default="", help='more track options, one string: "--preset fast"'
    )
    args = parser.parse_args(argv)
    names = load_split(args.split, args.split_file) if args.split else args.sequences
    if not names:
        raise ConfigError("no sequences to run")
    runs = []
    for name in names:
        runs.append(run_track(open_sequence(args.root, name), shlex.split(args.track_args)))
        print(table(runs[-1:]).splitlines()[1], flush=True)
    total = summary(runs)
    print(table(runs))
    print(
        f"total: {total['frames']} frames in {total['wall_s']:.1f} s = "
        f"{total['frames_per_s']:.2f} frames/s end to end (process start included), "
        f"{total['frames_per_cpu_s']:.2f} frames per CPU-second; "
        f"J&F {total['JF']:.3f} (J {total['J']:.3f}, F {total['F']:.3f})"
    )
    if args.json is not None:
        data = {
            "split": args.split,
            "total": total,
            "sequences": {
                r.name: {
                    "frames": r.frames,
                    "wall_s": r.wall_s,
                    "cpu_s": r.cpu_s,
                    "frames_per_s": r.frames_per_s,
                    "run_frames_per_s": r.run_frames_per_s,
                    "J": r.scores.j_mean,
                    "F": r.scores.f_mean,
                    "JF": r.scores.jf_mean,
                }
                for r in runs
            },
        }
        write_text_atomically(args.json, json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
