"""The runtime over a real decoded clip (PyAV reader with its own prefetch thread)."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from engine_stubs import StubEngine, wait_until

from segany_video.readers.reader import open_video
from segany_video.runtime.encoded import encode_sequentially
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings

FRAMES = 13


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A 13-frame 48x32 MPEG-4 clip of a bright square moving right."""
    path = tmp_path_factory.mktemp("runtime") / "moving.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        for i in range(FRAMES):
            image = np.full((32, 48, 3), 30, np.uint8)
            image[8:24, 2 + 2 * i : 14 + 2 * i] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def live_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(("segany-", "reader["))]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_clip_streams_like_the_sequential_reference(clip, batch_size):
    with open_video(clip) as video:
        triples = [
            (int(b.indices[0]), float(b.timestamps[0]), b.frames[0]) for b in video.batches(1)
        ]
    expected = list(encode_sequentially(StubEngine(), triples))
    assert len(expected) == FRAMES

    runtime = Runtime(StubEngine(), RuntimeSettings(device="cpu", batch_size=batch_size))
    with open_video(clip) as video:
        got = list(runtime.stream(video))
    assert [f.index for f in got] == list(range(FRAMES))
    for g, e in zip(got, expected, strict=True):
        assert g.timestamp == e.timestamp
        np.testing.assert_array_equal(g.image, e.image)
        assert torch.equal(g.features.embedding, e.features.embedding)
    assert wait_until(lambda: not live_workers())


def test_clip_backwards_reread(clip):
    runtime = Runtime(StubEngine(), RuntimeSettings(device="cpu", batch_size=4))
    with open_video(clip) as video:
        forward = {f.index: f for f in runtime.stream(video)}
        backward = list(runtime.stream_indices(video, range(9, -1, -1)))
    assert [f.index for f in backward] == list(range(9, -1, -1))
    for f in backward:
        np.testing.assert_array_equal(f.image, forward[f.index].image)
        assert torch.equal(f.features.embedding, forward[f.index].features.embedding)


def test_clip_early_close_stops_reader_and_encoder(clip):
    runtime = Runtime(StubEngine(), RuntimeSettings(device="cpu", batch_size=2))
    with open_video(clip) as video:
        stream = runtime.stream(video)
        assert next(stream).index == 0
        stream.close()
        assert wait_until(lambda: not live_workers())
