"""Real footage from ../shared/data/videos (skipped where absent)."""

from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest

from segany_video.readers.reader import open_video

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def videos(shared_data):
    return shared_data / "videos"


def test_surveillance_clip_end_to_end_with_bounded_memory(videos):
    psutil = pytest.importorskip("psutil")
    process = psutil.Process()
    path = videos / "intel_one-by-one-person-detection.mp4"
    count, previous, rss_early, rss_peak = 0, -1, None, 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete file must not warn
        with open_video(path) as video:
            assert (video.info.width, video.info.height) == (768, 432)
            assert video.info.fps == 10
            for batch in video.batches(16):
                assert batch.indices[0] == previous + 1
                previous = int(batch.indices[-1])
                count += len(batch)
                rss = process.memory_info().rss
                if rss_early is None and count >= 100:
                    rss_early = rss
                rss_peak = max(rss_peak, rss)
    assert count == 1394
    # The whole clip decoded is ~1.4 GB of RGB; growth after the first 100 frames must stay a
    # small multiple of a few batches (16 x 1 MB each), nowhere near the clip's size.
    growth = rss_peak - rss_early
    assert growth < 150 * 2**20, f"RSS grew {growth / 2**20:.0f} MiB while streaming"


def test_xvid_avi_has_748_decodable_frames(videos):
    path = videos / "bgslibrary_video02_highway.avi"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 2 frames short of the header is normal for AVI
        with open_video(path) as video:
            assert video.info.frame_count == 750  # what the header says
            assert (video.info.width, video.info.height) == (320, 240)
            times, indices = [], []
            for batch in video.batches(64):
                times.append(batch.timestamps)
                indices.append(batch.indices)
            last = video.read_frames([747, 746, 300])
    indices, times = np.concatenate(indices), np.concatenate(times)
    np.testing.assert_array_equal(indices, np.arange(748))
    # The AVI's PTS are shuffled by packed B-frames; timestamps must still rise steadily.
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=1e-6)
    np.testing.assert_allclose(last.timestamps, [747 / 25, 746 / 25, 300 / 25], atol=1e-6)


def test_29_97_fps_clip_rate_and_timestamps(videos):
    path = videos / "sam2_01_dog.mp4"
    with open_video(path) as video:
        assert video.info.fps == Fraction(30000, 1001)
        assert video.info.frame_count == 289
        # 60 frames are enough to see the 1001/30000 s spacing; the rest would cost time.
        times = np.concatenate([b.timestamps for b in video.batches(20, end=60)])
    np.testing.assert_allclose(times, np.arange(60) * 1001 / 30000, atol=1e-3)
