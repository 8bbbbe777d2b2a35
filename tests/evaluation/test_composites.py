"""Composite builder geometry: pairs, the drift path, pasting and both objects' truth."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from segany_video.evaluation.composites import (
    SCALE_LIMITS,
    Composite,
    DriftPath,
    composite_pairs,
    holds_other,
    paste,
)
from segany_video.evaluation.davis_data import open_sequence

H, W = 120, 160


def test_pairs_use_every_sequence_once_each_way() -> None:
    names = ["a", "b", "c", "d", "e"]
    pairs = composite_pairs(names, seed=3)
    assert sorted(f for f, _ in pairs) == names
    assert sorted(b for _, b in pairs) == names
    assert all(f != b for f, b in pairs)
    assert composite_pairs(list(reversed(names)), seed=3) == pairs  # input order does not matter
    with pytest.raises(ValueError, match="at least two"):
        composite_pairs(["a"])


def test_path_ends_midpoint_and_wobble() -> None:
    path = DriftPath(start=(10.0, 20.0), end=(110.0, 20.0), wobble=5.0)
    assert path.at(0) == pytest.approx((10, 20))
    assert path.at(1) == pytest.approx((110, 20))
    assert path.at(0.5) == pytest.approx((60, 20))  # halfway along, the sine is back at 0
    # A quarter in: eased progress (1 - cos(pi/4)) / 2 along, the full wobble sideways.
    x, y = path.at(0.25)
    assert x == pytest.approx(10 + 100 * (1 - math.cos(math.pi / 4)) / 2)
    assert abs(y - 20) == pytest.approx(5.0)


def test_path_is_smooth() -> None:
    path = DriftPath(start=(30.0, 30.0), end=(130.0, 90.0), wobble=8.0)
    points = np.array([path.at(t) for t in np.linspace(0, 1, 101)])
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    # Peak speed: pi/2 * length (eased) + 2 pi * wobble (sine), per unit t, over 100 steps.
    assert steps.max() <= (math.pi / 2 * math.hypot(100, 60) + 2 * math.pi * 8) / 100 + 1e-9
    accel = np.linalg.norm(np.diff(points, n=2, axis=0), axis=1)
    assert accel.max() < 0.2  # no jumps: direction and speed change gradually


def object_cutout() -> tuple[np.ndarray, np.ndarray]:
    """A 40x60 image with a 20x40 (h x w) object of colour (200, 10, 10) at rows 10-29."""
    image = np.full((40, 60, 3), 50, np.uint8)
    mask = np.zeros((40, 60), bool)
    mask[10:30, 5:45] = True
    image[mask] = (200, 10, 10)
    return image, mask


@pytest.mark.parametrize(("scale", "size"), [(0.5, (10, 20)), (1.0, (20, 40)), (1.5, (30, 60))])
def test_paste_scales_and_centres_the_object(scale: float, size: tuple[int, int]) -> None:
    scene = np.full((H, W, 3), 90, np.uint8)
    image, pasted = paste(scene, *object_cutout(), scale, centre=(80.0, 60.0))
    height, width = size
    rows, cols = np.nonzero(pasted)
    assert (rows.min(), rows.max() + 1) == (60 - height // 2, 60 + height - height // 2)
    assert (cols.min(), cols.max() + 1) == (80 - width // 2, 80 + width - width // 2)
    assert pasted.sum() == height * width
    assert (image[pasted] == (200, 10, 10)).all()
    assert (image[~pasted] == 90).all()
    assert (scene == 90).all()  # the scene is not modified


def test_paste_clips_at_the_frame_edge() -> None:
    scene = np.zeros((H, W, 3), np.uint8)
    _, pasted = paste(scene, *object_cutout(), 1.0, centre=(5.0, 3.0))
    # 40 wide x 20 high centred at (5, 3): columns -15..24 and rows -7..12 survive as 0..24, 0..12
    assert pasted.sum() == 25 * 13
    assert pasted[:13, :25].all()
    empty = np.zeros((40, 60), bool)
    image, nothing = paste(scene, object_cutout()[0], empty, 1.0, (50.0, 50.0))
    assert not nothing.any() and (image == 0).all()


def write_sequence(root: Path, name: str, frames: int, box: tuple[int, int, int, int]) -> None:
    """A sequence whose object (a box moving right 2 px a frame) has its own colour."""
    (root / name / "JPEGImages").mkdir(parents=True)
    (root / name / "Annotations").mkdir(parents=True)
    colour = (40, 200, 40) if name == "bg" else (30, 30, 220)
    for i in range(frames):
        image = np.full((H, W, 3), 120, np.uint8)
        mask = np.zeros((H, W), np.uint8)
        x0, y0, x1, y1 = box
        mask[y0:y1, x0 + 2 * i : x1 + 2 * i] = 255
        image[mask > 0] = colour
        cv2.imwrite(str(root / name / "JPEGImages" / f"{i:05d}.png"), image)
        cv2.imwrite(str(root / name / "Annotations" / f"{i:05d}.png"), mask)


@pytest.fixture()
def composite(tmp_path: Path) -> Composite:
    write_sequence(tmp_path, "fg", 8, (10, 10, 50, 40))  # 40 x 30 object
    write_sequence(tmp_path, "bg", 6, (60, 50, 100, 100))
    return Composite(open_sequence(tmp_path, "fg"), open_sequence(tmp_path, "bg"), seed=5)


def test_composite_truth_follows_the_pasted_object(composite: Composite) -> None:
    assert len(composite) == 6 and composite.name == "fg-over-bg"
    assert SCALE_LIMITS[0] <= composite.scale <= SCALE_LIMITS[1]
    background = composite.background
    for index in range(len(composite)):
        frame = composite.frame(index)
        fg, bg = frame.foreground_truth, frame.background_truth
        assert not (fg & bg).any()
        assert np.array_equal(bg, background.mask(index) & ~fg)
        # Outside the pasted object the image is the scene; inside it, the pasted colour.
        scene = background.frame(index)
        assert np.array_equal(frame.image[~fg], scene[~fg])
        assert (np.abs(frame.image[fg].astype(int) - (220, 30, 30)).max(axis=1) <= 2).all()
        expected = round(40 * composite.scale) * round(30 * composite.scale)
        # Paths keep box centres 20% inside the frame, so this small object is never clipped.
        assert fg.sum() == expected
        rows, cols = np.nonzero(fg)
        cx, cy = composite.path.at(index / (len(composite) - 1))
        assert abs((cols.min() + cols.max() + 1) / 2 - cx) <= 1
        assert abs((rows.min() + rows.max() + 1) / 2 - cy) <= 1


def test_composite_starts_where_both_objects_show(composite: Composite) -> None:
    frame = composite.frame(0)
    assert frame.foreground_truth.any()
    # The start was chosen to hide as little of the scene's object as possible.
    assert frame.background_truth.sum() >= 0.5 * composite.background.mask(0).sum()


def test_composite_is_the_same_for_the_same_seed(composite: Composite) -> None:
    again = Composite(composite.foreground, composite.background, seed=5)
    assert again.scale == composite.scale and again.path == composite.path
    assert np.array_equal(again.frame(3).image, composite.frame(3).image)


def test_holds_other() -> None:
    own = np.zeros((10, 10), bool)
    own[:, :3] = True  # columns 0-2; columns 3-4 are background
    other = np.zeros((10, 10), bool)
    other[:, 5:] = True
    mask = np.zeros((10, 10), bool)
    mask[:, 2:10] = True  # 10 px on its own object, 20 background, 50 on the other
    assert holds_other(mask, own, other)
    assert not holds_other(own, own, other)
    # A leak over background that touches the other object: 20 of 30 px are background.
    leak = np.zeros((10, 10), bool)
    leak[:, 3:5] = True
    leak[:2, 5:] = True
    assert not holds_other(leak, own, other)
    assert not holds_other(np.zeros((10, 10), bool), own, other)
