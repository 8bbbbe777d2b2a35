"""Semi-supervised DAVIS evaluation of the tracker: prompt frame 0, track, score J, F and J&F.

Each sequence is tracked from a prompt derived from its first-frame ground truth (the mask
itself, its tight box, or a few clicks inside it) and scored with the standard DAVIS measures
(J = IoU, F = boundary F-measure; first and last frames not scored), see
:mod:`segany_video.evaluation.metrics`. Run it as::

    segany-video eval ../shared/data/davis2016-train --prompt mask
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import ConfigError, WriterError
from segany_video.evaluation.davis_data import DavisSequence, list_sequences, open_sequence
from segany_video.evaluation.metrics import (
    DatasetScores,
    SequenceScores,
    mean_over_sequences,
    score_sequence,
)
from segany_video.models.base import PromptableSegmenter
from segany_video.readers.frames import VideoInfo
from segany_video.results import mask_box
from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.prompt_builder import interior_points
from segany_video.tracking.prompts import KeyframeSpec, ObjectSpec, PromptSet
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker
from segany_video.writers.atomic import write_text_atomically

PROMPT_KINDS = ("mask", "box", "clicks")
_DAVIS_FPS = Fraction(24)  # DAVIS frames carry no timestamps; 24 fps is the dataset's rate


@dataclass(frozen=True)
class DavisReport:
    """Scores of one evaluation.

    Attributes:
        sequences: per-sequence J, F and J&F.
        mean: the mean over sequences (each sequence weighs the same).
        prompt: how frame 0 was prompted ("mask", "box" or "clicks").
        engine: the engine's description.
        seconds_per_frame: wall time per frame (decode + tracking + scoring), per sequence.
    """

    sequences: tuple[SequenceScores, ...]
    mean: DatasetScores
    prompt: str
    engine: str
    seconds_per_frame: dict[str, float] = field(default_factory=dict)

    def table(self) -> str:
        """A plain-text table: one row per sequence, then the mean."""
        lines = [f"{'sequence':20s} {'J':>6s} {'F':>6s} {'J&F':>6s} {'s/frame':>8s}"]
        for s in self.sequences:
            speed = self.seconds_per_frame.get(s.name, float("nan"))
            lines.append(
                f"{s.name:20s} {s.j_mean:6.3f} {s.f_mean:6.3f} {s.jf_mean:6.3f} {speed:8.2f}"
            )
        m = self.mean
        lines.append(f"{'mean':20s} {m.j_mean:6.3f} {m.f_mean:6.3f} {m.jf_mean:6.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "prompt": self.prompt,
            "engine": self.engine,
            "mean": {"J": self.mean.j_mean, "F": self.mean.f_mean, "JF": self.mean.jf_mean},
            "sequences": {
                s.name: {
                    "J": s.j_mean,
                    "F": s.f_mean,
                    "JF": s.jf_mean,
                    "frames": s.num_frames,
                    "seconds_per_frame": self.seconds_per_frame.get(s.name),
                }
                for s in self.sequences
            },
        }


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


def track_sequence(
    sequence: DavisSequence,
    model: PromptableSegmenter,
    settings: TrackerSettings | None,
    prompt: str,
    clicks: int,
    max_frames: int | None,
) -> Iterator[np.ndarray]:
    """Yield the predicted ``(H, W)`` bool mask of each frame, tracking as it goes."""
    count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
    first = sequence.mask(0)
    height, width = first.shape
    info = VideoInfo(sequence.name, width, height, _DAVIS_FPS, count, None, 0, "jpeg", "images")
    spec = PromptSet([ObjectSpec(1, sequence.name, [first_frame_prompt(first, prompt, clicks)])])
    tracker = Tracker(model, spec.resolve(info), settings)
    frames = ((i, i / float(_DAVIS_FPS), sequence.frame(i)) for i in range(count))
    for result in tracker.track(encode_sequentially(model, frames)):
        yield result.objects[1].mask


def evaluate_davis(
    root: str | Path,
    model: PromptableSegmenter,
    settings: TrackerSettings | None = None,
    prompt: str = "mask",
    clicks: int = 3,
    sequences: Sequence[str] | None = None,
    out_dir: str | Path | None = None,
    max_frames: int | None = None,
) -> DavisReport:
    """Track and score DAVIS sequences.

    Args:
        root: a DAVIS-format folder (see :mod:`segany_video.evaluation.davis_data`).
        model: the engine.
        settings: tracker settings (defaults when None).
        prompt: "mask", "box" or "clicks" on frame 0 (from the ground truth).
        clicks: clicks for ``prompt="clicks"``.
        sequences: names to evaluate (all when None).
        out_dir: when given, predicted masks are written as ``out_dir/<seq>/<frame>.png``
            (0/255, DAVIS 2016 style), each under a temporary name until complete.
        max_frames: score only the first N frames of each sequence (for cheap checks).

    Returns:
        The per-sequence and mean scores.
    """
    if prompt not in PROMPT_KINDS:
        raise ConfigError(f"DAVIS prompt must be one of {PROMPT_KINDS}, got {prompt!r}")
    names = list(sequences) if sequences else list_sequences(root)
    scores, speeds = [], {}
    for name in names:
        sequence = open_sequence(root, name)
        count = len(sequence) if max_frames is None else min(len(sequence), max_frames)
        predictions = track_sequence(sequence, model, settings, prompt, clicks, max_frames)
        if out_dir is not None:
            predictions = _written(predictions, Path(out_dir) / name, sequence)
        started = time.perf_counter()
        truth = (sequence.mask(i) for i in range(count))
        scores.append(score_sequence(predictions, truth, name=name))
        speeds[name] = (time.perf_counter() - started) / count
    return DavisReport(
        tuple(scores), mean_over_sequences(scores), prompt, model.info.description, speeds
    )


def _written(masks: Iterator[np.ndarray], folder: Path, sequence: DavisSequence):
    """Pass masks through, writing each as a 0/255 PNG named like its frame."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, mask in enumerate(masks):
        final = folder / f"{sequence.frame_paths[index].stem}.png"
        partial = final.with_name(f".{final.stem}.partial.png")
        if not cv2.imwrite(str(partial), mask.astype(np.uint8) * 255):
            raise WriterError(f"cannot write {partial}: check the folder is writable")
        os.replace(partial, final)
        yield mask


