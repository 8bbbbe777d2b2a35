"""The ``segany-video`` command: parse, call the API, print.

User mistakes (bad paths, prompts, options) print one line and exit 2; other failures exit 1
with the traceback behind ``--debug``; Ctrl-C exits 130 leaving no output that looks complete.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segany_video.errors import ConfigError, PromptError, SegAnyVideoError, UserInputError

FORMATS = ("masks", "png", "cutout", "overlay", "json", "davis", "mot")
BENCHES = {
    "io": "segany_video.benchmarks.io",
    "writers": "segany_video.benchmarks.writers",
    "models": "segany_video.benchmarks.models",
    "classic": "segany_video.benchmarks.classic",
    "pipeline": "segany_video.benchmarks.pipeline",
    "tracker": "segany_video.benchmarks.tracker",
    "sam2": "segany_video.benchmarks.sam2_video",
}
FORWARDED = ("weights", "eval", "score", "bench")
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)s?$")


# ------------------------------------------------------------------------------ prompt flags


class _ObjectFlag(argparse.Action):
    """Appends ``(kind, text)`` to one shared list, so flag order gives object ids."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.object_flags.append((self.dest, values))


def parse_position(text: str, what: str) -> int | float:
    """``"12"`` is frame 12; ``"1.5s"``, ``"1.5"`` with a dot or ``"00:01.5"`` are seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    match = _TIME.match(text)
    if not match:
        raise PromptError(
            f"{what} {text!r}: expected a frame index (e.g. 75) or a time (e.g. 2.5s, 00:02.5)"
        )
    hours, minutes, seconds = match.groups()
    if hours is not None and minutes is None:
        hours, minutes = None, hours
    return float(int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds))


def _split_frame(text: str, flag: str) -> tuple[str, dict[str, Any]]:
    body, at, frame = text.rpartition("@")
    if not at or (flag == "--mask" and not _TIME.match(frame.strip())):
        # A mask file may itself contain "@" (e.g. "shot@2x.png"): no position follows it.
        return text, {"frame": 0}
    position = parse_position(frame, f"{flag} {text!r}: frame")
    return body, {"frame": position} if isinstance(position, int) else {"time": position}


def _numbers(text: str, flag: str, whole: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise PromptError(f"{flag} {whole!r}: {text!r} is not a list of numbers") from None


def object_from_flag(kind: str, text: str, object_id: int) -> dict[str, Any]:
    """One prompts-file object from a ``--point``/``--box``/``--mask`` flag value."""
    flag = f"--{kind}"
    body, keyframe = _split_frame(text, flag)
    if kind == "point":
        points = []
        for part in filter(None, (p.strip() for p in body.split(";"))):
            values = _numbers(part, flag, text)
            if len(values) not in (2, 3):
                raise PromptError(f"{flag} {text!r}: each point is X,Y or X,Y,LABEL, got {part!r}")
            label = int(values[2]) if len(values) == 3 else 1
            points.append([values[0], values[1], label])
        if not points:
            raise PromptError(f"{flag} {text!r}: no point given")
        keyframe["points"] = points
    elif kind == "box":
        values = _numbers(body, flag, text)
        if len(values) != 4:
            raise PromptError(f"{flag} {text!r}: a box is X0,Y0,X1,Y1, got {len(values)} numbers")
        keyframe["box"] = values
    else:
        keyframe["mask"] = str(Path(body).resolve())
    return {"id": object_id, "keyframes": [keyframe]}


def build_prompts(prompts_file: str | None, flags: Sequence[tuple[str, str]]):
    """The run's :class:`PromptSet`: the file's objects, then one object per flag.

    Flag objects take the next free integer ids after the file's (1, 2, ... without a file).
    """
    from segany_video.tracking.prompts import PromptSet

    if prompts_file is None and not flags:
        raise PromptError(
            "no prompts: give --prompts FILE or at least one --point, --box or --mask"
        )
    objects = list(PromptSet.load(prompts_file).objects) if prompts_file is not None else []
    next_id = max((o.id for o in objects if isinstance(o.id, int)), default=0) + 1
    flag_objects = [
        object_from_flag(kind, text, next_id + n) for n, (kind, text) in enumerate(flags)
    ]
    if flag_objects:
        objects += PromptSet.from_dict({"objects": flag_objects}).objects
    return PromptSet(objects=objects)


# ------------------------------------------------------------------------------ progress


class Progress:
    """A tqdm bar on a terminal; plain lines (every 10 % or 30 s) otherwise."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.bar = None
        self.t0 = time.perf_counter()
        self._last_line = self.t0
        self._last_pct = -10
        self._last_done: tuple[int, int | None] | None = None
        self._printed: tuple[int, int | None] | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self._last_done = (done, total)
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="frame", file=self.stream, dynamic_ncols=True)
            self.bar.update(done - self.bar.n)
            return
        now = time.perf_counter()
        pct = int(100 * done / total) if total else None
        due = now - self._last_line >= 30 or (pct is not None and pct >= self._last_pct + 10)
        if not due and done != total and done != 1:
            return
        self._last_line = now
        if pct is not None:
            self._last_pct = pct - pct % 10
        self._print(done, total, now)

    def _print(self, done: int, total: int | None, now: float) -> None:
        rate = done / max(now - self.t0, 1e-9)
        eta = f", ETA {(total - done) / rate:.0f} s" if total and rate > 0 else ""
        of = f"/{total}" if total else ""
        print(f"frames {done}{of} ({rate:.2f} frames/s{eta})", file=self.stream, flush=True)
        self._printed = (done, total)

    def close(self) -> None:
        """Close the bar; in plain mode make sure the last count was printed."""
        if self.bar is not None:
            self.bar.close()
        elif self._last_done is not None and self._last_done != self._printed:
            self._print(*self._last_done, time.perf_counter())


