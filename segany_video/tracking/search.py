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
    box: np.ndarray, lost_frames: int, start: float, growth: float, frame_size: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    """The region to search, in integer pixels ``(x0, y0, x1, y1)``, clipped to the frame.

    The window is centred on the predicted box, ``start + growth * lost_frames`` times its size.
    A prediction that drifted outside the frame is pulled back to the nearest border, where
    an object that left would come back.

    Returns:
        The window, or None when it has no area inside the frame.
    """
    height, width = frame_size
    size_x = max(8.0, box[2] - box[0]) * (start + growth * lost_frames)
    size_y = max(8.0, box[3] - box[1]) * (start + growth * lost_frames)
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
) -> np.ndarray | None:
    """The region inside ``window`` that most looks like the object, or None.

    Args:
        colours: the frame's colour bins.
        appearance: the lost object's colour model.
        window: ``(x0, y0, x1, y1)`` integer pixels.
        reference_area: the object's usual area in pixels.
        min_fraction: regions smaller than this share of ``reference_area`` are ignored.
        taken: ``(H, W)`` bool pixels already owned by other objects on this frame.

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
    count, labels, stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA].astype(np.float64)
    # Prefer the region closest to the object's usual size (a larger one is clutter).
    plausible = areas >= min_fraction * reference_area
    if not plausible.any():
        return None
    mismatch = np.abs(np.log(np.maximum(areas, 1.0) / max(reference_area, 1.0)))
    mismatch[~plausible] = np.inf
    best = int(np.argmin(mismatch)) + 1
    blob = np.zeros(colours.frame_size, dtype=bool)
    blob[y0:y1, x0:x1] = labels == best
    return blob
