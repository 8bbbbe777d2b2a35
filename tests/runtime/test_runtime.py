"""The threaded runtime against the single-threaded reference, with stub engines and videos."""

from __future__ import annotations

import time
import traceback

import numpy as np
import pytest
import torch
from engine_stubs import MemoryVideo, StubEngine, make_frames, wait_until

from segany_video.errors import (
    DeviceError,
    OutOfMemoryError,
    PipelineError,
    VideoDecodeError,
)
from segany_video.models.base import EngineInfo
from segany_video.runtime.encoded import encode_sequentially
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings


def cpu_runtime(model, batch_size: int | None = 3, queue_depth: int = 2) -> Runtime:
    return Runtime(
        model,
        RuntimeSettings(device="cpu", batch_size=batch_size, queue_depth=queue_depth),
    )


def reference(model, frames: np.ndarray, indices) -> list:
    triples = [(i, i / 25.0, frames[i]) for i in indices]
    return list(encode_sequentially(model, triples))


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize("count", [10, 16])
def test_every_frame_once_in_order_and_equal_to_reference(batch_size, count, runtime_threads):
    frames = make_frames(count)
    model = StubEngine()
    got = list(cpu_runtime(model, batch_size).stream(MemoryVideo(frames)))
    expected = reference(StubEngine(), frames, range(count))

    assert [f.index for f in got] == list(range(count))
    assert [f.timestamp for f in got] == [e.timestamp for e in expected]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.image, e.image)
        assert g.features.frame_size == e.features.frame_size
        assert torch.equal(g.features.embedding, e.features.embedding)
    # Batches really were B frames per forward (the last one shorter).
    full, rest = divmod(count, batch_size)
    assert model.batch_sizes == [batch_size] * full + ([rest] if rest else [])
    # Encoding ran off the caller's thread, in inference mode.
    assert all(name.startswith("segany-encoder") for name in model.threads)
    assert not any(model.grad_enabled)
    assert wait_until(lambda: not runtime_threads())


def test_start_end_window():
    frames = make_frames(12)
    got = list(cpu_runtime(StubEngine(), 4).stream(MemoryVideo(frames), start=5, end=11))
    assert [f.index for f in got] == [5, 6, 7, 8, 9, 10]
    np.testing.assert_array_equal(got[0].image, frames[5])


@pytest.mark.parametrize("indices", [[9, 8, 7, 6, 5, 4, 3], [2, 7, 2, 0], []])
def test_stream_indices_in_given_order(indices):
    frames = make_frames(10)
    got = list(cpu_runtime(StubEngine(), 3).stream_indices(MemoryVideo(frames), indices))
    expected = reference(StubEngine(), frames, indices)
    assert [f.index for f in got] == list(indices)
    for g, e in zip(got, expected, strict=True):
        assert torch.equal(g.features.embedding, e.features.embedding)


def test_decode_through_runtime_matches_engine():
    frames = make_frames(3)
    model = StubEngine()
    runtime = cpu_runtime(model)
    from segany_video.models.base import ObjectPrompt

    prompts = [ObjectPrompt(box=np.array([0, 0, 4, 4])), ObjectPrompt(box=np.array([1, 1, 5, 5]))]
    for frame in runtime.stream(MemoryVideo(frames)):
        got = runtime.decode(frame.features, prompts)
        want = model.decode(frame.features, prompts)
        assert torch.equal(got.logits, want.logits)
        assert not got.logits.requires_grad


def test_engine_error_reaches_caller_with_cause(runtime_threads):
    frames = make_frames(10)
    stream = cpu_runtime(StubEngine(fail_on=7), 3).stream(MemoryVideo(frames))
    seen = []
    with pytest.raises(PipelineError, match="encoder") as info:
        for frame in stream:
            seen.append(frame.index)
    assert isinstance(info.value.__cause__, ValueError)
    assert "frame value 7" in str(info.value.__cause__)
    # The traceback of the cause points into the engine, in its thread.
    assert "embed" in [f.name for f in traceback.extract_tb(info.value.__cause__.__traceback__)]
    assert seen == [0, 1, 2, 3, 4, 5]  # everything before the failing batch arrived
    assert wait_until(lambda: not runtime_threads())


