"""The cost of giving a candidate mask to a track: motion overlap, predicted quality, colour.

Rows are tracks, columns are all candidate masks of the frame (K per decoded prompt). Costs are
``iou_weight * (1 - min(IoU / iou_saturation, 1)) + quality_weight * (1 - quality)
+ appearance_weight * colour distance + rank_weight * rank / (K - 1)``
where IoU is measured against the track's expected mask on this frame (its motion-warped mask
when followed, the appearance-search region when lost). Impossible pairs cost ``inf``.

Why the IoU saturates: the expected mask is itself one of the engine's inputs (the classic
engine even returns the prior as given as its last candidate), so raw IoU always favours
echoing the prediction back. Above ``iou_saturation`` a candidate agrees with motion as well as
any, and the engine's own order (its rank: the classic engine's graph cut first, whose
boundary follows the image) decides.
"""

from __future__ import annotations

import numpy as np

from segany_video.tracking.settings import TrackerSettings

# Overlaps are measured on every 2nd pixel in both directions: 4x cheaper, and for matching
# whole objects the difference is far below the gaps between good and bad pairs.
SUBSAMPLE = 2


def subsample(masks: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` bool -> ``(N, h*w)`` float32 on every ``SUBSAMPLE``-th pixel."""
    small = masks[:, ::SUBSAMPLE, ::SUBSAMPLE]
    return small.reshape(small.shape[0], -1).astype(np.float32)


def iou_matrix(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """IoU of every row mask with every column mask.

    Args:
        rows: ``(R, P)`` float32 0/1 flattened masks (see :func:`subsample`).
        cols: ``(C, P)`` float32 0/1 flattened masks.

    Returns:
        ``(R, C)`` float64 IoU; 0 where both masks are empty.
    """
    if rows.shape[0] == 0 or cols.shape[0] == 0:
        return np.zeros((rows.shape[0], cols.shape[0]))
    inter = (rows @ cols.T).astype(np.float64)
    union = rows.sum(1, dtype=np.float64)[:, None] + cols.sum(1, dtype=np.float64)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)


def hellinger_matrix(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Hellinger distance between ``(R, D)`` and ``(C, D)`` normalised histograms -> ``(R, C)``.

    An empty histogram (all zero) is at distance 1 from everything.
    """
    overlap = np.sqrt(rows) @ np.sqrt(cols).T
    distance = np.sqrt(np.clip(1.0 - overlap, 0.0, 1.0))
    empty = (rows.sum(1) <= 0)[:, None] | (cols.sum(1) <= 0)[None, :]
    return np.where(empty, 1.0, distance)


def association_cost(
    iou: np.ndarray,
    quality: np.ndarray,
    colour_distance: np.ndarray,
    lost: np.ndarray,
    settings: TrackerSettings,
    rank: np.ndarray | None = None,
) -> np.ndarray:
    """Combine the cues into a cost matrix.

    Args:
        iou: ``(R, C)`` IoU of each candidate with each track's expected mask.
        quality: ``(C,)`` predicted quality in ``[0, 1]``.
        colour_distance: ``(R, C)`` Hellinger distance to each track's colour model.
        lost: ``(R,)`` bool, rows of lost tracks (re-acquired only by a close colour match;
            followed tracks get the looser ``follow_appearance_gate``).
        settings: weights and gates.
        rank: ``(R, C)`` or ``(C,)``, each candidate's place in its prompt's list scaled to
            ``[0, 1]`` (0 = the engine's first choice), per track; None treats all alike.

    Returns:
        ``(R, C)`` float64 costs, ``inf`` where a pair is ruled out.
    """
    agreement = np.minimum(iou / settings.iou_saturation, 1.0)
    cost = (
        settings.iou_weight * (1.0 - agreement)
        + settings.quality_weight * (1.0 - np.clip(quality, 0.0, 1.0))[None, :]
        + settings.appearance_weight * colour_distance
    )
    if rank is not None:
        cost = cost + settings.rank_weight * np.broadcast_to(rank, cost.shape)
    ruled_out = iou < settings.min_iou
    ruled_out |= lost[:, None] & (colour_distance > settings.appearance_gate)
    # A followed object may change colour gradually, but a mask that has slid onto something
    # else entirely (background, another object) is refused even when it overlaps.
    ruled_out |= ~lost[:, None] & (colour_distance > settings.follow_appearance_gate)
    return np.where(ruled_out, np.inf, cost)
