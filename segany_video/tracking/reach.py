"""What a followed object's new mask may contain: only what motion and connectivity allow.

A frame-by-frame segmenter driven by a propagated prompt can leak into look-alike
surroundings (sky, water, a banner of the object's colour). Two leaks feed themselves from
frame to frame once accepted, so they are cut before a mask becomes the track's state:

* growth beyond where motion can carry the object in one frame (:func:`within_reach`);
* parts detached from the object's body: a blob that broke off a leak (or was picked up on
  colour alone) is carried along by the flow forever after, far from the object
  (:func:`drop_detached`). A far part that moves as the body does is kept: an occluder split
  it off (a post in front of a walker), or the object is made of parts (a paraglider).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from segany_video.tracking.boxes import Box, tight_box


def within_reach(
    mask: np.ndarray, expected: np.ndarray, growth: float, within: Box | None = None
) -> np.ndarray:
    """Keep only the part of ``mask`` within ``growth * sqrt(area)`` pixels of ``expected``.

    An object cannot spread further in one frame than its motion allows; a segmenter that
    leaks into similar-looking surroundings (sky, water) is cut back to that reach instead of
    feeding the leak into the next frame's prompt. ``growth <= 0`` disables the limit.

    Args:
        mask: ``(H, W)`` bool candidate.
        expected: ``(H, W)`` bool mask the track was expected to have on this frame.
        growth: reach as a fraction of the expected mask's ``sqrt(area)``.
        within: a box holding every pixel of ``expected`` (None: the whole frame).

    Returns:
        ``(H, W)`` bool, a subset of ``mask``.
    """
    box = tight_box(expected, within)
    if growth <= 0 or box is None:
        return mask
    area = np.count_nonzero(expected[box[1] : box[3], box[0] : box[2]])
    reach = max(3, int(growth * np.sqrt(area)))
    height, width = mask.shape
    x0, y0 = max(0, box[0] - reach), max(0, box[1] - reach)
    x1, y1 = min(width, box[2] + reach), min(height, box[3] + reach)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    allowed = cv2.dilate(expected[y0:y1, x0:x1].astype(np.uint8), kernel) > 0
    # Nothing outside the dilated crop is allowed: only the crop is copied.
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = mask[y0:y1, x0:x1] & allowed
    return out


def drop_detached(
    mask: np.ndarray,
    gap: float,
    within: Box | None = None,
    moves_with_body: Callable[[np.ndarray, int, Box], np.ndarray] | None = None,
) -> np.ndarray:
    """Remove the parts of ``mask`` further than ``gap * sqrt(area)`` from its largest part.

    The largest 8-connected part is the object's body; a part within the gap (a hand
    separated by a thin occluder, the far side of a racket) is kept, one beyond it is not.
    ``gap <= 0`` disables the rule.

    Args:
        mask: ``(H, W)`` bool.
        gap: largest distance of a kept part, as a fraction of the body's ``sqrt(area)``.
        within: a box holding every pixel of ``mask`` (None: the whole frame).
        moves_with_body: given the crop's part labels, the body's label and the crop's box,
            which labels move as the body does (see :class:`.motion_cue.PartMotion`); those are
            kept at any distance: an occluder split them off, not a leak.

    Returns:
        ``(H, W)`` bool, a subset of ``mask`` (the same array when nothing is removed).
    """
    box = tight_box(mask, within)
    if gap <= 0 or box is None:
        return mask
    x0, y0, x1, y1 = box
    crop = mask[y0:y1, x0:x1].astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(crop, connectivity=8)
    if count <= 2:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0
    body = int(np.argmax(areas))
    radius = max(2, int(gap * np.sqrt(areas[body])))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate((labels == body).astype(np.uint8), kernel) > 0
    keep = np.bincount(labels[near], minlength=count) > 0
    keep[0] = False
    if moves_with_body is not None and not keep.all():
        keep |= moves_with_body(labels, body, box)
        keep[0] = False
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = keep[labels]
    return out
