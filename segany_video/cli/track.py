"""``segany-video track``: track prompted objects through a video and write the outputs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segany_video.cli.progress import Progress
from segany_video.cli.prompt_flags import add_prompt_flags, build_prompts, parse_position
from segany_video.cli.values import non_empty, positive_int
from segany_video.resume import SNAPSHOT_EVERY
from segany_video.writers.outputs import FORMATS

if TYPE_CHECKING:
    from segany_video.segmenter import RunSummary

__all__ = ["add_parser", "print_summary", "run"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``track`` and its options on the top-level subparsers."""
    track = sub.add_parser("track", help="track prompted objects and write outputs")
    track.add_argument(
        "input", type=non_empty, help="video file, URL, folder of frames, or - for standard input"
    )
    add_prompt_flags(track)
    track.add_argument(
        "--model",
        type=non_empty,
        help="classic (default), sam_vit_b/l/h, mobile_sam, sam2.1_hiera_tiny/small/base_plus/"
        "large, sam2_hiera_..., or a path",
    )
    track.add_argument(
        "--mode",
        choices=("auto", "video", "image"),
        help="video: SAM 2's memory carries objects (default for SAM 2 weights); image: the "
        "engine runs per frame with propagated prompts",
    )
    track.add_argument("--device", type=non_empty, help="auto, cpu, cuda, cuda:N or mps")
    track.add_argument("--batch-size", type=int, help="frames per encoder forward")
    track.add_argument(
        "--out", type=non_empty, help="output folder (default: ./<input name>_segany)"
    )
    track.add_argument(
        "--formats", help=f"comma list of {','.join(FORMATS)}, or all (default masks,overlay,json)"
    )
    track.add_argument(
        "--start", type=non_empty, help="first frame index or time (e.g. 120 or 4.0s)"
    )
    track.add_argument("--end", type=non_empty, help="end frame index or time, exclusive")
    track.add_argument("--config", type=non_empty, help="YAML config file")
    track.add_argument("--preset", type=non_empty, help="sports, surveillance or drone")
    track.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="set any config key, e.g. classic.work_pixels=60000 or tracker.max_lost_frames=50 "
        "(VALUE is YAML; repeatable; wins over --config and --preset)",
    )
    track.add_argument("--resume", action="store_true", help="continue an interrupted run")
    track.add_argument(
        "--snapshot-every",
        type=positive_int,
        default=SNAPSHOT_EVERY,
        metavar="N",
        help=f"frames between resume snapshots (default {SNAPSHOT_EVERY}; smaller loses less "
        "work on a crash, larger writes less)",
    )
    track.set_defaults(func=run)
    return track


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The command-line options as a config layer (the config file format); ``--set`` last."""
    from segany_video.config import assignment_override, merge_layers

    overrides: dict[str, Any] = {}
    if args.model is not None:
        overrides["model"] = args.model
    runtime = {
        k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v is not None
    }
    if runtime:
        overrides["runtime"] = runtime
    if args.mode is not None:
        overrides["tracker"] = {"mode": args.mode}
    if args.formats is not None:
        overrides["writers"] = {"formats": parse_formats(args.formats)}
    return merge_layers(overrides, *(assignment_override(text) for text in args.assignments))


def parse_formats(text: str) -> list[str]:
    """``--formats``: a comma list of format names, or ``all``; an empty list is refused.

    Raises:
        ConfigError: nothing named (e.g. ``--formats "$UNSET"``), listing what exists.
    """
    from segany_video.errors import ConfigError

    if text.strip() == "all":
        return list(FORMATS)
    formats = [name.strip() for name in text.split(",") if name.strip()]
    if not formats:
        raise ConfigError(
            f"--formats {text!r} names no format; give a comma list of {','.join(FORMATS)}, or all"
        )
    return formats


def run(args: argparse.Namespace) -> int:
    """Track and write; prints the engine line, progress and the summary.

    Everything the user gave is checked before the engine is built (loading SAM weights takes
    seconds to minutes): options, prompts against the opened input, the range, and the output
    folder, which this run then holds against other runs. The input is opened once and handed
    to the segmenter open, since a pipe or live stream cannot be read a second time.
    """
    from segany_video.config import load_config
    from segany_video.readers.reader import open_video
    from segany_video.segmenter import VideoSegmenter, require_formats
    from segany_video.writers.run_lock import RunLock

    config = load_config(args.config, args.preset, config_overrides(args))
    prompts = build_prompts(args.prompts, args.object_flags)
    start = None if args.start is None else parse_position(args.start, "--start")
    end = None if args.end is None else parse_position(args.end, "--end")
    out = Path(args.out) if args.out else Path.cwd() / f"{Path(args.input).stem}_segany"
    require_formats(config.writers.formats, out)
    with open_video(args.input, settings=config.reader) as video:
        prompts.resolve(video.info)
        with RunLock(out) as lock:
            segmenter = VideoSegmenter(config=config)
            info = segmenter.model.info
            weights = f" ({info.weights})" if info.weights else ""
            print(f"engine: {info.description}{weights}; device: {segmenter.runtime.device}")
            progress = Progress()
            try:
                summary = segmenter.run(
                    video,
                    prompts,
                    out,
                    start=start,
                    end=end,
                    resume=args.resume,
                    progress=progress,
                    snapshot_every=args.snapshot_every,
                    lock=lock,
                )
            finally:
                progress.close()
    print_summary(summary)
    return 0


def print_summary(summary: RunSummary) -> None:
    """The end-of-run summary: engine, device, speed, per-object states, output files."""
    weights = summary.weights or "none"
    print(f"engine   {summary.engine_description} (weights: {weights}), {summary.mode} mode")
    print(f"device   {summary.device}")
    resumed = f", resumed at frame {summary.resumed_at}" if summary.resumed_at is not None else ""
    print(
        f"frames   {summary.frames} in {summary.wall_time_s:.1f} s "
        f"({summary.frames_per_s:.2f} frames/s){resumed}"
    )
    for obj in summary.objects:
        name = f" ({obj.name})" if obj.name else ""
        counts = ", ".join(f"{state} {n}" for state, n in obj.frames.items() if n)
        print(f"object   {obj.id}{name}: {counts}")
    for fmt, paths in summary.outputs.items():
        for path in paths:
            print(f"output   {fmt:8s} {path}")
