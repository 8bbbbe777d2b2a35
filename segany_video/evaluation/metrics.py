"""The standard DAVIS measures: region similarity J and contour accuracy F.

Written from the definitions in Perazzi et al., "A Benchmark Dataset and Evaluation Methodology
for Video Object Segmentation" (CVPR 2016):

- **J** (region similarity) is the intersection over union of the predicted and true masks.
- **F** (contour accuracy) is the F-measure of the mask boundaries: each boundary is a 1-pixel-wide
  contour map, a boundary pixel counts as matched when the other boundary passes within a tolerance
  of ``ceil(bound_th * image diagonal)`` pixels (a disk), precision is the matched share of the
  predicted boundary, recall the matched share of the true one, and F = 2PR / (P + R).

A sequence is scored on every frame except the first (it carries the prompt) and the last, as the
DAVIS evaluation does; J&F is the mean of the sequence's mean J and mean F. A dataset score is the
mean over sequences (not over frames), so long sequences do not outweigh short ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_BOUND_TH = 0.008


def _as_bool_mask(mask: np.ndarray, what: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{what}: expected a (H, W) mask, got shape {mask.shape}")
    return mask if mask.dtype == bool else mask != 0


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = _as_bool_mask(pred, "prediction")
    gt = _as_bool_mask(gt, "ground truth")
    if pred.shape != gt.shape:
        raise ValueError(
            f"prediction and ground truth differ in size: {pred.shape} vs {gt.shape} (H, W)"
        )
    return pred, gt


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: intersection over union of two masks.

    Args:
        pred: ``(H, W)`` predicted mask, bool (or any dtype; nonzero is foreground).
        gt: ``(H, W)`` ground-truth mask, same size.

    Returns:
        IoU in ``[0, 1]``; 1.0 when both masks are empty (nothing to find, nothing found).
    """
    pred, gt = _check_pair(pred, gt)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel-wide contour of a mask: foreground pixels with a background 4-neighbour.

    The frame border is not a contour: an object cut by the edge of the picture has no boundary
    there (as in the DAVIS evaluation), so pixels outside the image count as foreground.

    Args:
        mask: ``(H, W)`` mask (nonzero is foreground).

    Returns:
        ``(H, W)`` bool contour map.
    """
    mask = _as_bool_mask(mask, "mask")
    padded = np.pad(mask, 1, mode="edge")
    # A pixel is interior when all four neighbours are foreground; edge padding makes the frame
    # border neutral.
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & mask
    return mask & ~interior


def boundary_tolerance(height: int, width: int, bound_th: float = DEFAULT_BOUND_TH) -> int:
    """Match tolerance in pixels: ``bound_th`` >= 1 is taken as pixels, else a diagonal fraction."""
    if bound_th <= 0:
        raise ValueError(f"bound_th must be > 0, got {bound_th}")
    if bound_th >= 1:
        return math.ceil(bound_th)
    return math.ceil(bound_th * math.hypot(height, width))


def _disk(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_f_measure(
    pred: np.ndarray, gt: np.ndarray, bound_th: float = DEFAULT_BOUND_TH
) -> float:
    """F: boundary F-measure of two masks.

    Args:
        pred: ``(H, W)`` predicted mask (nonzero is foreground).
        gt: ``(H, W)`` ground-truth mask, same size.
        bound_th: tolerance as a fraction of the image diagonal (rounded up to whole pixels);
            a value >= 1 is taken directly as pixels.

    Returns:
        F in ``[0, 1]``: 1.0 when both masks are empty, 0.0 when exactly one is.
    """
    pred, gt = _check_pair(pred, gt)
    pred_any, gt_any = pred.any(), gt.any()
    if not pred_any and not gt_any:
        return 1.0
    if pred_any != gt_any:
        return 0.0
    pred_b = boundary_map(pred)
    gt_b = boundary_map(gt)
    n_pred = np.count_nonzero(pred_b)
    n_gt = np.count_nonzero(gt_b)
    if n_pred == 0 and n_gt == 0:  # both masks fill the frame: no contour on either side
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    kernel = _disk(boundary_tolerance(*pred.shape, bound_th))
    gt_near = cv2.dilate(gt_b.view(np.uint8), kernel).view(bool)
    pred_near = cv2.dilate(pred_b.view(np.uint8), kernel).view(bool)
    precision = np.count_nonzero(pred_b & gt_near) / n_pred
    recall = np.count_nonzero(gt_b & pred_near) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class SequenceScores:
    """J and F of one sequence.

    Attributes:
        name: the sequence's name (may be empty).
        j_per_frame: J of every frame, first and last included (for plots and debugging).
        f_per_frame: F of every frame, likewise.
        j_mean: mean J over the scored frames (all but the first and last).
        f_mean: mean F over the scored frames.
        jf_mean: ``(j_mean + f_mean) / 2``.
    """

    name: str
    j_per_frame: tuple[float, ...]
    f_per_frame: tuple[float, ...]
    j_mean: float
    f_mean: float
    jf_mean: float

    @property
    def num_frames(self) -> int:
        return len(self.j_per_frame)


def score_sequence(
    preds: Iterable[np.ndarray],
    gts: Iterable[np.ndarray],
    *,
    name: str = "",
    bound_th: float = DEFAULT_BOUND_TH,
) -> SequenceScores:
    """Score one object through one sequence, one frame at a time (streams both iterables).

    Args:
        preds: ``(H, W)`` predicted masks in frame order (nonzero is foreground).
        gts: ``(H, W)`` ground-truth masks, same count and order.
        name: the sequence's name, carried into the result and error messages.
        bound_th: F tolerance (see :func:`boundary_f_measure`).

    Returns:
        Per-frame J and F, and their means over all frames but the first and last.

    Raises:
        ValueError: the two streams differ in length or frame size, or hold fewer than 3 frames
            (nothing left to score once the first and last are set aside).
    """
    label = f"sequence {name!r}" if name else "sequence"
    j_scores: list[float] = []
    f_scores: list[float] = []
    pred_iter, gt_iter = iter(preds), iter(gts)
    done = object()
    while True:
        pred = next(pred_iter, done)
        gt = next(gt_iter, done)
        if pred is done and gt is done:
            break
        if pred is done or gt is done:
            short = "predictions" if pred is done else "ground truth"
            raise ValueError(
                f"{label}: {short} ended after {len(j_scores)} frames, the other goes on"
            )
        try:
            j_scores.append(region_similarity(pred, gt))
            f_scores.append(boundary_f_measure(pred, gt, bound_th))
        except ValueError as exc:
            raise ValueError(f"{label}, frame {len(j_scores)}: {exc}") from exc
    return sequence_scores(j_scores, f_scores, name=name)


def sequence_scores(
    j_scores: Sequence[float], f_scores: Sequence[float], *, name: str = ""
) -> SequenceScores:
    """Per-frame J and F of one object into its sequence means (first and last frames left out).

    Raises:
        ValueError: the two lists differ in length, or hold fewer than 3 frames.
    """
    label = f"sequence {name!r}" if name else "sequence"
    if len(j_scores) != len(f_scores):
        raise ValueError(f"{label}: {len(j_scores)} J values but {len(f_scores)} F values")
    if len(j_scores) < 3:
        raise ValueError(
            f"{label}: {len(j_scores)} frames; need at least 3 (first and last are not scored)"
        )
    j_mean = float(np.mean(j_scores[1:-1]))
    f_mean = float(np.mean(f_scores[1:-1]))
    return SequenceScores(
        name=name,
        j_per_frame=tuple(j_scores),
        f_per_frame=tuple(f_scores),
        j_mean=j_mean,
        f_mean=f_mean,
        jf_mean=(j_mean + f_mean) / 2,
    )


@dataclass(frozen=True)
class DatasetScores:
    """Means over sequences (each sequence weighs the same, whatever its length)."""

    j_mean: float
    f_mean: float
    jf_mean: float
    num_sequences: int


def mean_over_sequences(scores: Sequence[SequenceScores]) -> DatasetScores:
    """Average per-sequence means into one dataset score.

    Raises:
        ValueError: no sequences given.
    """
    if not scores:
        raise ValueError("no sequence scores to average")
    j_mean = float(np.mean([s.j_mean for s in scores]))
    f_mean = float(np.mean([s.f_mean for s in scores]))
    return DatasetScores(
        j_mean=j_mean, f_mean=f_mean, jf_mean=(j_mean + f_mean) / 2, num_sequences=len(scores)
    )
