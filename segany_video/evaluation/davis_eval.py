"""Semi-supervised DAVIS evaluation of the tracker: prompt frame 0, track, score J, F and J&F.

Each sequence is tracked from a prompt derived from its first-frame ground truth (the mask
itself, its tight box, or a few clicks inside it) and scored with the standard DAVIS measures
(J = IoU, F = boundary F-measure; first and last frames not scored), see
:mod:`segany_video.evaluation.metrics`.

Tracking runs exactly what ``segany-video track`` runs: :class:`VideoSegmenter` reads the
sequence's image folder through the reader, encodes it with the threaded :class:`Runtime` and
tracks it with the tracker, all configured as ``track`` is (``--config``, ``--preset``). Run it
on a split of the development data (``configs/davis2016_split.yaml``) as::

    segany-video eval ../shared/data/davis2016-train --split confirmation --prompt mask

``--stride N`` tracks every Nth frame only, as if the clip ran N times faster: each step then
spans N frames of motion, a stand-in for fast or deforming objects on data that moves slowly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import yaml

from segany_video.config import Config, load_config
from segany_video.errors import ConfigError, PipelineError, VideoOpenError, WriterError
from segany_video.evaluation.davis_data import DavisSequence, list_sequences, open_sequence
from segany_video.evaluation.davis_report import DavisReport, FrameTrace
from segany_video.evaluation.davis_split import SPLITS, load_split
from segany_video.evaluation.metrics import (
    boundary_f_measure,
    mean_over_sequences,
    region_similarity,
    sequence_scores,
)
from segany_video.models.base import PromptableSegmenter
from segany_video.readers.image_folder import list_images
from segany_video.results import ObjectResult, mask_box
from segany_video.runtime.settings import RuntimeSettings
from segany_video.segmenter import VideoSegmenter
from segany_video.tracking.prompt_builder import interior_points
from segany_video.tracking.prompts import KeyframeSpec, ObjectSpec, PromptSet
from segany_video.tracking.settings import TrackerSettings
from segany_video.writers.atomic import atomic_file, write_text_atomically

PROMPT_KINDS = ("mask", "box", "clicks")


def first_frame_prompt(mask: np.ndarray, prompt: str, clicks: int = 3) -> KeyframeSpec:
    """The frame-0 prompt derived from a ground-truth mask.

    Args:
        mask: ``(H, W)`` bool ground truth of frame 0.
        prompt: "mask" (the mask itself), "box" (its tight ``XYXY`` box) or "clicks"
            (``clicks`` positive points spread deep inside it).
        clicks: number of clicks for "clicks".
    """
    if prompt == "mask":
        return KeyframeSpec(frame=0, mask=mask)
    if prompt == "box":
        box = mask_box(mask)
        assert box is not None, "DAVIS first frames always show the object"
        return KeyframeSpec(frame=0, box=tuple(float(v) for v in box))
    if prompt == "clicks":
        points = interior_points(mask, clicks)
        return KeyframeSpec(frame=0, points=[(float(x), float(y), 1) for x, y in points])
    raise ConfigError(f"DAVIS prompt must be one of {PROMPT_KINDS}, got {prompt!r}")


def frame_folder(sequence: DavisSequence) -> Path:
    """The sequence's image folder, checked to hold exactly its frames (what ``track`` reads).

    Raises:
        VideoOpenError: the folder holds other images too, so reading it as a video would not
            give the sequence's frames.
    """
    folder = sequence.frame_paths[0].parent
    if [p.name for p in list_images(folder)] != [p.name for p in sequence.frame_paths]:
        raise VideoOpenError(
            f"DAVIS sequence {sequence.name!r}: {folder} holds images other than its frames; "
            "it cannot be read as the sequence's video"
        )
    return folder


@contextmanager
def _strided_folder(sequence: DavisSequence, stride: int) -> Iterator[Path]:
    """A folder of every ``stride``-th frame of the sequence, in order, for the reader.

    With stride 1 that is the sequence's own folder (see :func:`frame_folder`); otherwise the
    frames are linked into a temporary folder (copied where links cannot be made), removed
    afterwards.
    """
    if stride == 1:
        yield frame_folder(sequence)
        return
    with tempfile.TemporaryDirectory(prefix="segany-eval-") as temporary:
        for index, path in enumerate(sequence.every(stride).frame_paths):
            link = Path(temporary) / f"{index:05d}{path.suffix}"
            try:
                link.symlink_to(path.resolve())
            except OSError:
                shutil.copyfile(path, link)
        yield Path(temporary)


def track_sequence(
    sequence: DavisSequence,
    segmenter: VideoSegmenter,
    prompt: str,
    clicks: int,
    max_frames: int | None,
    stride: int = 1,
) -> Iterator[ObjectResult]:
    """Track the sequence's object as ``segany-video track`` would, on every ``stride``-th
    frame; yield its result per tracked frame (at most ``max_frames`` of them)."""
    first = sequence.mask(0)
    spec = PromptSet([ObjectSpec(1, sequence.name, [first_frame_prompt(first, prompt, clicks)])])
    tracked = len(sequence.every(stride))
    end = max_frames if max_frames is not None and max_frames < tracked else None
    with _strided_folder(sequence, stride) as folder:
        for result in segmenter.track(folder, spec, end=end):
            yield result.objects[1]


def segmenter_for(
    model: PromptableSegmenter | VideoSegmenter, settings: TrackerSettings | None = None
) -> VideoSegmenter:
    """A :class:`VideoSegmenter` around an engine, on the engine's device and thread count."""
    if isinstance(model, VideoSegmenter):
        if settings is not None:
            raise ConfigError("give tracker settings in the VideoSegmenter's config, not both")
        return model
    runtime = RuntimeSettings(device=str(model.device), num_threads=torch.get_num_threads())
    config = Config(runtime=runtime, tracker=settings or TrackerSettings())
    return VideoSegmenter(model, config=config)


