"""Reading DAVIS-format folders: both layouts, lazily, with clear errors for anything else."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from segany_video.errors import FrameIndexError, VideoOpenError
from segany_video.evaluation.davis_data import DavisSequence, list_sequences, open_sequence
from segany_video.writers.davis_png import davis_palette, encode_palette_png

H, W = 24, 32


def red_frame(i: int) -> np.ndarray:
    """BGR frame with a red block whose left edge moves with ``i``."""
    image = np.full((H, W, 3), 40, np.uint8)
    image[4:20, 4 + i : 14 + i] = (0, 0, 230)
    return image


def labels_of(i: int) -> np.ndarray:
    labels = np.zeros((H, W), np.uint8)
    labels[4:20, 4 + i : 14 + i] = 1
    labels[0:3, 0:5] = 2
    return labels


def write_sequence(frame_dir: Path, mask_dir: Path, n: int, *, palette: bool) -> None:
    frame_dir.mkdir(parents=True)
    mask_dir.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(frame_dir / f"{i:05d}.jpg"), red_frame(i))
        labels = labels_of(i)
        if palette:
            (mask_dir / f"{i:05d}.png").write_bytes(encode_palette_png(labels, davis_palette()))
        else:  # DAVIS 2016 style: grayscale 0/255
            cv2.imwrite(
                str(mask_dir / f"{i:05d}.png"), np.where(labels > 0, 255, 0).astype(np.uint8)
            )


@pytest.fixture()
def per_sequence_root(tmp_path: Path) -> Path:
    for name, n in (("walk", 4), ("bike", 3)):
        write_sequence(
            tmp_path / name / "JPEGImages", tmp_path / name / "Annotations", n, palette=False
        )
    (tmp_path / "README.txt").write_text("not a sequence")
    (tmp_path / "notes").mkdir()
    return tmp_path


@pytest.fixture()
def official_root(tmp_path: Path) -> Path:
    root = tmp_path / "DAVIS"
    write_sequence(
        root / "JPEGImages" / "480p" / "dogs",
        root / "Annotations" / "480p" / "dogs",
        3,
        palette=True,
    )
    return root


def test_per_sequence_layout(per_sequence_root: Path) -> None:
    assert list_sequences(per_sequence_root) == ["bike", "walk"]
    seq = open_sequence(per_sequence_root, "walk")
    assert isinstance(seq, DavisSequence)
    assert seq.name == "walk" and len(seq) == 4
    assert [p.name for p in seq.frame_paths] == ["00000.jpg", "00001.jpg", "00002.jpg", "00003.jpg"]
    frame = seq.frame(2)
    assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
    # RGB order: the block drawn red (BGR (0, 0, 230)) comes back in channel 0
    assert frame[12, 10, 0] > 180 and frame[12, 10, 2] < 60
    mask = seq.mask(2)
    assert mask.dtype == bool
    assert np.array_equal(mask, labels_of(2) > 0)
    assert np.unique(seq.labels(2)).tolist() == [0, 255]
    assert len(list(seq.masks())) == len(list(seq.frames())) == 4


def test_every_nth_frame_keeps_frames_and_annotations_aligned(per_sequence_root: Path) -> None:
    seq = open_sequence(per_sequence_root, "walk")
    fast = seq.every(2)
    assert fast.name == "walk" and len(fast) == 2
    assert [p.name for p in fast.frame_paths] == ["00000.jpg", "00002.jpg"]
    assert np.array_equal(fast.mask(1), labels_of(2) > 0)
    assert np.array_equal(fast.frame(1), seq.frame(2))
    assert seq.every(1) == seq and len(seq.every(5)) == 1
    with pytest.raises(ValueError, match="stride must be >= 1"):
        seq.every(0)


def test_official_layout_with_palette_annotations(official_root: Path) -> None:
    assert list_sequences(official_root) == ["dogs"]
    seq = open_sequence(official_root, "dogs")
    assert len(seq) == 3
    assert np.array_equal(seq.labels(1), labels_of(1))
    assert np.array_equal(seq.mask(1), labels_of(1) > 0)


def test_frames_without_annotation_are_allowed_after_the_first(per_sequence_root: Path) -> None:
    (per_sequence_root / "walk" / "Annotations" / "00002.png").unlink()
    seq = open_sequence(per_sequence_root, "walk")
    assert seq.mask_paths[2] is None and seq.mask_paths[3] is not None
    with pytest.raises(FrameIndexError, match="no annotation"):
        seq.mask(2)


def test_out_of_range_frame(per_sequence_root: Path) -> None:
    seq = open_sequence(per_sequence_root, "bike")
    with pytest.raises(FrameIndexError, match="frame 3 is outside DAVIS sequence 'bike'"):
        seq.frame(3)


@pytest.mark.parametrize(
    ("breakage", "match"),
    [
        ("missing-root", "does not exist"),
        ("empty-root", "holds no DAVIS sequence"),
        ("no-sequence", "no DAVIS sequence 'nope'"),
        ("no-annotations", "no annotation folder"),
        ("no-first-annotation", "first frame 00000.jpg has no annotation"),
        ("no-images", "has no images"),
    ],
)
def test_not_davis_format_is_a_clear_error(tmp_path: Path, breakage: str, match: str) -> None:
    root = tmp_path / "data"
    write_sequence(root / "walk" / "JPEGImages", root / "walk" / "Annotations", 2, palette=False)
    name = "walk"
    if breakage == "missing-root":
        root = tmp_path / "absent"
    elif breakage == "empty-root":
        root = tmp_path / "empty"
        root.mkdir()
    elif breakage == "no-sequence":
        name = "nope"
    elif breakage == "no-annotations":
        for p in (root / "walk" / "Annotations").iterdir():
            p.unlink()
        (root / "walk" / "Annotations").rmdir()
    elif breakage == "no-first-annotation":
        (root / "walk" / "Annotations" / "00000.png").unlink()
    elif breakage == "no-images":
        for p in (root / "walk" / "JPEGImages").iterdir():
            p.unlink()
    with pytest.raises(VideoOpenError, match=match):
        list_sequences(root)
        open_sequence(root, name)


def test_corrupt_annotation_names_the_file(per_sequence_root: Path) -> None:
    (per_sequence_root / "walk" / "Annotations" / "00001.png").write_bytes(b"not a png")
    seq = open_sequence(per_sequence_root, "walk")
    with pytest.raises(VideoOpenError, match=r"frame 1 of 'walk'.*00001.png"):
        seq.mask(1)


@pytest.mark.real_data
def test_real_davis_2016_sequences(davis_root: Path) -> None:
    names = list_sequences(davis_root)
    # 11 development sequences and the 13 DAVIS 2016 train sequences added for issue 16
    assert len(names) == 24 and {"boat", "bmx-bumps", "swing"} <= set(names)
    seq = open_sequence(davis_root, "boat")
    assert len(seq) == 75
    frame, mask = seq.frame(0), seq.mask(74)
    assert frame.shape == (480, 854, 3) and frame.dtype == np.uint8
    assert mask.shape == (480, 854) and mask.any() and not mask.all()
    assert set(np.unique(seq.labels(0)).tolist()) == {0, 255}
