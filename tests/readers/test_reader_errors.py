"""Bad inputs: each gets its typed error (also the matching built-in) naming the file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import raw_decode

from segany_video.errors import SegAnyVideoError, VideoDecodeError, VideoOpenError
from segany_video.readers.reader import ReaderSettings, open_video


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("missing", "no such file"),
        ("not_video", "not a video"),
        ("audio_only", "no video stream"),
        ("unsupported_codec", "not supported"),
        ("zero_frames", "zero decodable frames"),
    ],
)
@pytest.mark.parametrize("backend", ["auto", "pyav", "decord"])
def test_bad_input_raises_video_open_error(bad_inputs, kind, problem, backend):
    path = bad_inputs[kind]
    with pytest.raises(VideoOpenError, match=problem) as caught:
        open_video(path, backend=backend)
    error = caught.value
    assert isinstance(error, OSError) and isinstance(error, SegAnyVideoError)
    assert str(path) in str(error)


def test_folder_without_images_and_folder_for_a_file_backend(tmp_path):
    with pytest.raises(VideoOpenError, match="no images"):
        open_video(tmp_path)
    with pytest.raises(VideoOpenError, match="folder"):
        open_video(tmp_path, backend="pyav")


def _read_all(path, **settings):
    with open_video(path, settings=ReaderSettings(**settings)) as video:
        batches = []
        try:
            for batch in video.batches(4):
                batches.append(batch)
        finally:
            delivered = np.concatenate([b.indices for b in batches]) if batches else []
    return batches, delivered


def test_truncated_stream_delivers_decodable_frames_then_warns(truncated_mp4):
    full, cut = truncated_mp4
    oracle, _ = raw_decode(full.path)
    with pytest.warns(RuntimeWarning, match="broke off after frame") as record:
        batches, indices = _read_all(cut)
    n = len(indices)
    assert 0 < n < len(oracle)
    np.testing.assert_array_equal(indices, np.arange(n))
    np.testing.assert_array_equal(np.concatenate([b.frames for b in batches]), oracle[:n])
    messages = [str(w.message) for w in record]
    assert any(f"after frame {n - 1} " in m and str(cut) in m for m in messages), messages


def test_truncated_stream_raises_when_asked(truncated_mp4):
    _, cut = truncated_mp4
    delivered = []
    settings = ReaderSettings(on_truncated="error")
    with (
        open_video(cut, settings=settings) as video,
        pytest.raises(VideoDecodeError, match="broke off after frame") as caught,
    ):
        for batch in video.batches(4):
            delivered.extend(batch.indices.tolist())
    assert isinstance(caught.value, OSError)
    assert delivered and f"after frame {delivered[-1]} " in str(caught.value)


def test_stream_ending_far_before_its_header_says_warns(truncated_mkv):
    full, cut = truncated_mkv
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the complete file must not warn
        _, complete = _read_all(full.path)
    assert len(complete) == 60
    with pytest.warns(RuntimeWarning, match="header declares") as record:
        _, indices = _read_all(cut)
    assert 0 < len(indices) < 60
    assert any(f"after frame {len(indices) - 1} " in str(w.message) for w in record)


def test_read_frames_beyond_a_truncation(truncated_mp4):
    _, cut = truncated_mp4
    with open_video(cut, settings=ReaderSettings(on_truncated="error")) as video:
        assert len(video.read_frames([0, 5])) == 2
        with pytest.raises(VideoDecodeError, match=str(cut)):
            video.read_frames([39])


def test_size_change_mid_stream_is_a_clear_error_after_the_good_frames(size_change_ts):
    delivered = []
    with open_video(size_change_ts) as video:
        with pytest.raises(VideoDecodeError, match="frame 10 is 32x32 but the video is 64x48"):
            for batch in video.batches(4):
                delivered.extend(batch.indices.tolist())
        with pytest.raises(VideoDecodeError, match="size changes"):
            video.read_frames([12])
    assert delivered == list(range(10))
