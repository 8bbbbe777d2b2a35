"""Full-resolution boundary refinement of a mask cut at reduced resolution.

Bilinear upsampling of a coarse mask gives a boundary that ignores the image. A guided filter
(He, Sun and Tang, "Guided Image Filtering", ECCV 2010) fits the upsampled mask locally as a
linear function of the full-resolution luma, so within each window the soft mask follows the
edges of the frame; thresholding it at 0.5 snaps the boundary onto them. It costs a few box
filters over the crop, linear in its pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.models.classic.trimap import WorkRegion
from segany_video.results import tight_box


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``source`` steered by ``guide``.

    Args:
        guide: ``(h, w)`` float32 in ``[0, 1]``.
        source: ``(h, w)`` float32.
        radius: window radius in pixels (>= 1).
        eps: regulariser; flat windows (variance << eps) are just averaged.

    Returns:
        ``(h, w)`` float32.
    """
    mean_guide = _box(guide, radius)
    mean_source = _box(source, radius)
    covariance = _box(guide * source, radius) - mean_guide * mean_source
    variance = _box(guide * guide, radius) - mean_guide * mean_guide
    slope = covariance / (variance + eps)
    offset = mean_source - slope * mean_guide
    return _box(slope, radius) * guide + _box(offset, radius)


def upsample_mask(
    work_mask: np.ndarray,
    region: WorkRegion,
    guide: np.ndarray,
    radius: int,
    eps: float,
) -> np.ndarray:
    """Bring a work-resolution mask back to the source crop, snapped to full-resolution edges.

    Args:
        work_mask: ``(h, w)`` bool or float in ``[0, 1]`` at :attr:`WorkRegion.work_size`.
        region: where the crop lies in the source frame.
        guide: ``(H, W)`` float32 luma of the whole source frame.
        radius: base guided-filter radius in source pixels; widened by the upsampling factor
            so the window spans a few work pixels, narrowed to a quarter of the object's
            shorter side so small objects survive. 0 means bilinear only.
        eps: guided-filter regulariser.

    Returns:
        ``(y1 - y0, x1 - x0)`` float32 foreground probability in ``[0, 1]``.
    """
    size = (region.x1 - region.x0, region.y1 - region.y0)
    soft = cv2.resize(work_mask.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    box = tight_box(work_mask)
    if radius == 0 or box is None:
        return soft
    # A window much wider than the object would average a small object away in a flat area:
    # keep it within a quarter of the object's shorter side.
    shorter_side = min(box[3] - box[1], box[2] - box[0]) / region.scale
    window = min(radius + round(1.0 / region.scale), max(1, round(0.25 * shorter_side)))
    crop = np.ascontiguousarray(guide[region.y0 : region.y1, region.x0 : region.x1])
    refined = guided_filter(crop, soft, window, eps)
    # In flat windows the guided filter degenerates into a blur, which moves no boundary onto
    # an edge but can erase thin or small parts: there, keep the plain upsampled mask.
    mean = _box(crop, window)
    variance = _box(crop * crop, window) - mean * mean
    edginess = variance / (variance + eps)
    return np.clip(edginess * refined + (1.0 - edginess) * soft, 0.0, 1.0)
