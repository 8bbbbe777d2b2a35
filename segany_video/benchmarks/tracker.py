"""Benchmark of the tracking logic alone (motion, prompts, matching, overlaps), without a model.

The engine is replaced by a replay engine that answers each decode with the generated clip's
ground-truth masks (K candidates per prompt, prepared before timing); the time spent inside its
``decode`` is measured and subtracted, so the figure is the tracker's own cost per frame and per
object. Run::

    segany-video bench tracker --size 854x480 --frames 60 --objects 3
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.readers.frames import VideoInfo
from segany_video.runtime.encoded import EncodedFrame
from segany_video.synthetic.clips import make_clip
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker


@dataclass(frozen=True)
class _ReplayFeatures:
    index: int
    size: tuple[int, int]

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.size


class ReplayEngine:
    """Answers prompts with known masks: the object whose mask the prompt's prior covers most.

    Args:
        truth: per frame, ``{object_id: (H, W) bool}``.
        candidates: K, how many candidates each prompt gets (copies of the chosen mask).
    """

    info = EngineInfo("replay", "replay of known masks (benchmark only)")

    def __init__(self, truth: Sequence[dict], candidates: int = 3) -> None:
        self.truth = truth
        self.k = candidates
        self.decode_seconds = 0.0
        self._logits = [
            {
                oid: torch.from_numpy(np.where(m, 10.0, -10.0).astype(np.float32))
                for oid, m in t.items()
            }
            for t in truth
        ]

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def embed(self, frames: torch.Tensor) -> list[_ReplayFeatures]:
        raise NotImplementedError("the benchmark builds features itself")

    def decode(
        self, features: _ReplayFeatures, prompts: Sequence[ObjectPrompt], *, multimask: bool = True
    ) -> MaskCandidates:
        started = time.perf_counter()
        k = self.k if multimask else 1
        truth = self.truth[features.index]
        height, width = features.frame_size
        logits = torch.full((len(prompts), k, height, width), -10.0)
        for n, prompt in enumerate(prompts):
            target = self._pick(prompt, truth)
            if target is not None:
                logits[n, :] = self._logits[features.index][target]
        scores = torch.full((len(prompts), k), 0.9)
        self.decode_seconds += time.perf_counter() - started
        return MaskCandidates(logits, scores)

    @staticmethod
    def _pick(prompt: ObjectPrompt, truth: dict) -> int | str | None:
        if prompt.box is None:
            return None
        x0, y0, x1, y1 = (int(v) for v in prompt.box)
        votes = {oid: int(m[y0:y1, x0:x1].sum()) for oid, m in truth.items()}
        best = max(votes, key=votes.get)
        return best if votes[best] > 0 else None


def run_benchmark(
    size: tuple[int, int],
    frames: int,
    objects: int,
    settings: TrackerSettings,
    seed: int = 0,
    warmup: int = 3,
) -> dict:
    """Track a generated clip with the replay engine; returns timing figures in milliseconds.

    ``warmup`` frames are tracked once, untimed, before the timed run over the whole clip.
    """
    clip = make_clip(seed, num_frames=frames, size=size, num_objects=objects)
    images = [clip.frame(i) for i in range(len(clip))]
    engine = ReplayEngine([clip.masks(i) for i in range(len(clip))])
    width, height = size
    info = VideoInfo("bench", width, height, Fraction(30), frames, None, 0, "png", "images")
    tracker = Tracker(engine, PromptSet.from_dict(clip.prompts()).resolve(info), settings)
    encoded = [
        EncodedFrame(i, i / 30.0, image, _ReplayFeatures(i, (height, width)))
        for i, image in enumerate(images)
    ]
    # One untimed pass over the first frames: OpenCV builds its colour-conversion tables and
    # DIS its buffers on first use (about 0.1 s once per process), which a long clip amortises
    # to nothing but would otherwise weigh on a short benchmark.
    warm = Tracker(engine, PromptSet.from_dict(clip.prompts()).resolve(info), settings)
    for _ in warm.track(encoded[:warmup]):
        pass
    engine.decode_seconds = 0.0
    started = time.perf_counter()
    for _ in tracker.track(encoded):
        pass
    total = time.perf_counter() - started
    own = total - engine.decode_seconds
    return {
        "size": f"{width}x{height}",
        "frames": frames,
        "warmup_frames": warmup,
        "objects": objects,
        "total_ms_per_frame": 1e3 * total / frames,
        "replay_decode_ms_per_frame": 1e3 * engine.decode_seconds / frames,
        "tracker_ms_per_frame": 1e3 * own / frames,
        "tracker_ms_per_frame_per_object": 1e3 * own / frames / objects,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench tracker",
        description="Time the tracker's own logic per frame and object (model excluded).",
    )
    parser.add_argument("--size", default="854x480", help="WIDTHxHEIGHT")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--objects", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--threads", type=int, default=1, help="OpenCV/torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--warmup", type=int, default=3, help="frames tracked untimed first (one-off set-up)"
    )
    parser.add_argument("--flow-preset", choices=("ultrafast", "fast", "medium"), default=None)
    parser.add_argument("--flow-scale", type=float, default=None)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    import cv2

    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    overrides = {}
    if args.flow_preset is not None:
        overrides["flow_preset"] = args.flow_preset
    if args.flow_scale is not None:
        overrides["flow_scale"] = args.flow_scale
    settings = TrackerSettings.from_dict(overrides)
    figures = run_benchmark(
        (width, height), args.frames, args.objects, settings, args.seed, args.warmup
    )
    print(f"flow: {settings.flow_preset} at scale {settings.flow_scale}")
    for key, value in figures.items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
