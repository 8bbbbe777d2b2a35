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

from collections.abc import Sequence

import numpy as np

from segany_video.tracking.boxes import Box, intersection, on_grid
from segany_video.tracking.settings import TrackerSettings

# Overlaps are measured on every 2nd pixel in both directions: 4x cheaper, and for matching
# whole objects the difference is far below the gaps between good and bad pairs.
SUBSAMPLE = 2


def iou_matrix(
    rows: Sequence[np.ndarray],
    row_boxes: Sequence[Box | None],
    cols: Sequence[np.ndarray],
    col_boxes: Sequence[Box | None],
) -> np.ndarray:
    """IoU of every row mask with every column mask, on every ``SUBSAMPLE``-th pixel each way.

    Only the masks' boxes are read: two masks whose boxes do not meet share no pixel.

    Args:
        rows: ``(H, W)`` bool masks.
        row_boxes: per row mask, a box holding all its pixels (see :func:`.boxes.tight_box`),
            None when it is empty.
        cols: ``(H, W)`` bool masks.
        col_boxes: likewise per column mask.

    Returns:
        ``(R, C)`` float64 IoU; 0 where both masks are empty.
    """
    row_areas = np.array(
        [_area(m, b) for m, b in zip(rows, row_boxes, strict=True)], dtype=np.float64
    )
    col_areas = np.array(
        [_area(m, b) for m, b in zip(cols, col_boxes, strict=True)], dtype=np.float64
    )
    inter = np.zeros((len(rows), len(cols)))
    for r, (row, row_box) in enumerate(zip(rows, row_boxes, strict=True)):
        for c, (col, col_box) in enumerate(zip(cols, col_boxes, strict=True)):
            shared = intersection(row_box, col_box)
            if shared is not None:
                ys, xs = on_grid(shared, SUBSAMPLE)
                inter[r, c] = np.count_nonzero(row[ys, xs] & col[ys, xs])
    union = row_areas[:, None] + col_areas[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 0.0)


def _area(mask: np.ndarray, box: Box | None) -> int:
    return 0 if box is None else int(np.count_nonzero(mask[on_grid(box, SUBSAMPLE)]))


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
    size_ratio: np.ndarray | None = None,
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
        size_ratio: ``(R, C)`` each candidate's area over each track's reference area; a lost
            track is not handed a candidate more than ``refind_area_ratio`` times larger or
            smaller than itself (None: sizes are not checked).

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
    if size_ratio is not None:
        # Colour alone re-finds look-alikes of any size; the object itself keeps its size.
        limit = np.log(settings.refind_area_ratio)
        ruled_out |= lost[:, None] & (np.abs(np.log(np.maximum(size_ratio, 1e-9))) > limit)
    # A followed object may change colour gradually, but a mask that has slid onto something
    # else entirely (background, another object) is refused even when it overlaps.
    ruled_out |= ~lost[:, None] & (colour_distance > settings.follow_appearance_gate)
    return np.where(ruled_out, np.inf, cost)
