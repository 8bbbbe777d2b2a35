"""Reader and mask-writer speed on one clip.

Measures, in the same run and on the same file:

* raw PyAV: ``container.decode(video=0)`` + ``frame.to_ndarray(format="rgb24")`` — the floor
  any PyAV-based reader pays;
* our reader: ``open_video(CLIP).batches(N)`` (open included), with and without the prefetch
  thread, and the ratio to raw PyAV (goal: >= 0.9);
* backward reading: ``read_frames`` in descending runs of ``--batch`` (after one forward pass,
  which the count includes), as backward propagation reads;
* the FFV1 mask writer (``segany_video.writers.mask_video``), writing one 0/255 mask per frame.

Each measurement is repeated ``--repeats`` times, interleaved, and the best run is kept, so a
neighbour briefly hogging the CPU does not decide the ratio; CPU milliseconds per frame (all
threads of this process) are printed too, being less swayed by other processes. The reader's
one structural extra over raw PyAV is copying each frame into its batch array; with prefetch on
(the default) it decodes in one thread and converts to RGB in another, so on two or more cores
it can run faster than raw PyAV, whose decode and conversion share one thread.

Usage::

    segany-video bench io ../shared/data/videos/intel_one-by-one-person-detection.mp4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from segany_video.readers.reader import ReaderSettings, open_video


def raw_pyav(clip: str, limit: int | None) -> int:
    """Decode with bare PyAV to RGB arrays; returns the frame count."""
    count = 0
    with av.open(clip) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
            count += 1
            if limit is not None and count >= limit:
                break
    return count


def reader(clip: str, settings: ReaderSettings, batch: int, limit: int | None) -> int:
    """Decode with ``open_video(...).batches(batch)``; returns the frame count."""
    count = 0
    with open_video(clip, settings=settings) as video:
        for frames in video.batches(batch, end=limit):
            count += len(frames)
    return count


def reader_backwards(clip: str, settings: ReaderSettings, batch: int, limit: int | None) -> int:
    """Read the clip last frame first, ``read_frames`` of ``batch`` descending indices a call
    (backward propagation's pattern); returns the frame count."""
    with open_video(clip, settings=settings) as video:
        total = sum(len(b) for b in video.batches(64, end=limit))  # learn the keyframes
        for top in range(total - 1, -1, -batch):
            video.read_frames(list(range(top, max(top - batch, -1), -1)))
    return total


def mask_writer(width: int, height: int, fps: Fraction, frames: int) -> int | None:
    """Write ``frames`` moving-ellipse masks to an FFV1 mask video; None if the writer is absent."""
    try:
        from segany_video.writers.mask_video import MaskVideoWriter
    except ImportError:
        return None
    yy, xx = np.mgrid[0:height, 0:width]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "object_1.mkv"
        with MaskVideoWriter(path, width, height, fps, codec="ffv1", object_id=1) as writer:
            for i in range(frames):
                cx = (0.2 + 0.6 * i / max(frames - 1, 1)) * width
                mask = ((xx - cx) / (0.15 * width)) ** 2 + ((yy - height / 2) / (0.3 * height)) ** 2
                writer.write(mask <= 1.0, timestamp=float(i / fps))
    return frames


def best_rate(run: Callable[[], int | None], repeats: int) -> tuple[float, int] | None:
    """Best frames/s over ``repeats`` runs, and the frame count."""
    best, count = 0.0, 0
    for _ in range(repeats):
        start = time.perf_counter()
        count = run()
        if count is None:
            return None
        best = max(best, count / (time.perf_counter() - start))
    return best, count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench io", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("clip", help="video file (or URL) to decode")
    parser.add_argument("--batch", type=int, default=16, help="reader batch size (default 16)")
    parser.add_argument("--frames", type=int, default=None, help="decode at most this many")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (best)")
    parser.add_argument("--backend", default="pyav", choices=["pyav", "decord"])
    parser.add_argument(
        "--no-backwards", action="store_true", help="skip the backward-reading measurement"
    )
    parser.add_argument(
        "--mask-frames", type=int, default=300, help="frames for the mask writer (0: skip)"
    )
    args = parser.parse_args(argv)

    settings = ReaderSettings(backend=args.backend)
    with open_video(args.clip, settings=settings) as video:
        info = video.info
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"cpus: {os.cpu_count()}, load average: {load:.1f} (a busy machine skews the ratio)")
    print(
        f"clip: {args.clip}\n  {info.width}x{info.height}, {float(info.fps):.3f} fps, "
        f"{info.frame_count} frames (header), codec {info.codec}, backend {info.backend}"
    )

    runs: dict[str, Callable[[], int | None]] = {
        "raw PyAV decode + to_ndarray(rgb24)": lambda: raw_pyav(args.clip, args.frames),
        f"reader batches({args.batch}), prefetch 2": lambda: reader(
            args.clip, settings, args.batch, args.frames
        ),
        f"reader batches({args.batch}), no prefetch": lambda: reader(
            args.clip, replace(settings, prefetch_batches=0), args.batch, args.frames
        ),
    }
    backwards = f"forward pass + read_frames backwards by {args.batch}"
    rates: dict[str, float] = {name: 0.0 for name in runs}
    cpu_ms: dict[str, float] = {name: float("inf") for name in runs}
    counts: dict[str, int] = {}
    # Interleave the repeats so all candidates see the same background load. CPU time (all
    # threads of this process) is reported too: it is less swayed by other processes.
    for _ in range(args.repeats):
        for name, run in runs.items():
            cpu_start = time.process_time()
            rate, counts[name] = best_rate(run, 1)  # type: ignore[misc]
            cpu = (time.process_time() - cpu_start) * 1000 / max(counts[name], 1)
            rates[name] = max(rates[name], rate)
            cpu_ms[name] = min(cpu_ms[name], cpu)

    raw_name = next(iter(runs))
    for name, rate in rates.items():
        ratio = (
            ""
            if name == raw_name
            else f"   ratio {rate / rates[raw_name]:.2f} "
            f"(CPU-time ratio {cpu_ms[raw_name] / cpu_ms[name]:.2f})"
        )
        print(
            f"  {name:<42} {rate:8.1f} frames/s  {cpu_ms[name]:5.2f} CPU ms/frame  "
            f"({counts[name]} frames){ratio}"
        )
    print("  goal: reader / raw >= 0.90")
    if not args.no_backwards:
        rate, frames = best_rate(
            lambda: reader_backwards(args.clip, settings, args.batch, args.frames), 1
        )  # type: ignore[misc]
        print(f"  {backwards:<42} {rate:8.1f} frames/s  ({frames} frames, each read twice)")

    if args.mask_frames > 0:
        measured = best_rate(
            lambda: mask_writer(info.width, info.height, info.fps, args.mask_frames), args.repeats
        )
        if measured is None:
            print("  FFV1 mask writer: skipped (segany_video.writers.mask_video not available)")
        else:
            rate, frames = measured
            print(
                f"  {'FFV1 mask writer (' + str(info.width) + 'x' + str(info.height) + ')':<42} "
                f"{rate:8.1f} frames/s  ({frames} frames)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