# ------------------------------------------------------------------------------ commands


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if args.model is not None:
        overrides["model"] = args.model
    runtime = {
        k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v is not None
    }
    if runtime:
        overrides["runtime"] = runtime
    if getattr(args, "mode", None) is not None:
        overrides["tracker"] = {"mode": args.mode}
    if args.formats is not None:
        formats = list(FORMATS) if args.formats == "all" else args.formats.split(",")
        overrides["writers"] = {"formats": [f.strip() for f in formats if f.strip()]}
    return overrides


def cmd_track(args: argparse.Namespace) -> int:
    from segany_video.config import load_config
    from segany_video.readers.reader import open_video
    from segany_video.segmenter import VideoSegmenter

    config = load_config(args.config, args.preset, _overrides(args))
    prompts = build_prompts(args.prompts, args.object_flags)
    out = Path(args.out) if args.out else Path.cwd() / f"{Path(args.input).stem}_segany"
    # Open the input and check the prompts against it before building the engine: loading
    # SAM weights takes seconds to minutes, and a mistyped path should fail at once.
    with open_video(args.input, settings=config.reader) as video:
        prompts.resolve(video.info)
    segmenter = VideoSegmenter(config=config)
    info = segmenter.model.info
    weights = f" ({info.weights})" if info.weights else ""
    print(f"engine: {info.description}{weights}; device: {segmenter.runtime.device}")
    progress = Progress()
    try:
        summary = segmenter.run(
            args.input,
            prompts,
            out,
            start=None if args.start is None else parse_position(args.start, "--start"),
            end=None if args.end is None else parse_position(args.end, "--end"),
            resume=args.resume,
            progress=progress,
            snapshot_every=args.snapshot_every,
        )
    finally:
        progress.close()
    print_summary(summary)
    return 0


def print_summary(summary) -> None:
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


def cmd_info(args: argparse.Namespace) -> int:
    from segany_video.readers.reader import open_video

    with open_video(args.input, backend=args.backend) as video:
        info = video.info
        rows = [
            ("source", info.source),
            ("backend", info.backend),
            ("codec", info.codec),
            ("size", f"{info.width}x{info.height} (after rotation)"),
            ("rotation", f"{info.rotation} degrees"),
            ("fps", f"{info.fps} ({float(info.fps):.3f})"),
            ("frames", "unknown" if info.frame_count is None else str(info.frame_count)),
            ("duration", "unknown" if info.duration is None else f"{info.duration:.3f} s"),
        ]
        first = next(iter(video.batches(1)), None)
        if first is None:
            rows.append(("first frame", "none decodable"))
        else:
            rows.append(("first frame", f"index 0 at {first.timestamps[0]:.3f} s, RGB uint8"))
        if args.count:
            count, last_t = 0, None
            for batch in video.batches(16):
                count += len(batch)
                last_t = float(batch.timestamps[-1])
            rows.append(("decoded", f"{count} frames, last at {last_t:.3f} s"))
    for key, value in rows:
        print(f"{key:12s} {value}")
    return 0


