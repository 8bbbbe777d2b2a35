"""Scoring a tracker run on a synthetic clip: identity switches, IoU, and lost-while-hidden."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, TrackState
from segany_video.synthetic.clips import SyntheticClip


def clip_info(clip: SyntheticClip) -> VideoInfo:
    width, height = clip.size
    return VideoInfo(
        "synthetic", width, height, Fraction(clip.fps), len(clip), None, 0, "png", "images"
    )


def clip_triples(clip: SyntheticClip, indices=None):
    indices = range(len(clip)) if indices is None else indices
    return ((i, i / clip.fps, clip.frame(i)) for i in indices)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


@dataclass
class ClipReport:
    switches: int
    mean_iou: float
    state_errors: list[tuple[int, int]]  # (object id, frame) lost/visible disagreements
    min_object_iou: float


def check_run(clip: SyntheticClip, results: list[FrameResult]) -> ClipReport:
    """Compare results to the clip's truth (visible frames, ids, lost exactly while hidden ±2)."""
    switches, ious, per_object, state_errors = 0, [], {}, []
    for result in results:
        truth = clip.masks(result.index)
        for object_id, obj in result.objects.items():
            own = truth[object_id]
            visible = clip.visible(result.index, object_id)
            if obj.mask.any():
                best = max(truth, key=lambda other: iou(obj.mask, truth[other]))
                if best != object_id and iou(obj.mask, truth[best]) > 0.3:
                    switches += 1
            if visible:
                ious.append(iou(obj.mask, own))
                per_object.setdefault(object_id, []).append(ious[-1])
            lost = obj.state in (TrackState.LOST, TrackState.INACTIVE)
            if lost == visible and not _near_change(clip, object_id, result.index, 2):
                state_errors.append((object_id, result.index))
    return ClipReport(
        switches,
        float(np.mean(ious)),
        state_errors,
        min(float(np.mean(v)) for v in per_object.values()),
    )


def _near_change(clip: SyntheticClip, object_id: int, index: int, slack: int) -> bool:
    here = clip.visible(index, object_id)
    lo, hi = max(0, index - slack), min(len(clip) - 1, index + slack)
    return any(clip.visible(i, object_id) != here for i in range(lo, hi + 1))
