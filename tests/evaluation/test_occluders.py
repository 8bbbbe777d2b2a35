"""Poles drawn over a DAVIS sequence: where they stand, what they hide, what gets written."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from segany_video.evaluation.davis_data import open_sequence
from segany_video.evaluation.occluders import (
    Band,
    backdrop_frame,
    occluded_frame,
    plan_band,
    plan_pole,
    scene_motion,
    write_occluded,
)

H, W, FRAMES = 90, 160, 9


def _write_block_sequence(
    base: Path,
    name: str,
    backgrounds: Iterable[np.ndarray],
    rows: slice,
    columns: tuple[int, int, int],
    colour: tuple[int, int, int],
) -> None:
    """Write DAVIS sequence ``name`` under ``base``: a flat block over each background, on
    ``rows``, starting at column ``columns[0]``, ``columns[1]`` px wide, moving ``columns[2]`` px
    a frame."""
    (base / name / "JPEGImages").mkdir(parents=True)
    (base / name / "Annotations").mkdir(parents=True)
    left, width, speed = columns
    for i, image in enumerate(backgrounds):
        mask = np.zeros((H, W), np.uint8)
        mask[rows, left + speed * i : left + speed * i + width] = 255
        image[mask > 0] = colour
        cv2.imwrite(str(base / name / "JPEGImages" / f"{i:05d}.png"), image)
        cv2.imwrite(str(base / name / "Annotations" / f"{i:05d}.png"), mask)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sequence: a block moving right 4 px a frame over a noisy background."""
    base = tmp_path_factory.mktemp("davis")
    rng = np.random.default_rng(3)
    noise = (rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(FRAMES))
    _write_block_sequence(base, "walk", noise, slice(20, 70), (30, 40, 4), (20, 200, 40))
    return base


