"""What a DAVIS evaluation reports: per-sequence J, F, J&F and per-frame records."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from segany_video.evaluation.metrics import DatasetScores, SequenceScores
from segany_video.evaluation.statistics import SplitStatistics, split_statistics
from segany_video.results import ObjectResult, TrackState


@dataclass
class FrameTrace:
    """What the tracker said on every frame of one sequence (lists align by frame).

    Attributes:
        scores: the object's score in ``[0, 1]`` (0 when lost).
        states: its state ("prompted", "tracked", "lost", "inactive").
        areas: predicted mask area in pixels.
        true_areas: ground-truth area in pixels.
    """

    scores: list[float]
    states: list[str]
    areas: list[int]
    true_areas: list[int]

    @classmethod
    def empty(cls) -> FrameTrace:
        return cls([], [], [], [])

    def add(self, result: ObjectResult, truth: np.ndarray) -> None:
        """Record one frame: the tracker's result and the ``(H, W)`` bool ground truth."""
        self.scores.append(float(result.score))
        self.states.append(TrackState(result.state).value)
        self.areas.append(int(np.count_nonzero(result.mask)))
        self.true_areas.append(int(np.count_nonzero(truth)))


@dataclass(frozen=True)
class DavisReport:
    """Scores of one evaluation.

    Attributes:
        sequences: per-sequence J, F and J&F (with per-frame J and F).
        mean: the mean over sequences (each sequence weighs the same).
        prompt: how frame 0 was prompted ("mask", "box" or "clicks").
        engine: the engine's description.
        seconds_per_frame: wall time per frame (read + encode + track + score), per sequence.
        traces: per-frame score, state and areas, per sequence.
        split: the named split evaluated ("tuning", "confirmation"), or None.
        stride: every how many frames of each sequence were tracked and scored (1: all).
    """

    sequences: tuple[SequenceScores, ...]
    mean: DatasetScores
    prompt: str
    engine: str
    seconds_per_frame: dict[str, float] = field(default_factory=dict)
    traces: dict[str, FrameTrace] = field(default_factory=dict)
    split: str | None = None
    stride: int = 1

    def per_frame(self, name: str) -> dict[str, list]:
        """Aligned per-frame lists of one sequence: J, F, score, state, area, true_area."""
        scores = next(s for s in self.sequences if s.name == name)
        record: dict[str, list] = {"J": list(scores.j_per_frame), "F": list(scores.f_per_frame)}
        trace = self.traces.get(name)
        if trace is not None:
            record.update(
                score=list(trace.scores),
                state=list(trace.states),
                area=list(trace.areas),
                true_area=list(trace.true_areas),
            )
        return record

    def statistics(self) -> SplitStatistics | None:
        """Area-ratio and score-vs-IoU statistics over every scored frame (None without traces)."""
        if len(self.traces) != len(self.sequences):
            return None
        return split_statistics([self.per_frame(s.name) for s in self.sequences])

    def table(self) -> str:
        """A plain-text table: one row per sequence, then the mean."""
        lines = [f"{'sequence':20s} {'J':>6s} {'F':>6s} {'J&F':>6s} {'s/frame':>8s}"]
        for s in self.sequences:
            speed = self.seconds_per_frame.get(s.name, math.nan)
            lines.append(
                f"{s.name:20s} {s.j_mean:6.3f} {s.f_mean:6.3f} {s.jf_mean:6.3f} {speed:8.2f}"
            )
        m = self.mean
        lines.append(f"{'mean':20s} {m.j_mean:6.3f} {m.f_mean:6.3f} {m.jf_mean:6.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        stats = self.statistics()
        return {
            "split": self.split,
            "stride": self.stride,
            "prompt": self.prompt,
            "engine": self.engine,
            "mean": {"J": self.mean.j_mean, "F": self.mean.f_mean, "JF": self.mean.jf_mean},
            "statistics": None if stats is None else stats.to_dict(),
            "sequences": {
                s.name: {
                    "J": s.j_mean,
                    "F": s.f_mean,
                    "JF": s.jf_mean,
                    "frames": s.num_frames,
                    "seconds_per_frame": self.seconds_per_frame.get(s.name),
                    "per_frame": self.per_frame(s.name),
                }
                for s in self.sequences
            },
        }