def main(argv: Sequence[str] | None = None) -> int:
    """``segany-video eval ROOT [--prompt mask|box|clicks] ...``."""
    parser = argparse.ArgumentParser(
        prog="segany-video eval",
        description="Track DAVIS sequences from a frame-0 prompt and report J, F and J&F.",
    )
    parser.add_argument("root", type=Path, help="DAVIS-format folder")
    parser.add_argument("--model", default="classic", help="engine name or checkpoint path")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--prompt", choices=PROMPT_KINDS, default="mask")
    parser.add_argument("--clicks", type=int, default=3)
    parser.add_argument("--sequences", nargs="*", help="names (default: all)")
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--settings", type=Path, help="YAML/JSON file of tracker settings")
    parser.add_argument("--out", type=Path, help="write predicted PNGs here")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    args = parser.parse_args(argv)

    from segany_video.models.registry import build_model

    settings = None
    if args.settings is not None:
        import yaml

        settings = TrackerSettings.from_dict(yaml.safe_load(args.settings.read_text()) or {})
    model = build_model(args.model, args.device)
    report = evaluate_davis(
        args.root,
        model,
        settings,
        prompt=args.prompt,
        clicks=args.clicks,
        sequences=args.sequences,
        out_dir=args.out,
        max_frames=args.max_frames,
    )
    print(f"engine: {report.engine}; prompt: {report.prompt}")
    print(report.table())
    if args.json is not None:
        write_text_atomically(args.json, json.dumps(report.to_dict(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