def evaluate_davis(
    root: str | Path,
    model: PromptableSegmenter | VideoSegmenter,
    settings: TrackerSettings | None = None,
    prompt: str = "mask",
    clicks: int = 3,
    sequences: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    max_frames: int | None = None,
    split: str | None = None,
    stride: int = 1,
) -> DavisReport:
    """Track and score DAVIS sequences through the shipped runtime and tracker.

    Args:
        root: a DAVIS-format folder (see :mod:`segany_video.evaluation.davis_data`).
        model: the engine (run with ``settings`` on its own device), or a configured
            :class:`VideoSegmenter` (run as configured, like ``track``).
        settings: tracker settings for a bare engine (defaults when None).
        prompt: "mask", "box" or "clicks" on frame 0 (from the ground truth).
        clicks: clicks for ``prompt="clicks"``.
        sequences: names to evaluate (all when None).
        out_dir: when given, predicted masks are written as ``out_dir/<seq>/<frame>.png``
            (0/255, DAVIS 2016 style), each under a temporary name until complete.
        max_frames: score only the first N frames of each sequence (for cheap checks).
        split: the split's name, recorded in the report.
        stride: track and score every ``stride``-th frame only (the clip ``stride`` times
            faster); recorded in the report.

    Returns:
        The per-sequence and mean scores, with per-frame score, state and areas.
    """
    if prompt not in PROMPT_KINDS:
        raise ConfigError(f"DAVIS prompt must be one of {PROMPT_KINDS}, got {prompt!r}")
    if stride < 1:
        raise ConfigError(f"stride must be at least 1 (got {stride})")
    segmenter = segmenter_for(model, settings)
    names = list(sequences) if sequences else list_sequences(root)
    scores, speeds, traces = [], {}, {}
    for name in names:
        whole = open_sequence(root, name)
        sequence = whole.every(stride)
        count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
        writer = None if out_dir is None else _MaskWriter(Path(out_dir) / name, sequence)
        j, f, trace = [], [], FrameTrace.empty()
        started = time.perf_counter()
        for index, result in enumerate(
            track_sequence(whole, segmenter, prompt, clicks, max_frames, stride)
        ):
            truth = sequence.mask(index)
            j.append(region_similarity(result.mask, truth))
            f.append(boundary_f_measure(result.mask, truth))
            trace.add(result, truth)
            if writer is not None:
                writer.write(index, result.mask)
        if len(j) != count:
            raise PipelineError(f"sequence {name!r}: tracked {len(j)} of {count} frames")
        scores.append(sequence_scores(j, f, name=name))
        speeds[name] = (time.perf_counter() - started) / count
        traces[name] = trace
    return DavisReport(
        tuple(scores),
        mean_over_sequences(scores),
        prompt,
        segmenter.model.info.description,
        speeds,
        traces,
        split,
        stride,
    )


