"""decord and image-folder backends behave like the PyAV one."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from conftest import HEIGHT, VFR_PTS_MS, WIDTH

from segany_video.errors import FrameIndexError, VideoDecodeError, VideoOpenError
from segany_video.readers.image_folder import natural_key
from segany_video.readers.reader import ReaderSettings, open_video


def _everything(path, backend, size=6):
    with open_video(path, backend=backend) as video:
        batches = list(video.batches(size))
        info = video.info
    return (
        info,
        np.concatenate([b.indices for b in batches]),
        np.concatenate([b.timestamps for b in batches]),
        np.concatenate([b.frames for b in batches]),
    )


def test_pyav_and_decord_return_identical_frames(vfr_mkv):
    pytest.importorskip("decord")
    info_a, idx_a, ts_a, frames_a = _everything(vfr_mkv.path, "pyav")
    info_b, idx_b, ts_b, frames_b = _everything(vfr_mkv.path, "decord")
    assert info_b.backend == "decord"
    assert (info_a.width, info_a.height, info_a.fps) == (info_b.width, info_b.height, info_b.fps)
    np.testing.assert_array_equal(idx_a, idx_b)
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(frames_b, vfr_mkv.frames)  # lossless: the encoded pixels
    expected = np.array(VFR_PTS_MS) / 1000.0
    np.testing.assert_allclose(ts_b, expected, atol=1e-3)
    np.testing.assert_allclose(ts_a, ts_b, atol=1e-3)


def test_decord_random_access_matches_pyav(h264_mp4):
    pytest.importorskip("decord")
    indices = [39, 12, 11, 10, 0, 25]
    with open_video(h264_mp4.path, backend="pyav") as video:
        expected = video.read_frames(indices)
    with open_video(h264_mp4.path, backend="decord") as video:
        got = video.read_frames(indices)
        with pytest.raises(FrameIndexError):
            video.read_frames([40])
    np.testing.assert_array_equal(got.indices, expected.indices)
    # Same FFmpeg decoder; only the YUV->RGB conversion could differ, by rounding at most.
    diff = np.abs(got.frames.astype(int) - expected.frames.astype(int))
    assert diff.max() <= 2, diff.max()
    np.testing.assert_allclose(got.timestamps, expected.timestamps, atol=1e-3)


def test_decord_refuses_urls_and_rotated_video(rotated_mp4):
    pytest.importorskip("decord")
    with pytest.raises(VideoOpenError, match="local files"):
        open_video("rtsp://camera.invalid/stream", backend="decord")
    with pytest.raises(VideoOpenError, match="rotation"):
        open_video(rotated_mp4.path, backend="decord")


def test_image_folder_reads_in_natural_order_at_given_fps(png_folder):
    folder, frames = png_folder
    settings = ReaderSettings(image_fps=Fraction(25))
    with open_video(folder, settings=settings) as video:
        info = video.info
        batches = list(video.batches(5))
        picked = video.read_frames([11, 2, 9])
    assert info.backend == "images" and info.codec == "png"
    assert (info.width, info.height, info.frame_count, info.fps) == (WIDTH, HEIGHT, 12, 25)
    assert info.duration == pytest.approx(12 / 25)
    got = np.concatenate([b.frames for b in batches])
    np.testing.assert_array_equal(got, frames)  # frame1..frame12, not frame1, frame10, ...
    np.testing.assert_allclose(np.concatenate([b.timestamps for b in batches]), np.arange(12) / 25)
    np.testing.assert_array_equal(picked.frames, frames[[11, 2, 9]])


def test_image_folder_default_fps_is_30(png_folder):
    with open_video(png_folder[0]) as video:
        assert video.info.fps == Fraction(30)
        with pytest.raises(FrameIndexError):
            video.read_frames([12])


def test_image_folder_with_mixed_sizes_names_the_odd_file(mixed_size_folder):
    with (
        open_video(mixed_size_folder) as video,
        pytest.raises(VideoDecodeError, match=r"003\.png") as caught,
    ):
        for _ in video.batches(2):
            pass
    assert "32x32" in str(caught.value) and "64x48" in str(caught.value)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["f10.png", "f2.png", "f1.png"], ["f1.png", "f2.png", "f10.png"]),
        (["b2.jpg", "a10.jpg", "a9.jpg"], ["a9.jpg", "a10.jpg", "b2.jpg"]),
        (["x2b.png", "x2b3.png", "x2.png"], ["x2.png", "x2b.png", "x2b3.png"]),
        (["00010.png", "00009.png"], ["00009.png", "00010.png"]),
    ],
)
def test_natural_sort(names, expected):
    assert sorted(names, key=natural_key) == expected
