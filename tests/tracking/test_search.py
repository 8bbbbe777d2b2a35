"""Searching for a lost object: where the window reaches and which look-alike region wins."""

from __future__ import annotations

import numpy as np

from segany_video.tracking.appearance import Appearance, ColourIndex
from segany_video.tracking.search import find_lost_object, search_window

FRAME = (200, 400)


def test_the_window_widens_with_the_speed_the_object_was_lost_at():
    box = np.array([190.0, 90.0, 210.0, 110.0])
    still = search_window(box, 5, 1.5, 0.25, FRAME, speed=0.0)
    moving = search_window(box, 5, 1.5, 0.25, FRAME, speed=10.0)
    assert still is not None and moving is not None
    # 20-pixel box x (1.5 + 0.25 x 5) = 55 pixels wide at rest; 10 px/frame for 5 frames
    # may have taken it 50 pixels further either way.
    assert still[2] - still[0] == 56
    assert moving[2] - moving[0] == 156


def _scene() -> tuple[ColourIndex, Appearance]:
    """A red object on grey, and two red look-alike squares of its size at either side."""
    image = np.full((*FRAME, 3), 128, dtype=np.uint8)
    image[90:110, 60:80] = (220, 30, 30)
    image[90:110, 300:320] = (220, 30, 30)
    colours = ColourIndex(image, 8)
    seen = np.zeros(FRAME, dtype=bool)
    seen[90:110, 300:320] = True
    return colours, Appearance.measure(colours, seen)


def test_the_look_alike_nearer_where_the_object_went_wins():
    colours, appearance = _scene()
    window = (0, 0, 400, 200)
    near_left = find_lost_object(colours, appearance, window, 400.0, 0.1, centre=(90.0, 100.0))
    near_right = find_lost_object(colours, appearance, window, 400.0, 0.1, centre=(290.0, 100.0))
    assert near_left is not None and near_right is not None
    assert near_left[100, 70] and not near_left[100, 310]
    assert near_right[100, 310] and not near_right[100, 70]