class _MaskWriter:
    """Writes predicted masks as 0/255 PNGs named like their frames, each atomically."""

    def __init__(self, folder: Path, sequence: DavisSequence) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.sequence = folder, sequence

    def write(self, index: int, mask: np.ndarray) -> None:
        final = self.folder / f"{self.sequence.frame_paths[index].stem}.png"
        ok, data = cv2.imencode(".png", mask.astype(np.uint8) * 255)
        if not ok:
            raise WriterError(f"cannot encode the mask of {final} as PNG")
        with atomic_file(final) as f:
            f.write(data.tobytes())


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options that configure a run as ``track``'s do (see :func:`run_config`)."""
    parser.add_argument("--config", type=Path, help="YAML config file, as for track")
    parser.add_argument("--preset", help="a bundled preset, as for track")
    parser.add_argument("--model", help="engine name or checkpoint path (default: the config's)")
    parser.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: the config's)")
    parser.add_argument("--settings", type=Path, help="YAML/JSON file of tracker settings")


def add_sequence_options(parser: argparse.ArgumentParser) -> None:
    """ROOT and which of its sequences to run: a named split, some names, or all of them."""
    parser.add_argument("root", type=Path, help="DAVIS-format folder (one object a sequence)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--split", choices=SPLITS, help="a split of configs/davis2016_split.yaml")
    which.add_argument("--sequences", nargs="*", help="names (default: all)")
    parser.add_argument("--split-file", type=Path, help="another split file of the same form")


def add_prompt_options(parser: argparse.ArgumentParser, clicks: bool = True) -> None:
    """How frame 0 is prompted from the ground truth: ``--prompt`` (and ``--clicks``)."""
    parser.add_argument("--prompt", choices=PROMPT_KINDS, default="mask")
    if clicks:
        parser.add_argument("--clicks", type=int, default=3, help="clicks for --prompt clicks")


def _stride(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def add_stride_option(parser: argparse.ArgumentParser) -> None:
    """``--stride N``: track and score every Nth frame only (the clip N times faster)."""
    parser.add_argument(
        "--stride",
        type=_stride,
        default=1,
        help="track every Nth frame only: the clip N times faster (default 1)",
    )


def chosen_sequences(args: argparse.Namespace) -> list[str]:
    """The sequence names :func:`add_sequence_options`' options select."""
    if args.split is not None:
        return load_split(args.split, args.split_file)
    return list(args.sequences) if args.sequences else list_sequences(args.root)


def run_config(args: argparse.Namespace) -> Config:
    """The run's config from :func:`add_run_options`' options, layered as ``track`` does."""
    overrides: dict[str, Any] = {}
    if args.model is not None:
        overrides["model"] = args.model
    if args.device is not None:
        overrides["runtime"] = {"device": args.device}
    if args.settings is not None:
        try:
            overrides["tracker"] = yaml.safe_load(args.settings.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read tracker settings {args.settings}: {exc}") from exc
    return load_config(args.config, args.preset, overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video eval",
        description="Track DAVIS sequences from a frame-0 prompt, as `track` runs, and report "
        "J, F and J&F per sequence, area-ratio and score-vs-IoU statistics.",
    )
    add_sequence_options(parser)
    add_prompt_options(parser)
    parser.add_argument("--max-frames", type=int, default=None)
    add_stride_option(parser)
    add_run_options(parser)
    parser.add_argument("--out", type=Path, help="write predicted PNGs here")
    parser.add_argument("--json", type=Path, help="write the report (with per-frame records)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``segany-video eval ROOT [--split tuning|confirmation] [--prompt mask|box|clicks] ...``."""
    args = build_parser().parse_args(argv)
    if args.max_frames is not None and args.max_frames < 3:
        raise ConfigError(f"--max-frames must be at least 3 (got {args.max_frames})")
    names = chosen_sequences(args)
    segmenter = VideoSegmenter(config=run_config(args))
    report = evaluate_davis(
        args.root,
        segmenter,
        prompt=args.prompt,
        clicks=args.clicks,
        sequences=names,
        out_dir=args.out,
        max_frames=args.max_frames,
        split=args.split,
        stride=args.stride,
    )
    where = f"split: {args.split}; " if args.split else ""
    if args.stride > 1:
        where += f"stride: {args.stride}; "
    print(f"engine: {report.engine}; {where}prompt: {report.prompt}")
    print(report.table())
    stats = report.statistics()
    if stats is not None:
        print("\n".join(stats.lines()))
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
