"""Prompts for a frame built from an object's motion-warped mask.

From the previous mask carried to the current frame (see :mod:`.motion`) we derive what any
promptable engine understands: a padded box, positive points well inside the object (peaks of the
distance transform, spread apart), negative points on nearby other objects, and the soft warped
mask itself (or the engine's own low-res logits) as the dense prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch

from segany_video.models.base import ObjectPrompt
from segany_video.tracking.appearance import ColourIndex
from segany_video.tracking.boxes import Box, tight_box
from segany_video.tracking.colour_likelihood import ColourLikelihood
from segany_video.tracking.motion_cue import MotionCue

# Least prior probability of the object anywhere near its warped mask (see colour_posterior):
# for an object seen whole, colour alone cannot add a pixel motion does not support; for one
# coming back into view (from behind another object or the frame edge) it can.
STEADY_FLOOR = 0.002
REGROWING_FLOOR = 0.02


def padded_box(
    mask: np.ndarray, padding: float, frame_size: tuple[int, int], within: Box | None = None
) -> np.ndarray | None:
    """Tight box of ``mask`` grown by ``padding`` x its size per side, clipped to the frame.

    Args:
        mask: ``(H, W)`` bool.
        padding: fraction of the box width/height added on each side.
        frame_size: ``(H, W)``.
        within: a box holding every True pixel of ``mask`` (None: the whole frame).

    Returns:
        ``(4,)`` float32 ``XYXY`` or None when the mask is empty.
    """
    tight = tight_box(mask, within)
    if tight is None:
        return None
    box = np.array(tight, dtype=np.float32)
    height, width = frame_size
    pad_x = padding * (box[2] - box[0])
    pad_y = padding * (box[3] - box[1])
    return np.array(
        [
            max(0.0, box[0] - pad_x),
            max(0.0, box[1] - pad_y),
            min(float(width), box[2] + pad_x),
            min(float(height), box[3] + pad_y),
        ],
        dtype=np.float32,
    )


def interior_points(mask: np.ndarray, count: int, within: Box | None = None) -> np.ndarray:
    """Up to ``count`` points deep inside ``mask``, spread over it.

    The first is the distance-transform maximum (the most interior pixel). The others are
    picked by farthest-point sampling among the pixels at least half as deep as that maximum,
    so points cover elongated or multi-part objects instead of clustering at the centre, while
    staying away from the boundary (where a warped mask is least reliable).

    Args:
        mask: ``(H, W)`` bool.
        count: how many points at most.
        within: a box holding every True pixel of ``mask`` (None: the whole frame).

    Returns:
        ``(P, 2)`` float32 ``(x, y)`` pixel centres, ``P <= count`` (0 for an empty mask).
    """
    box = tight_box(mask, within)
    if box is None or count <= 0:
        return np.zeros((0, 2), dtype=np.float32)
    x0, y0, x1, y1 = box
    # A one-pixel border of zeros: the frame's edge counts as outside.
    crop = cv2.copyMakeBorder(mask[y0:y1, x0:x1].view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT)
    depth = cv2.distanceTransform(crop, cv2.DIST_L2, 3)
    first = int(np.argmax(depth))
    ys, xs = np.nonzero(depth >= 0.5 * depth.flat[first])
    pool = np.stack([xs, ys], axis=1).astype(np.float64)
    chosen = [np.array(divmod(first, depth.shape[1])[::-1], dtype=np.float64)]
    # Squared distances: the farthest pixel is the same, without a square root per pixel.
    nearest = _squared_distance(pool, chosen[0])
    while len(chosen) < count:
        pick = int(np.argmax(nearest))
        if nearest[pick] < 1.0:  # every deep pixel is already taken
            break
        chosen.append(pool[pick])
        nearest = np.minimum(nearest, _squared_distance(pool, pool[pick]))
    points = np.array(chosen) + np.array([x0 - 1 + 0.5, y0 - 1 + 0.5])
    return points.astype(np.float32)


def _squared_distance(points: np.ndarray, point: np.ndarray) -> np.ndarray:
    dx = points[:, 0] - point[0]
    dy = points[:, 1] - point[1]
    return dx * dx + dy * dy


def negative_points(region: np.ndarray, others: Sequence[np.ndarray], count: int) -> np.ndarray:
    """One point inside each of the ``count`` other objects that most intrude into ``region``.

    Args:
        region: ``(4,)`` ``XYXY`` box the prompt covers.
        others: ``(H, W)`` bool masks of the other objects on this frame.
        count: how many points at most.

    Returns:
        ``(P, 2)`` float32 ``(x, y)``.
    """
    if count <= 0 or not others:
        return np.zeros((0, 2), dtype=np.float32)
    x0, y0, x1, y1 = (
        int(np.floor(region[0])),
        int(np.floor(region[1])),
        int(np.ceil(region[2])),
        int(np.ceil(region[3])),
    )
    intruders = []
    for other in others:
        inside = other[y0:y1, x0:x1]
        area = int(np.count_nonzero(inside))
        if area > 0:
            intruders.append((area, inside))
    intruders.sort(key=lambda item: -item[0])
    # Points found in the crop are shifted back to the frame (half-pixel centres: exact sums).
    offset = np.array([x0, y0], dtype=np.float32)
    chosen = [interior_points(inside, 1) + offset for _, inside in intruders[:count]]
    return np.concatenate(chosen).astype(np.float32) if chosen else np.zeros((0, 2), np.float32)


def colour_posterior(
    warped: np.ndarray,
    odds: np.ndarray,
    colours: ColourIndex,
    blur: float,
    floor: float = STEADY_FLOOR,
    within: Box | None = None,
    motion: MotionCue | None = None,
    learned: ColourLikelihood | None = None,
    cells: np.ndarray | None = None,
) -> np.ndarray:
    """Combine where motion says the object is with what colour says it is (Bayes per pixel).

    The warped mask is blurred by a radius of ``blur`` x the object's equivalent size (motion
    is uncertain near the boundary), clipped to ``[floor, 1 - floor]``, and used as the prior of a
    per-pixel posterior whose likelihood is the object's colour model. This pulls a mask that
    flow dragged onto background back onto the object's colours, which a frame-by-frame
    segmenter cannot do alone.

    Args:
        warped: ``(H, W)`` float32 in ``[0, 1]``, the motion-warped previous mask.
        odds: ``(D,)`` float32 P(object | colour bin), from the keyframe's colours.
        colours: the current frame's colour bins (the binning ``odds`` was measured in).
        blur: blur radius as a fraction of ``sqrt(area)``.
        floor: least prior anywhere within the blur's reach. With the likelihood capped at
            0.98, a pixel at the floor joins on colour alone only when the floor is above
            0.02 (:data:`REGROWING_FLOOR`: an object coming back into view may grow on its
            colours); :data:`STEADY_FLOOR` keeps look-alike background out.
        within: a box outside which ``warped`` is zero (None: the whole frame).
        motion: a second likelihood, from how each pixel moves (None: colour alone).
        learned: the object's colour likelihood learned on its keyframe, joined with ``odds``
            (None: ``odds`` alone).
        cells: this frame's :func:`table_index` for ``learned``.

    Returns:
        ``(H, W)`` float32 posterior in ``[0, 1]`` (zero far from the warped mask).
    """
    wx0, wy0, wx1, wy1 = within or (0, 0, warped.shape[1], warped.shape[0])
    inside = warped[wy0:wy1, wx0:wx1] > 0.5
    box = tight_box(inside)
    if box is None:
        return warped
    radius = max(1, int(blur * np.sqrt(np.count_nonzero(inside))))
    height, width = warped.shape
    x0, y0 = max(0, wx0 + box[0] - 3 * radius), max(0, wy0 + box[1] - 3 * radius)
    x1, y1 = min(width, wx0 + box[2] + 3 * radius), min(height, wy0 + box[3] + 3 * radius)
    prior = np.clip(_wide_blur(warped[y0:y1, x0:x1], radius), floor, 1.0 - floor)
    if learned is None or cells is None:
        likelihood = colours.region(x0, y0, x1, y1, np.clip(odds, 0.02, 0.98))
    else:
        likelihood = learned.region(cells, colours, odds, x0, y0, x1, y1)
    joint, against = prior * likelihood, (1.0 - prior) * (1.0 - likelihood)
    cue = None if motion is None else motion.region(x0, y0, x1, y1, warped[y0:y1, x0:x1] > 0.5)
    if cue is not None:
        # Inside the warped mask too: background taken in on an earlier frame (sand beside a
        # horse) rides on the background's flow from then on, and only motion tells it from
        # the object. A part at rest (a planted hand) is lowered too; its colours and the
        # warped prior hold it while it rests, though not always.
        joint, against = joint * cue, against * (1.0 - cue)
    posterior = np.zeros(warped.shape, dtype=warped.dtype)
    posterior[y0:y1, x0:x1] = joint / (joint + against)
    return posterior


def _wide_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Gaussian blur of ``radius`` pixels, done at reduced size when the radius is large."""
    factor = max(1, radius // 4)
    if factor == 1:
        return cv2.GaussianBlur(image, (2 * radius + 1, 2 * radius + 1), 0)
    height, width = image.shape
    small = cv2.resize(
        image,
        (max(1, width // factor), max(1, height // factor)),
        interpolation=cv2.INTER_AREA,
    )
    small_radius = max(1, radius // factor)
    small = cv2.GaussianBlur(small, (2 * small_radius + 1, 2 * small_radius + 1), 0)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def propagation_prompt(
    warped: np.ndarray,
    others: Sequence[np.ndarray],
    *,
    positive: int,
    negative: int,
    padding: float,
    dense: bool,
    low_res_logits: torch.Tensor | None = None,
    within: Box | None = None,
) -> ObjectPrompt | None:
    """The prompt for a tracked object on the current frame.

    Args:
        warped: ``(H, W)`` float32 in ``[0, 1]``, the object's previous mask carried by motion.
        others: ``(H, W)`` bool predicted masks of the other objects (for negative points).
        positive: number of positive points.
        negative: number of negative points at most.
        padding: box padding as a fraction of the box size.
        dense: pass ``warped`` (and ``low_res_logits``) as the dense prompt.
        low_res_logits: ``(256, 256)`` logits the engine returned for this object last frame.
        within: a box holding every pixel where ``warped > 0.5`` (None: the whole frame).

    Returns:
        The prompt, or None when the warped mask is empty (the object left or vanished).
    """
    x0, y0, x1, y1 = within or (0, 0, warped.shape[1], warped.shape[0])
    mask = np.zeros(warped.shape, dtype=bool)
    mask[y0:y1, x0:x1] = warped[y0:y1, x0:x1] > 0.5
    box = padded_box(mask, padding, mask.shape, within)
    if box is None:
        return None
    points = interior_points(mask, positive, within)
    labels = np.ones(len(points), dtype=np.int64)
    negatives = negative_points(box, others, negative)
    if len(negatives):
        points = np.concatenate([points, negatives])
        labels = np.concatenate([labels, np.zeros(len(negatives), dtype=np.int64)])
    return ObjectPrompt(
        points=points if len(points) else None,
        point_labels=labels if len(points) else None,
        box=box,
        mask=warped if dense else None,
        low_res_logits=low_res_logits if dense else None,
    )


def search_prompt(blob: np.ndarray, positive: int, padding: float) -> ObjectPrompt | None:
    """A prompt to re-acquire a lost object from a region that looks like it.

    Args:
        blob: ``(H, W)`` bool region found by appearance search.
        positive: number of positive points.
        padding: box padding as a fraction of the box size.

    Returns:
        A box + points + soft prior prompt, or None when ``blob`` is empty.
    """
    box = padded_box(blob, padding, blob.shape)
    if box is None:
        return None
    points = interior_points(blob, max(1, positive))
    return ObjectPrompt(
        points=points,
        point_labels=np.ones(len(points), dtype=np.int64),
        box=box,
        mask=blob.astype(np.float32),
    )
