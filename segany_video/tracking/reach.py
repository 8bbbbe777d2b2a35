"""What a followed object's new mask may contain: only what motion and connectivity allow.

A frame-by-frame segmenter driven by a propagated prompt can leak into look-alike
surroundings (sky, water, a banner of the object's colour). Two leaks feed themselves from
frame to frame once accepted, so they are cut before a mask becomes the track's state:

* growth beyond where motion can carry the object in one frame (:func:`within_reach`);
* parts detached from the object's body: a blob that broke off a leak (or was picked up on
  colour alone) is carried along by the flow forever after, far from the object
  (:func:`drop_detached`). A far part that moves as the body does is kept: an occluder split
  it off (a post in front of a walker), or the object is made of parts (a paraglider). So is
  a part kept apart last frame whose gap grew a little (the post's edge shaving it), unless it
  moves as the surroundings do, and a part of the object's own that was out of sight and is
  offered back (:mod:`.hidden`). An occluder wider than the gap may keep a part apart for many
  frames (a post passing a still object): it stays while it lies about as far from the body as
  it did.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.boxes import Box, tight_box
from segany_video.tracking.motion_cue import PartMotion

# How much further than the gap a part already kept apart last frame may lie.
KEPT_APART_ALLOWANCE = 1.25


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
    allowed = _grown(expected[y0:y1, x0:x1], reach)
    # Nothing outside the dilated crop is allowed: only the crop is copied.
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = mask[y0:y1, x0:x1] & allowed
    return out


def drop_detached(
    mask: np.ndarray,
    gap: float,
    within: Box | None = None,
    motion: PartMotion | None = None,
    previous: np.ndarray | None = None,
    previous_within: Box | None = None,
    returning: np.ndarray | None = None,
) -> np.ndarray:
    """Remove the parts of ``mask`` further than ``gap * sqrt(area)`` from its largest part.

    The largest 8-connected part is the object's body; a part within the gap (a hand
    separated by a thin occluder, the far side of a racket) is kept, one beyond it is not.
    ``gap <= 0`` disables the rule.

    Args:
        mask: ``(H, W)`` bool.
        gap: largest distance of a kept part, as a fraction of the body's ``sqrt(area)``.
        within: a box holding every pixel of ``mask`` (None: the whole frame).
        motion: tells which parts move as the body does; those are kept at any distance: an
            occluder split them off, not a leak.
        previous: last frame's mask moved to this frame. A part lying mostly on one of its
            parts apart from the body was kept apart already (an occluder split it off): it
            may be :data:`KEPT_APART_ALLOWANCE` times the gap away, as the occluder's edge
            shaves it, unless ``motion`` says it moves as the surroundings do (a leak kept
            within the gap once), or a quarter of the gap further than it lay last frame (an
            occluder wider than the gap keeps it apart). Last frame's body is its part under
            this frame's body, even when an occluder crossing the object has made the other
            side the larger. A part breaking off the body now gets the gap alone.
        previous_within: a box holding every pixel of ``previous`` (None: the whole frame).
        returning: ``(H, W)`` bool, the pixels of ``previous`` that are the object's own lost
            parts offered back on this frame (:mod:`.hidden`), or None. A part lying mostly on
            them is kept at any distance unless ``motion`` says it moves as the surroundings
            do: the occluder that hid it may be wider than the gap (a post passing a still
            object). Gaps last frame are measured without them.

    Returns:
        ``(H, W)`` bool, a subset of ``mask`` (the same array when nothing is removed).
    """
    box = tight_box(mask, within)
    if gap <= 0 or box is None:
        return mask
    x0, y0, x1, y1 = box
    count, labels, areas, body = _parts(mask[y0:y1, x0:x1])
    if count <= 2:
        return mask
    radius = max(2, int(gap * np.sqrt(areas[body])))
    keep = np.bincount(labels[_grown(labels == body, radius)], minlength=count) > 0
    verdict = None
    if motion is not None and not keep[1:].all():
        verdict = motion(labels, body, box)
        keep |= verdict == PartMotion.WITH_BODY
    if returning is not None and not keep[1:].all():
        on_back = np.bincount(labels[returning[y0:y1, x0:x1]], minlength=count)
        came_back = on_back * 2 > areas
        if verdict is not None:
            came_back &= verdict != PartMotion.WITH_SURROUNDINGS
        keep |= came_back
    if previous is not None and not keep[1:].all():
        if returning is not None:
            previous = previous & ~returning
        apart = _kept_apart_before(labels, areas, body, box, previous, previous_within, radius)
        if verdict is not None:
            apart &= verdict != PartMotion.WITH_SURROUNDINGS
        keep |= apart
    keep[0] = False
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = keep[labels]
    return out


def _kept_apart_before(
    labels: np.ndarray,
    areas: np.ndarray,
    body: int,
    box: Box,
    previous: np.ndarray,
    previous_within: Box | None,
    radius: int,
) -> np.ndarray:
    """Which labels lie mostly on a part of ``previous`` apart from its body, and are within
    :data:`KEPT_APART_ALLOWANCE` times ``radius`` of the body now, or no more than
    ``(KEPT_APART_ALLOWANCE - 1) * radius`` further from it than they lay then."""
    x0, y0, x1, y1 = box
    keep = np.zeros(len(areas), dtype=bool)
    whole = tight_box(previous, previous_within)
    if whole is None:
        return keep
    # Last frame's parts are labelled whole: its body may reach beyond this mask's box.
    bx0, by0 = min(x0, whole[0]), min(y0, whole[1])
    bx1, by1 = max(x1, whole[2]), max(y1, whole[3])
    count, parts, _, old_body = _parts(previous[by0:by1, bx0:bx1])
    if count <= 2:
        return keep
    parts = parts[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    # Last frame's part under this body: its largest one, unless an occluder moving across the
    # object made another part the larger now (the two are then apart from each other).
    under = parts[(labels == body) & (parts > 0)]
    if under.size:
        old_body = int(np.argmax(np.bincount(under)))
    apart = (parts > 0) & (parts != old_body)
    reach = int(KEPT_APART_ALLOWANCE * radius)
    near = np.bincount(labels[_grown(labels == body, reach)], minlength=keep.size) > 0
    near |= _no_further_than_before(labels, body, parts, old_body, apart, count, radius)
    on_apart = np.bincount(labels[apart], minlength=keep.size)
    keep = near & (on_apart * 2 > areas)
    keep[0] = False
    return keep


def _no_further_than_before(
    labels: np.ndarray,
    body: int,
    parts: np.ndarray,
    old_body: int,
    apart: np.ndarray,
    count: int,
    radius: int,
) -> np.ndarray:
    """Per label of ``labels``: whether it is no more than ``(KEPT_APART_ALLOWANCE - 1) *
    radius`` further from ``body`` than the last frame's part it lies on (in ``apart``) was
    from ``old_body``: an occluder wider than the gap (a post passing a still object) kept it
    apart then and still does. A fixed slack, not a ratio: a part left behind by a body that
    moves away (beside a passing post) is not followed for ever."""
    size = int(labels.max()) + 1
    old_gap = np.full(count, np.inf, np.float32)  # each old part's distance from its body
    np.minimum.at(old_gap, parts[apart], _distance_from(parts == old_body)[apart])
    was = np.full(size, np.inf, np.float32)
    np.minimum.at(was, labels[apart], old_gap[parts[apart]])
    now = np.full(size, np.inf, np.float32)
    np.minimum.at(now, labels.ravel(), _distance_from(labels == body).ravel())
    return now <= was + (KEPT_APART_ALLOWANCE - 1.0) * radius


def _parts(crop: np.ndarray) -> tuple[int, np.ndarray, np.ndarray, int]:
    """8-connected parts of a bool crop: their count (background included), labels, areas
    (0 for the background) and the largest part's label."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        crop.astype(np.uint8), connectivity=8
    )
    areas = stats[:, cv2.CC_STAT_AREA].copy()
    areas[0] = 0
    return count, labels, areas, int(np.argmax(areas))


def _distance_from(region: np.ndarray) -> np.ndarray:
    """Euclidean distance in pixels of every pixel to ``region`` (bool; inf when empty)."""
    if not region.any():
        return np.full(region.shape, np.inf, np.float32)
    return cv2.distanceTransform((~region).view(np.uint8), cv2.DIST_L2, 5)


def _grown(region: np.ndarray, radius: int) -> np.ndarray:
    """``region`` (bool) grown by a disc of ``radius`` pixels."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(region.astype(np.uint8), kernel) > 0
