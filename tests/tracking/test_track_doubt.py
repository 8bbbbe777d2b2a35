"""A track whose score falls far under its usual level, frame after frame, is in doubt."""

from __future__ import annotations

import numpy as np
import torch

from segany_video.tracking.appearance import Appearance, ColourIndex
from segany_video.tracking.track import Track

SIZE = (32, 32)


def _track() -> tuple[Track, np.ndarray, Appearance]:
    image = np.full((*SIZE, 3), 90, dtype=np.uint8)
    mask = np.zeros(SIZE, dtype=bool)
    mask[8:24, 8:24] = True
    image[mask] = (200, 40, 40)
    colours = ColourIndex(image, 8)
    appearance = Appearance.measure(colours, mask)
    track = Track("a")
    track.seed(mask, 1.0, appearance, np.zeros(8**3, np.float32), drawn=False)
    return track, mask, appearance


def _follow(track: Track, mask: np.ndarray, appearance: Appearance, score: float) -> None:
    track.follow(mask, score, appearance, 0.1, 0.45, doubt=0.15, doubt_ratio=0.4)


def test_low_scores_under_the_usual_level_count_and_a_good_one_resets():
    track, mask, appearance = _track()
    for _ in range(5):
        _follow(track, mask, appearance, 0.4)
    assert track.doubtful_frames == 0
    assert track.score_level == 0.4
    for expected in (1, 2, 3):
        _follow(track, mask, appearance, 0.05)
        assert track.doubtful_frames == expected
    assert abs(track.score_level - 0.4) < 1e-9  # doubted frames do not lower the level
    _follow(track, mask, appearance, 0.3)
    assert track.doubtful_frames == 0


def test_an_object_that_always_scores_low_is_not_doubted():
    # Footage where every mask scores ~0.16: 0.09 is under the absolute level but not far
    # under the object's own.
    track, mask, appearance = _track()
    for _ in range(5):
        _follow(track, mask, appearance, 0.16)
    for _ in range(4):
        _follow(track, mask, appearance, 0.09)
    assert track.doubtful_frames == 0


def test_keyframe_and_loss_reset_the_count_and_snapshot_keeps_it():
    track, mask, appearance = _track()
    for score in (0.5, 0.5, 0.02, 0.02):
        _follow(track, mask, appearance, score)
    assert track.doubtful_frames == 2
    restored = Track.restore(track.snapshot(), torch.device("cpu"))
    assert restored.doubtful_frames == 2 and restored.score_level == track.score_level
    track.lose()
    assert track.doubtful_frames == 0
    track.seed(mask, 1.0, appearance, np.zeros(8**3, np.float32))
    assert track.score_level == 0.0
