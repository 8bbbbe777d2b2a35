"""Real DAVIS ground truth (854x480) through the writers: masks, PNGs and RLE survive exactly."""

from __future__ import annotations

from fractions import Fraction

import cv2
import numpy as np
import pytest
from writer_frames import decode

from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.writers.coco_json import read_tracks
from segany_video.writers.davis_png import read_davis_png
from segany_video.writers.outputs import OutputSet, WriterSettings
from segany_video.writers.rle import decode_rle

FRAMES = 4


@pytest.mark.real_data
@pytest.mark.parametrize("sequence", ["hockey", "motocross-bumps"])
def test_davis_ground_truth_round_trips_through_every_lossless_output(
    davis_root, tmp_path, sequence
):
    folder = davis_root / sequence
    frames = []
    for i in range(FRAMES):
        rgb = cv2.imread(str(folder / "JPEGImages" / f"{i:05d}.jpg"))[..., ::-1]
        mask = cv2.imread(str(folder / "Annotations" / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127
        obj = ObjectResult(sequence, mask, mask_box(mask), 1.0, TrackState.PROMPTED)
        frames.append((FrameResult(i, i / 24, {sequence: obj}), np.ascontiguousarray(rgb)))
    height, width = frames[0][0].objects[sequence].mask.shape
    info = VideoInfo(str(folder), width, height, Fraction(24), FRAMES, None, 0, "mjpeg", "images")
    settings = WriterSettings(formats=("masks", "png", "davis", "json", "overlay"))
    with OutputSet(tmp_path, info, [sequence], settings) as outputs:
        for result, rgb in frames:
            outputs.write(result, rgb)

    decoded, times = decode(tmp_path / "masks" / f"{sequence}.mkv")
    np.testing.assert_allclose(times, [i / 24 for i in range(FRAMES)], atol=1e-3)
    records = read_tracks(tmp_path / "tracks.json")["frames"]
    for (result, _), frame, record in zip(frames, decoded, records, strict=True):
        mask = result.objects[sequence].mask
        np.testing.assert_array_equal(frame.to_ndarray() == 255, mask)
        png = cv2.imread(str(tmp_path / "png" / sequence / f"{result.index:05d}.png"), 0)
        np.testing.assert_array_equal(png == 255, mask)
        np.testing.assert_array_equal(
            read_davis_png(tmp_path / f"davis/{result.index:05d}.png"), mask
        )
        np.testing.assert_array_equal(decode_rle(record["objects"][0]["mask"]), mask)
    assert len(decode(tmp_path / "overlay.mp4")[0]) == FRAMES
