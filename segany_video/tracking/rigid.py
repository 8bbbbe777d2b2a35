"""An object that moves as one piece, carried by one similarity transform.

Dense optical flow is smoothed across an object's outline, so a warped mask slides a little
each frame, and the tracker blurs it by as much as the object moves before colour decides.
An object that moves as one piece (a boat, a car, a paraglider) is carried exactly by one
similarity (shift, rotation, scale) fitted to corner points tracked inside it: pyramidal
Lucas-Kanade, kept when the backward track returns to its start, then RANSAC. That warp
replaces the flow's where it explains the object's own pixels better: the mean grey
difference between this frame and the previous one sampled along each motion, over the
pixels each puts the object on. A body that bends (a dancer, a bird) is explained better by
the flow and keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segany_video.tracking.boxes import Box
from segany_video.tracking.motion import FlowField

# Corner points sought inside the object, and the fewest that must survive the checks.
_MAX_POINTS = 300
_MIN_POINTS = 12
_CORNER_QUALITY = 0.005
_CORNER_SPACING = 4
# Lucas-Kanade window and pyramid levels; a point whose backward track ends further than this
# many pixels from where it started is dropped.
_WINDOW = (21, 21)
_LEVELS = 4
_ROUND_TRIP = 1.0
# RANSAC inlier distance in pixels, and the least share of the points the fit must explain.
_INLIER_PX = 2.0
_MIN_INLIERS = 0.5


@dataclass(frozen=True)
class RigidWarp:
    """A previous mask carried to this frame by one similarity.

    Attributes:
        soft: ``(H, W)`` float32 in ``[0, 1]``, zero outside ``box``.
        box: ``XYXY`` box holding every non-zero pixel of ``soft``.
    """

    soft: np.ndarray
    box: Box


def similarity(
    previous: np.ndarray, current: np.ndarray, mask: np.ndarray, box: Box, reach: int
) -> np.ndarray | None:
    """The similarity carrying the object's corner points from ``previous`` to ``current``.

    Args:
        previous, current: ``(H, W)`` uint8 grey frames.
        mask: ``(H, W)`` bool, the object on ``previous``; ``box`` its tight box.
        reach: how far (pixels) a point may have moved: the crop read around ``box``.

    Returns:
        ``(2, 3)`` float64 in frame coordinates, or None when too few points track or agree.
    """
    height, width = mask.shape
    margin = reach + _WINDOW[0]
    x0, y0 = max(0, box[0] - margin), max(0, box[1] - margin)
    x1, y1 = min(width, box[2] + margin), min(height, box[3] + margin)
    before, after = previous[y0:y1, x0:x1], current[y0:y1, x0:x1]
    inside = mask[y0:y1, x0:x1].astype(np.uint8)
    points = cv2.goodFeaturesToTrack(
        before, _MAX_POINTS, _CORNER_QUALITY, _CORNER_SPACING, mask=inside
    )
    if points is None or len(points) < _MIN_POINTS:
        return None
    lk = {"winSize": _WINDOW, "maxLevel": _LEVELS}
    ahead, found, _ = cv2.calcOpticalFlowPyrLK(before, after, points, None, **lk)
    back, found_back, _ = cv2.calcOpticalFlowPyrLK(after, before, ahead, None, **lk)
    round_trip = np.linalg.norm((back - points).reshape(-1, 2), axis=1)
    good = (found.ravel() == 1) & (found_back.ravel() == 1) & (round_trip < _ROUND_TRIP)
    if good.sum() < _MIN_POINTS:
        return None
    transform, inliers = cv2.estimateAffinePartial2D(
        points[good], ahead[good], method=cv2.RANSAC, ransacReprojThreshold=_INLIER_PX
    )
    if transform is None or inliers.sum() < _MIN_INLIERS * good.sum():
        return None
    # Fitted in crop coordinates: x_frame' = A (x_frame - o) + t + o.
    offset = np.array([x0, y0], dtype=np.float64)
    transform = transform.astype(np.float64)
    transform[:, 2] += offset - transform[:, :2] @ offset
    return transform


def rigid_warp(
    previous: np.ndarray,
    current: np.ndarray,
    mask: np.ndarray,
    box: Box,
    flow: FlowField,
    warped: np.ndarray,
    support: Box,
) -> RigidWarp | None:
    """The previous mask carried by one similarity, when it explains the object better.

    Args:
        previous, current: ``(H, W)`` uint8 grey frames.
        mask: ``(H, W)`` bool, the object on ``previous``; ``box`` its tight box.
        flow: this frame's flow; ``warped`` its soft warp of ``mask``, zero outside ``support``.

    Returns:
        The similarity's warp, or None where the flow's stands (too few points, or the flow
        explains the object's pixels at least as well).
    """
    transform = similarity(previous, current, mask, box, flow.reach)
    if transform is None:
        return None
    height, width = mask.shape
    corners = np.array(
        [[box[0], box[1]], [box[2], box[1]], [box[0], box[3]], [box[2], box[3]]], np.float64
    )
    moved = corners @ transform[:, :2].T + transform[:, 2]
    low = np.floor(moved.min(axis=0)).astype(int) - 1
    high = np.ceil(moved.max(axis=0)).astype(int) + 1
    x0, y0 = max(0, int(low[0])), max(0, int(low[1]))
    x1, y1 = min(width, int(high[0])), min(height, int(high[1]))
    if x1 <= x0 or y1 <= y0:
        return None
    local = transform.copy()
    local[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    # The mask is zero outside its box: only the box is read (and cast), shifted into place.
    source = mask[box[1] : box[3], box[0] : box[2]].astype(np.float32)
    from_box = local.copy()
    from_box[:, 2] += from_box[:, :2] @ np.array(box[:2], dtype=np.float64)
    carried = cv2.warpAffine(source, from_box, size, flags=cv2.INTER_LINEAR)
    on = carried > 0.5
    if not on.any():
        return None
    predicted = cv2.warpAffine(
        previous, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    rigid_error = _mean_difference(current[y0:y1, x0:x1], predicted, on)
    fx0, fy0, fx1, fy1 = support
    flow_on = warped[fy0:fy1, fx0:fx1] > 0.5
    if flow_on.any():
        pulled = flow.sample_previous(previous, support)
        if _mean_difference(current[fy0:fy1, fx0:fx1], pulled, flow_on) <= rigid_error:
            return None
    soft = np.zeros(mask.shape, dtype=np.float32)
    soft[y0:y1, x0:x1] = carried
    return RigidWarp(soft, (x0, y0, x1, y1))


def _mean_difference(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    return float(np.abs(a[where].astype(np.float32) - b[where].astype(np.float32)).mean())