def test_reader_error_reaches_caller_unchanged(runtime_threads):
    video = MemoryVideo(make_frames(10), fail_at=5)
    with pytest.raises(VideoDecodeError, match="frame 5"):
        list(cpu_runtime(StubEngine(), 2).stream(video))
    assert wait_until(lambda: not runtime_threads())


def test_early_close_stops_threads_and_reader(runtime_threads):
    video = MemoryVideo(make_frames(40))
    stream = cpu_runtime(StubEngine(), 2).stream(video)
    first = [next(stream).index for _ in range(3)]
    assert first == [0, 1, 2]
    assert runtime_threads()  # reader and encoder are running ahead
    stream.close()
    assert wait_until(lambda: not runtime_threads())
    assert video.closed_iterators == 1  # the reader's source iterator was closed, not leaked
    assert video.produced < 40


def test_stalled_consumer_bounds_read_ahead_and_resumes(runtime_threads):
    """A consumer that stops (as behind a stalled writer) neither deadlocks nor lets the
    reader run away: at most (2 * depth + 2) batches are read ahead, then all frames arrive."""
    batch, depth = 2, 2
    video = MemoryVideo(make_frames(60))
    stream = cpu_runtime(StubEngine(), batch, queue_depth=depth).stream(video)
    assert next(stream).index == 0
    time.sleep(0.5)  # consumer stalls; reader and encoder fill their queues and wait
    ahead = video.produced
    assert ahead <= (2 * depth + 3) * batch
    assert ahead >= 2 * batch  # ...but they did run ahead while the consumer was busy
    rest = [f.index for f in stream]
    assert rest == list(range(1, 60))
    assert wait_until(lambda: not runtime_threads())


def test_keyboard_interrupt_while_waiting_stops_threads(runtime_threads):
    import _thread
    import threading

    video = MemoryVideo(make_frames(40), read_delay_s=0.05)
    stream = cpu_runtime(StubEngine(delay_s=0.05), 2).stream(video)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in stream:
                pass
    finally:
        timer.cancel()
    assert wait_until(lambda: not runtime_threads())
    assert video.produced < 40


def test_out_of_memory_retries_at_half_batch_then_keeps_it():
    frames = make_frames(10)
    model = StubEngine(oom_above=2)
    runtime = cpu_runtime(model, batch_size=4)
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(10))
    assert runtime.batch_size == 2
    assert max(model.batch_sizes) == 2
    expected = reference(StubEngine(), frames, range(10))
    for g, e in zip(got, expected, strict=True):
        assert torch.equal(g.features.embedding, e.features.embedding)


def test_out_of_memory_twice_raises_clear_error():
    model = StubEngine(oom_above=1)
    runtime = cpu_runtime(model, batch_size=4)
    with pytest.raises(OutOfMemoryError, match=r"frames 0\.\.1 .*retrying at batch size 2"):
        list(runtime.stream(MemoryVideo(make_frames(8))))


def test_model_on_other_device_is_refused():
    class MetaEngine(StubEngine):
        info = EngineInfo("meta-stub", "on the meta device")

        @property
        def device(self) -> torch.device:
            return torch.device("meta")

    with pytest.raises(DeviceError, match="meta-stub was built on meta"):
        Runtime(MetaEngine(), RuntimeSettings(device="cpu"))


def test_module_engine_is_moved_and_auto_batch_on_cpu():
    class ModuleEngine(torch.nn.Module, StubEngine):
        def __init__(self) -> None:
            torch.nn.Module.__init__(self)
            StubEngine.__init__(self)
            self.scale = torch.nn.Parameter(torch.ones(1))

    runtime = Runtime(ModuleEngine(), RuntimeSettings(device="cpu"))
    got = list(runtime.stream(MemoryVideo(make_frames(5))))
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert runtime.batch_size == 2  # the fixed CPU default