def test_pole_crosses_the_object_centre_a_third_in_and_passes_it(root: Path) -> None:
    sequence = open_sequence(root, "walk")
    for seed in range(4):  # both directions
        pole = plan_pole(sequence, seed=seed)
        crossing = FRAMES // 3
        centre = int(np.nonzero(sequence.mask(crossing).any(axis=0))[0].mean())
        columns = pole.columns(crossing, W)
        assert columns.start <= centre < columns.stop
        assert columns.stop - columns.start == pole.width >= 1
        # By two thirds in, it has moved half the object's width (40 px) plus its own against
        # the object (which moves right at 4 px a frame): clear of it.
        assert abs(pole.speed - 4.0) * (2 * FRAMES // 3 - crossing) >= 20 + pole.width - 1e-9
        later = pole.columns(2 * FRAMES // 3 + 1, W)
        assert not sequence.mask(2 * FRAMES // 3 + 1)[:, later].any()


def test_occluded_frame_hides_the_object_under_the_pole_only(root: Path) -> None:
    sequence = open_sequence(root, "walk")
    pole = plan_pole(sequence, seed=1)
    middle = FRAMES // 3
    image, truth = occluded_frame(sequence, middle, pole)
    columns = pole.columns(middle, W)
    original, whole = sequence.frame(middle), sequence.mask(middle)
    outside = np.ones(W, bool)
    outside[columns] = False
    assert np.array_equal(image[:, outside], original[:, outside])
    assert np.array_equal(truth[:, outside], whole[:, outside])
    assert not truth[:, columns].any() and whole[:, columns].any()
    # The pole is one plain colour down its length (shaded across it only).
    assert (image[:, columns] == image[:1, columns]).all()


def test_write_occluded_gives_a_davis_sequence_of_the_same_frames(
    root: Path, tmp_path: Path
) -> None:
    sequence = open_sequence(root, "walk")
    pole = write_occluded(sequence, tmp_path, seed=1)
    written = open_sequence(tmp_path, "walk")
    assert len(written) == FRAMES
    for index in (0, FRAMES // 3, FRAMES - 1):
        image, truth = occluded_frame(sequence, index, pole)
        assert np.array_equal(written.frame(index), image)  # lossless
        assert np.array_equal(written.mask(index), truth)


def test_band_sweeps_like_a_pole_and_wears_the_objects_own_pixels(root: Path) -> None:
    sequence = open_sequence(root, "walk")
    object_colour = sequence.frame(0)[sequence.mask(0)][0]
    for seed in range(4):
        band = plan_band(sequence, seed=seed)
        crossing = FRAMES // 3
        centre = int(np.nonzero(sequence.mask(crossing).any(axis=0))[0].mean())
        columns = band.columns(crossing, W)
        assert columns.start <= centre < columns.stop
        # A few tenths of the object's 40 px width.
        assert 0.3 * 40 - 1 <= band.width <= 0.6 * 40 + 1
        assert band.texture.shape == (H, band.width, 3)
        # The block is one flat colour, so every texture pixel is that colour.
        assert (band.texture == object_colour).all()


def test_band_is_drawn_behind_the_object_and_the_truth_is_unchanged(root: Path) -> None:
    sequence = open_sequence(root, "walk")
    band = plan_band(sequence, seed=2)
    middle = FRAMES // 3
    image, truth = backdrop_frame(sequence, middle, band)
    original, whole = sequence.frame(middle), sequence.mask(middle)
    assert np.array_equal(truth, whole)
    columns = band.columns(middle, W)
    outside = np.ones(W, bool)
    outside[columns] = False
    assert np.array_equal(image[:, outside], original[:, outside])
    # On the object the object shows; beside it, in the band, the texture does.
    assert np.array_equal(image[whole], original[whole])
    behind = np.zeros((H, W), bool)
    behind[:, columns] = True
    behind &= ~whole
    assert behind.any()
    assert (image[behind] == band.texture[0, 0]).all()


def test_write_occluded_behind_writes_the_band_frames(root: Path, tmp_path: Path) -> None:
    sequence = open_sequence(root, "walk")
    band = write_occluded(sequence, tmp_path, seed=2, behind=True)
    assert isinstance(band, Band)
    written = open_sequence(tmp_path, "walk")
    for index in (0, FRAMES // 3, FRAMES - 1):
        image, truth = backdrop_frame(sequence, index, band)
        assert np.array_equal(written.frame(index), image)
        assert np.array_equal(written.mask(index), truth)


@pytest.fixture(scope="module")
def panning(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sequence filmed by a panning camera: a textured scene sliding left 3 px a frame,
    and a block moving right 2 px a frame through it."""
    base = tmp_path_factory.mktemp("davis-pan")
    rng = np.random.default_rng(5)
    # Smooth texture (blobs a few pixels wide), so optical flow can follow it.
    scene = cv2.GaussianBlur(rng.integers(0, 255, (H, W + 3 * 12, 3), dtype=np.uint8), (7, 7), 0)
    views = (np.ascontiguousarray(scene[:, 3 * i : 3 * i + W]) for i in range(12))
    _write_block_sequence(base, "pan", views, slice(25, 65), (40, 30, 2), (200, 60, 60))
    return base


def test_still_band_stands_in_the_scene_behind_the_object_a_third_in(panning: Path) -> None:
    sequence = open_sequence(panning, "pan")
    # The scene slides left 3 px a frame; measured away from the block, whatever it does.
    np.testing.assert_allclose(scene_motion(sequence), -3.0, atol=0.5)
    band = plan_band(sequence, seed=1, still=True)
    crossing = len(sequence) // 3
    centre = int(np.nonzero(sequence.mask(crossing).any(axis=0))[0].mean())
    columns = band.columns(crossing, W)
    assert columns.start <= centre < columns.stop
    # From frame to frame it moves with the scene, not with the block (+2) nor on a sweep.
    steps = np.diff([band.left(i) for i in range(len(sequence))])
    np.testing.assert_allclose(steps, -3.0, atol=0.5)
    # Drawn where it stands: the texture's first column at its left edge, whatever the frame.
    index = crossing + 2
    image, _ = backdrop_frame(sequence, index, band)
    left = round(band.left(index))
    below = sequence.mask(index)[:, left]
    assert np.array_equal(image[~below, left], band.texture[~below, 0])
