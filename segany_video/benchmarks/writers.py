"""Writer speed per output format, at a given frame size.

Each format is timed on its own, in the calling thread (no writer thread), writing ``--frames``
synthetic frames: a textured RGB image and ``--objects`` moving elliptical masks. Then the
whole :class:`~segany_video.writers.outputs.OutputSet` with the default formats (masks, overlay,
json) is timed end to end through its writer thread, as a run uses it. Each measurement is
repeated ``--repeats`` times and the best kept, so a neighbour hogging the CPU for a moment
does not decide the figure. Frames/s counts video frames (all objects of a frame together).

Usage::

    segany-video bench writers --width 854 --height 480 --frames 120
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.writers.outputs import FORMATS, OutputSet, WriterSettings

# (label, WriterSettings overrides) per measurement, in the order printed.
CASES: tuple[tuple[str, dict], ...] = (
    ("masks (ffv1 .mkv)", {"formats": ("masks",), "mask_codec": "ffv1"}),
    ("masks (h264 .mp4)", {"formats": ("masks",), "mask_codec": "h264"}),
    ("png sequence", {"formats": ("png",)}),
    ("cutout (prores .mov)", {"formats": ("cutout",), "cutout_codecs": ("prores",)}),
    ("cutout (vp9 .webm)", {"formats": ("cutout",), "cutout_codecs": ("vp9",)}),
    ("overlay (h264 .mp4)", {"formats": ("overlay",)}),
    ("json (COCO RLE)", {"formats": ("json",)}),
    ("davis palette png", {"formats": ("davis",)}),
    ("mot csv", {"formats": ("mot",)}),
)


def synthetic_frames(
    width: int, height: int, frames: int, objects: int, fps: Fraction
) -> list[tuple[FrameResult, np.ndarray]]:
    """Frames with ``objects`` ellipses moving across a smooth textured background."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for i in range(frames):
        phase = i / max(frames - 1, 1)
        rgb = np.stack(
            [
                128 + 100 * np.sin(xx / 23 + i / 5),
                128 + 100 * np.cos(yy / 17 - i / 7),
                128 + 60 * np.sin((xx + yy) / 31),
            ],
            axis=-1,
        ).astype(np.uint8)
        result = {}
        for k in range(1, objects + 1):
            cx = (0.15 + 0.7 * ((phase + 0.3 * k) % 1.0)) * width
            cy = (k / (objects + 1)) * height
            mask = ((xx - cx) / (0.12 * width)) ** 2 + ((yy - cy) / (0.2 * height)) ** 2 <= 1.0
            result[k] = ObjectResult(k, mask, mask_box(mask), 0.9, TrackState.TRACKED)
        out.append((FrameResult(i, float(i / fps), result), rgb))
    return out


def time_output_set(
    frames: list[tuple[FrameResult, np.ndarray]], info: VideoInfo, settings: WriterSettings
) -> float:
    """Seconds to write ``frames`` through an OutputSet (open, write, close, rename)."""
    object_ids = list(frames[0][0].objects)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with OutputSet(Path(folder), info, object_ids, settings) as outputs:
            for result, image in frames:
                outputs.write(result, image)
        return time.perf_counter() - start


def best_rate(run: Callable[[], float], count: int, repeats: int) -> float:
    """Best frames/s over ``repeats`` runs of ``run`` (which returns seconds)."""
    return max(count / run() for _ in range(repeats))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench writers", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--objects", type=int, default=1, help="objects per frame")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--formats",
        default="all",
        help=f"comma-separated subset of {','.join(FORMATS)} (default: all)",
    )
    args = parser.parse_args(argv)
    wanted = set(FORMATS) if args.formats == "all" else set(args.formats.split(","))
    fps = Fraction(30)
    info = VideoInfo(
        "synthetic", args.width, args.height, fps, args.frames, args.frames / 30, 0, "raw", "none"
    )
    frames = synthetic_frames(args.width, args.height, args.frames, args.objects, fps)
    print(
        f"writers at {args.width}x{args.height}, {args.frames} frames, {args.objects} object(s), "
        f"best of {args.repeats}; frames/s (video frames, all objects together):"
    )
    for label, overrides in CASES:
        if not wanted.intersection(overrides["formats"]):
            continue
        # A queue of 1 keeps this near a single-thread figure: the producer waits on the writer.
        settings = WriterSettings(**overrides, queue_size=1)
        rate = best_rate(
            lambda s=settings: time_output_set(frames, info, s), len(frames), args.repeats
        )
        print(f"  {label:24s} {rate:8.1f} frames/s")
    default = WriterSettings()
    rate = best_rate(lambda: time_output_set(frames, info, default), len(frames), args.repeats)
    print(f"  {'OutputSet defaults':24s} {rate:8.1f} frames/s  ({', '.join(default.formats)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
