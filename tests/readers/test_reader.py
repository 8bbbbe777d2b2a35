"""PyAV reader: timestamps, batch iteration, random access, rotation, settings."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from fractions import Fraction

import numpy as np
import pytest
from conftest import HEIGHT, VFR_PTS_MS, WIDTH, raw_decode

import segany_video
from segany_video.errors import ConfigError, FrameIndexError
from segany_video.readers import pyav_source
from segany_video.readers.frame_cache import RecentFrames
from segany_video.readers.reader import ReaderSettings, open_video


def test_timestamps_follow_pts_within_1ms(vfr_mkv):
    with open_video(vfr_mkv.path) as video:
        times = np.concatenate([b.timestamps for b in video.batches(7)])
    expected = (np.array(VFR_PTS_MS) - VFR_PTS_MS[0]) / 1000.0
    assert len(times) == len(expected)
    np.testing.assert_allclose(times, expected, atol=1e-3, rtol=0)


def test_info_describes_the_clip(vfr_mkv, h264_mp4):
    with open_video(vfr_mkv.path) as video:
        info = video.info
    assert (info.width, info.height, info.rotation) == (WIDTH, HEIGHT, 0)
    assert info.codec == "ffv1" and info.backend == "pyav"
    assert isinstance(info.fps, Fraction) and info.fps > 0
    with open_video(h264_mp4.path) as video:
        assert video.info.frame_count == 40
        assert video.info.codec == "h264"
        assert video.info.duration == pytest.approx(h264_mp4.pts_ms[-1] / 1000, abs=0.05)


@pytest.mark.parametrize("size", [1, 3, 8])
@pytest.mark.parametrize("prefetch_batches", [0, 2])
def test_batches_give_every_frame_once_in_order(h264_mp4, size, prefetch_batches):
    oracle, _ = raw_decode(h264_mp4.path)
    settings = ReaderSettings(prefetch_batches=prefetch_batches)
    with open_video(h264_mp4.path, settings=settings) as video:
        batches = list(video.batches(size))
    assert all(1 <= len(b) <= size for b in batches)
    assert all(len(b) == size for b in batches[:-1])
    indices = np.concatenate([b.indices for b in batches])
    np.testing.assert_array_equal(indices, np.arange(len(oracle)))
    frames = np.concatenate([b.frames for b in batches])
    assert frames.dtype == np.uint8 and frames.shape == (len(oracle), HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(frames, oracle)


def test_lossless_frames_are_the_encoded_pixels(vfr_mkv):
    with open_video(vfr_mkv.path) as video:
        frames = np.concatenate([b.frames for b in video.batches(4)])
    np.testing.assert_array_equal(frames, vfr_mkv.frames)


def test_batches_respect_start_and_exclusive_end(h264_mp4):
    oracle, times = raw_decode(h264_mp4.path)
    with open_video(h264_mp4.path) as video:
        batches = list(video.batches(4, start=13, end=31))
    indices = np.concatenate([b.indices for b in batches])
    np.testing.assert_array_equal(indices, np.arange(13, 31))
    np.testing.assert_array_equal(np.concatenate([b.frames for b in batches]), oracle[13:31])
    np.testing.assert_allclose(
        np.concatenate([b.timestamps for b in batches]), times[13:31], atol=1e-3
    )


@pytest.mark.parametrize(
    "indices",
    [
        [5],
        [39, 0, 17, 17, 22],
        list(range(39, 19, -1)),  # a backward-propagation run
        [33, 31, 9, 8, 7, 38],
    ],
)
def test_read_frames_matches_sequential_decode(h264_mp4, indices):
    oracle, times = raw_decode(h264_mp4.path)
    with open_video(h264_mp4.path) as video:
        batch = video.read_frames(indices)
    np.testing.assert_array_equal(batch.indices, indices)
    np.testing.assert_array_equal(batch.frames, oracle[indices])
    np.testing.assert_allclose(batch.timestamps, times[indices], atol=1e-3)


@pytest.mark.parametrize("cache_mb", [0, 16])
def test_read_frames_after_iteration_and_in_reverse_runs(h264_mp4, cache_mb):
    oracle, _ = raw_decode(h264_mp4.path)
    with open_video(h264_mp4.path, settings=ReaderSettings(reread_cache_mb=cache_mb)) as video:
        for _ in video.batches(16):
            pass
        for top in range(39, -1, -6):
            run = list(range(top, max(top - 6, -1), -1))
            np.testing.assert_array_equal(video.read_frames(run).frames, oracle[run])


def test_reverse_runs_decode_each_stretch_once_with_the_cache(h264_mp4, monkeypatch):
    decoded = []
    original = pyav_source._Cursor.next_frame

    def counting(cursor):
        frame = original(cursor)
        decoded.append(frame is not None)
        return frame

    monkeypatch.setattr(pyav_source._Cursor, "next_frame", counting)
    totals = {}
    for cache_mb in (0, 16):
        decoded.clear()
        with open_video(h264_mp4.path, settings=ReaderSettings(reread_cache_mb=cache_mb)) as video:
            decoded.clear()  # not the frames decoded at open
            for top in range(39, -1, -3):
                video.read_frames(list(range(top, max(top - 3, -1), -1)))
        totals[cache_mb] = sum(decoded)
    # 40 frames, keyframe every 10, runs of 3: with the cache each GOP is decoded about once
    # (plus B-frame look-ahead); without it, most runs decode again from their keyframe.
    assert totals[16] <= 40 + 8, totals
    assert totals[0] > totals[16] * 1.5, totals


def test_read_frames_past_the_end_raises(h264_mp4):
    with open_video(h264_mp4.path) as video:
        with pytest.raises(FrameIndexError, match="40") as caught:
            video.read_frames([3, 40])
        assert isinstance(caught.value, IndexError)
        with pytest.raises(FrameIndexError):
            video.read_frames([-1])
        with pytest.raises(FrameIndexError):
            list(video.batches(4, start=55))
        # The source stays usable after a refused request.
        assert len(video.read_frames([39])) == 1


def test_read_frames_empty_request(h264_mp4):
    with open_video(h264_mp4.path) as video:
        batch = video.read_frames([])
    assert batch.frames.shape == (0, HEIGHT, WIDTH, 3)


def test_rotation_metadata_is_applied(rotated_mp4):
    with open_video(rotated_mp4.path) as video:
        info = video.info
        frames = np.concatenate([b.frames for b in video.batches(4)])
    # Display matrix: turn 90° counter-clockwise = 270° clockwise; size swaps.
    assert info.rotation == 270
    assert (info.width, info.height) == (HEIGHT, WIDTH)
    assert frames.shape[1:3] == (WIDTH, HEIGHT)
    np.testing.assert_array_equal(frames, np.rot90(rotated_mp4.frames, k=1, axes=(1, 2)))
    # The red top-left marker of the stored frame now sits bottom-left.
    assert (frames[0, -8:, :8] == (255, 0, 0)).all()


def test_legacy_rotate_tag_is_applied(rotate_tag_mkv):
    with open_video(rotate_tag_mkv.path) as video:
        assert video.info.rotation == 90
        assert (video.info.width, video.info.height) == (HEIGHT, WIDTH)
        frames = video.read_frames([0, 1, 2]).frames
    np.testing.assert_array_equal(frames, np.rot90(rotate_tag_mkv.frames, k=-1, axes=(1, 2)))
    assert (frames[0, :8, -8:] == (255, 0, 0)).all()  # top-left marker turned to top-right


def test_open_video_is_importable_from_package_and_accepts_pathlike(vfr_mkv):
    with segany_video.open_video(vfr_mkv.path) as video:  # a pathlib.Path
        assert video.info.source == str(vfr_mkv.path)


def test_closed_source_stops_iterators_and_refuses_reads(h264_mp4):
    video = open_video(h264_mp4.path)
    batches = video.batches(2)
    first = next(batches)
    assert len(first) == 2
    video.close()
    assert list(batches) == []
    with pytest.raises(ValueError, match="closed"):
        video.read_frames([0])
    video.close()  # twice is fine


def test_stopping_early_ends_the_decode_thread_and_the_next_pass_starts_over(h264_mp4):
    oracle, _ = raw_decode(h264_mp4.path)
    with open_video(h264_mp4.path) as video:
        batches = video.batches(4)
        np.testing.assert_array_equal(next(batches).frames, oracle[:4])
        batches.close()
        alive = [
            t.name for t in threading.enumerate() if t.name.startswith(("decoder[", "reader["))
        ]
        assert alive == []
        again = np.concatenate([b.frames for b in video.batches(16)])
    np.testing.assert_array_equal(again, oracle)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"backend": "opencv"}, "backend"),
        ({"image_fps": 0}, "image_fps"),
        ({"image_fps": "fast"}, "image_fps"),
        ({"on_truncated": "ignore"}, "on_truncated"),
        ({"prefetch_batches": -1}, "prefetch_batches"),
        ({"reread_cache_mb": 1.5}, "reread_cache_mb"),
        ({"prefetch": 2}, "unknown"),
    ],
)
def test_reader_settings_reject_invalid_values(values, message):
    with pytest.raises(ConfigError, match=message) as caught:
        ReaderSettings.from_dict(values)
    assert isinstance(caught.value, ValueError)


def test_reader_settings_from_dict_coerces_fps():
    settings = ReaderSettings.from_dict({"image_fps": "30000/1001", "on_truncated": "error"})
    assert settings.image_fps == Fraction(30000, 1001)
    assert ReaderSettings(image_fps=25).image_fps == Fraction(25)
    assert ReaderSettings() == ReaderSettings.from_dict({})


def test_read_frames_while_a_batch_iteration_runs(h264_mp4):
    # The runtime re-reads earlier frames (backward propagation) while the prefetch worker
    # keeps decoding forward: each needs its own decoder, and both must stay exact.
    oracle, _ = raw_decode(h264_mp4.path)
    with open_video(h264_mp4.path) as video:
        seen = []
        for batch in video.batches(5):
            seen.extend(batch.indices.tolist())
            np.testing.assert_array_equal(batch.frames, oracle[batch.indices])
            back = list(range(int(batch.indices[-1]), max(int(batch.indices[-1]) - 7, -1), -1))
            np.testing.assert_array_equal(video.read_frames(back).frames, oracle[back])
    assert seen == list(range(40))


def test_recent_frames_evicts_least_recently_used():
    cache = RecentFrames(budget_bytes=30, frame_bytes=10)  # room for 3
    for i in range(3):
        cache.put(i, f"frame{i}")
    assert cache.get(0) == "frame0"  # 0 is now the most recent
    cache.put(3, "frame3")  # evicts 1, the least recently used
    assert cache.get(1) is None
    assert [cache.get(i) for i in (0, 2, 3)] == ["frame0", "frame2", "frame3"]
    assert len(cache) == 3
    off = RecentFrames(budget_bytes=0, frame_bytes=10)
    off.put(0, "frame0")
    assert off.get(0) is None


def test_http_url_streams_and_rereads_by_reopening(truncated_mp4):
    # A plain HTTP server without range requests: the reader streams it, and random access
    # falls back to reopening the URL when seeking is impossible.
    full, _ = truncated_mp4
    oracle, _ = raw_decode(full.path)
    handler = functools.partial(QuietHandler, directory=str(full.path.parent))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/{full.path.name}"
            with open_video(url) as video:
                frames = np.concatenate([b.frames for b in video.batches(8)])
                back = video.read_frames([30, 29, 3])
        finally:
            server.shutdown()
    np.testing.assert_array_equal(frames, oracle)
    np.testing.assert_array_equal(back.frames, oracle[[30, 29, 3]])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        """Keep test output clean."""


PIPE_SCRIPT = """
import sys
from segany_video.errors import FrameIndexError
from segany_video.readers.reader import open_video
with open_video("-") as video:
    count = sum(len(b) for b in video.batches(8))
    try:
        video.read_frames([0])
    except FrameIndexError as exc:
        print(count, "gone by" in str(exc))
"""


def test_pipe_streams_once_and_refuses_going_back(truncated_mp4):
    full, _ = truncated_mp4  # index at the front, so it can be read without seeking
    with open(full.path, "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-c", PIPE_SCRIPT],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["40", "True"]
