"""Searching for a lost object: a window around where it should be, widening while it stays lost.

Inside the window, pixels are scored by how much their colour looks like the object versus its
old surroundings (histogram back-projection); the connected region most like the object and
of plausible size becomes the prompt that asks the engine for a candidate. Whether that
candidate really is the object is decided by the matching (colour distance gate).
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.appearance import Appearance, ColourIndex, colour_odds


def search_window(
    box: np.ndarray,
    lost_frames: int,
    start: float,
    growth: float,
    frame_size: tuple[int, int],
    speed: float = 0.0,
) -> tuple[int, int, int, int] | None:
    """The region to search, in integer pixels ``(x0, y0, x1, y1)``, clipped to the frame.

    The window is centred on the predicted box, ``start + growth * lost_frames`` times its size,
    and widened on each side by ``speed * lost_frames``: an object hidden while moving may keep
    its speed or change direction, so where it can be spreads as fast as it moves. A prediction
    that drifted outside the frame is pulled back to the nearest border, where an object that
    left would come back.

    Args:
        box: ``(4,)`` predicted ``XYXY`` box.
        lost_frames: frames the object has been lost.
        start: window size at loss, in box sizes.
        growth: widening per lost frame, in box sizes.
        frame_size: ``(H, W)``.
        speed: the object's speed when it was lost, in pixels per frame.

    Returns:
        The window, or None when it has no area inside the frame.
    """
    height, width = frame_size
    spread = 2.0 * speed * lost_frames
    size_x = max(8.0, box[2] - box[0]) * (start + growth * lost_frames) + spread
    size_y = max(8.0, box[3] - box[1]) * (start + growth * lost_frames) + spread
    cx = float(np.clip((box[0] + box[2]) / 2.0, 0, width))
    cy = float(np.clip((box[1] + box[3]) / 2.0, 0, height))
    x0, x1 = int(max(0, cx - size_x / 2)), int(min(width, np.ceil(cx + size_x / 2)))
    y0, y1 = int(max(0, cy - size_y / 2)), int(min(height, np.ceil(cy + size_y / 2)))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def find_lost_object(
    colours: ColourIndex,
    appearance: Appearance,
    window: tuple[int, int, int, int],
    reference_area: float,
    min_fraction: float,
    taken: np.ndarray | None = None,
    centre: tuple[float, float] | None = None,
) -> np.ndarray | None:
    """The region inside ``window`` that most looks like the object, or None.

    Among the regions whose colours look like the object, the one of the most plausible size
    and place wins: the size mismatch (absolute log of the area ratio) plus the distance from
    where the object is expected, in half-sizes of the window (0 at its centre, 1 at its edge).

    Args:
        colours: the frame's colour bins.
        appearance: the lost object's colour model.
        window: ``(x0, y0, x1, y1)`` integer pixels.
        reference_area: the object's usual area in pixels.
        min_fraction: regions smaller than this share of ``reference_area`` are ignored.
        taken: ``(H, W)`` bool pixels already owned by other objects on this frame.
        centre: ``(x, y)`` where the object is expected (None: size alone decides).

    Returns:
        ``(H, W)`` bool region, or None when nothing in the window looks like the object.
    """
    x0, y0, x1, y1 = window
    odds = colour_odds(appearance.foreground, appearance.background)
    likely = colours.region(x0, y0, x1, y1, odds)
    # Smoothing turns a speckled texture response into solid regions before thresholding.
    radius = max(1, int(0.05 * np.sqrt(max(reference_area, 1.0))))
    likely = cv2.blur(likely, (2 * radius + 1, 2 * radius + 1))
    region = (likely > 0.5).astype(np.uint8)
    if taken is not None:
        region[taken[y0:y1, x0:x1]] = 0
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(region, connectivity=8)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    # Prefer the region closest to the object's usual size (a larger one is clutter).
    plausible = areas >= min_fraction * reference_area
    if not plausible.any():
        return None
    mismatch = np.abs(np.log(np.maximum(areas, 1.0) / max(reference_area, 1.0)))
    if centre is not None:
        # A look-alike far from where the object went is less likely than one near it.
        middle = centroids[1:] + np.array([x0, y0])
        half = np.array([max(1.0, (x1 - x0) / 2.0), max(1.0, (y1 - y0) / 2.0)])
        mismatch += np.hypot(*((middle - np.array(centre)) / half).T)
    mismatch[~plausible] = np.inf
    best = int(np.argmin(mismatch)) + 1
    blob = np.zeros(colours.frame_size, dtype=bool)
    blob[y0:y1, x0:x1] = labels == best
    return blob