def cmd_forward(module: str, argv: Sequence[str], func: str = "main") -> int:
    return int(getattr(importlib.import_module(module), func)(list(argv)) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video",
        description="Segment and track objects through video (SAM family or classic engine).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)

    track = sub.add_parser("track", help="track prompted objects and write outputs")
    track.add_argument("input", help="video file, URL, or folder of frames")
    track.add_argument("--prompts", help="prompts file (JSON or YAML)")
    track.set_defaults(object_flags=[])
    for kind, metavar, what in (
        ("point", "X,Y[,LABEL][;X,Y[,LABEL]...][@FRAME]", "clicks (label 1 = on, 0 = off)"),
        ("box", "X0,Y0,X1,Y1[@FRAME]", "a box in pixels"),
        ("mask", "PNG[@FRAME]", "a mask image (non-zero = object)"),
    ):
        track.add_argument(
            f"--{kind}",
            dest=kind,
            action=_ObjectFlag,
            metavar=metavar,
            help=f"one more object from {what}; FRAME is an index or a time like 2.5s",
        )
    track.add_argument(
        "--model",
        help="classic (default), sam_vit_b/l/h, mobile_sam, sam2.1_hiera_tiny/small/base_plus/"
        "large, sam2_hiera_..., or a path",
    )
    track.add_argument(
        "--mode",
        choices=("auto", "video", "image"),
        help="video: SAM 2's memory carries objects (default for SAM 2 weights); image: the "
        "engine runs per frame with propagated prompts",
    )
    track.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps")
    track.add_argument("--batch-size", type=int, help="frames per encoder forward")
    track.add_argument("--out", help="output folder (default: ./<input name>_segany)")
    track.add_argument(
        "--formats", help=f"comma list of {','.join(FORMATS)}, or all (default masks,overlay,json)"
    )
    track.add_argument("--start", help="first frame index or time (e.g. 120 or 4.0s)")
    track.add_argument("--end", help="end frame index or time, exclusive")
    track.add_argument("--config", help="YAML config file")
    track.add_argument("--preset", help="sports, surveillance or drone")
    track.add_argument("--resume", action="store_true", help="continue an interrupted run")
    track.add_argument(
        "--snapshot-every",
        type=int,
        default=25,
        metavar="N",
        help="frames between resume snapshots (default 25; smaller loses less work on a crash, "
        "larger writes less)",
    )
    track.set_defaults(func=cmd_track)
    _debug_flag(track)

    info = sub.add_parser("info", help="show what the reader sees in a video")
    info.add_argument("input")
    info.add_argument("--backend", default="auto", choices=("auto", "pyav", "decord", "images"))
    info.add_argument("--count", action="store_true", help="decode every frame and count them")
    info.set_defaults(func=cmd_info)
    _debug_flag(info)

    for name, help_text in (
        ("weights", "list, download, verify SAM weights: weights {list,download,verify,path}"),
        ("eval", "score tracking on a DAVIS-format folder: eval DATA_ROOT [options]"),
        ("score", "score a run's davis/ labels against ground truth: score RUN_OUT TRUTH_DIR"),
        ("bench", f"benchmarks: bench {{{','.join(BENCHES)}}} [options]"),
    ):
        forwarded = sub.add_parser(name, help=help_text, add_help=False)
        forwarded.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _debug_flag(parser: argparse.ArgumentParser) -> None:
    # Also accepted after the command (where people type it); SUPPRESS keeps the top-level
    # value when the flag is not repeated here.
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def _forwarded(command: str, rest: list[str]) -> int:
    if command == "weights":
        return cmd_forward("segany_video.models.weights", rest, "weights_main")
    if command == "eval":
        return cmd_forward("segany_video.evaluation.davis_eval", rest)
    if command == "score":
        return cmd_forward("segany_video.evaluation.label_scores", rest)
    if not rest or rest[0] not in BENCHES:
        raise ConfigError(f"bench needs one of {sorted(BENCHES)}, e.g. segany-video bench io CLIP")
    return cmd_forward(BENCHES[rest[0]], rest[1:])


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse, handing everything after a forwarded command to its own parser untouched.

    argparse's REMAINDER does not take a leading option (``eval --help`` would be refused), so
    forwarded commands are split off by hand.
    """
    head = 0
    while head < len(argv) and argv[head] == "--debug":
        head += 1
    if head < len(argv) and argv[head] in FORWARDED:
        return argparse.Namespace(debug=head > 0, command=argv[head], rest=argv[head + 1 :])
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segany-video`` console script; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command in FORWARDED:
            return _forwarded(args.command, args.rest)
        return args.func(args)
    except KeyboardInterrupt:
        print(
            "segany-video: interrupted; unfinished outputs were removed "
            "(rerun the same command with --resume to continue)",
            file=sys.stderr,
        )
        return 130
    except UserInputError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"segany-video: error: {exc}", file=sys.stderr)
        return 2
    except SegAnyVideoError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"segany-video: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"segany-video: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
