"""The prefetch helper: order, bounded look-ahead, errors reach the consumer, clean early stop."""

from __future__ import annotations

import threading
import time
import traceback

import pytest

from segany_video.errors import PipelineError, VideoDecodeError
from segany_video.readers import prefetch as prefetch_module
from segany_video.readers.prefetch import prefetch


class Source:
    """A generator-backed source that records how far it was pulled and whether it closed."""

    def __init__(self, n: int, fail_at: int | None = None, exc: BaseException | None = None):
        self.n, self.fail_at, self.exc = n, fail_at, exc
        self.produced = 0
        self.closed = threading.Event()
        self.thread_names: set[str] = set()

    def __iter__(self):
        try:
            for i in range(self.n):
                self.thread_names.add(threading.current_thread().name)
                if i == self.fail_at:
                    raise self.exc
                self.produced += 1
                yield i
        finally:
            self.closed.set()


def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_items_arrive_in_order_from_a_worker_thread():
    source = Source(50)
    assert list(prefetch(source, depth=3, name="order-test")) == list(range(50))
    assert source.thread_names == {"order-test"}
    assert source.closed.is_set()


def test_look_ahead_is_bounded_by_depth():
    source = Source(100)
    items = prefetch(source, depth=2)
    assert next(items) == 0
    # Worker holds at most: depth items queued + one blocked in put.
    time.sleep(0.3)
    assert source.produced <= 1 + 2 + 1
    items.close()


def test_typed_error_reaches_consumer_with_worker_traceback():
    error = VideoDecodeError("clip.mp4: broke off after frame 2")
    got = []
    with pytest.raises(VideoDecodeError) as caught:
        for item in prefetch(Source(10, fail_at=3, exc=error), depth=2):
            got.append(item)
    assert got == [0, 1, 2]  # everything before the failure is delivered first
    assert caught.value is error
    frames = "".join(traceback.format_tb(caught.value.__traceback__))
    assert "__iter__" in frames  # the worker-side frame that raised


def test_other_errors_are_wrapped_and_chained():
    with pytest.raises(PipelineError, match=r"reader.*ZeroDivisionError") as caught:
        list(prefetch(Source(10, fail_at=1, exc=ZeroDivisionError("boom")), 2, name="reader"))
    assert isinstance(caught.value.__cause__, ZeroDivisionError)
    assert caught.value.__cause__.__traceback__ is not None


def test_early_close_stops_worker_and_closes_source():
    source = Source(10_000)
    with prefetch(source, depth=2, name="early") as items:
        assert next(items) == 0
    assert source.closed.wait(5)
    assert _wait_for(lambda: not any(t.name == "early" for t in threading.enumerate()))
    assert source.produced < 10
    assert list(items) == []


def test_generator_owner_stopping_early_closes_prefetcher():
    source = Source(10_000)

    def consumer():
        with prefetch(source, depth=1, name="owner") as items:
            yield from items

    gen = consumer()
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert source.closed.wait(5)


def test_consumer_does_not_hang_when_worker_dies_without_marker(monkeypatch):
    monkeypatch.setattr(prefetch_module._Worker, "run", lambda self: None)  # exits silently
    items = prefetch(Source(5), depth=2, name="dies")
    with pytest.raises(PipelineError, match="without an end marker"):
        next(items)


def test_stall_timeout_raises_instead_of_waiting_forever():
    release = threading.Event()

    def slow():
        yield 1
        release.wait(10)
        yield 2

    items = prefetch(slow(), depth=1, stall_timeout_s=0.2)
    assert next(items) == 1
    with pytest.raises(PipelineError, match="stalled"):
        next(items)
    release.set()


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth"):
        prefetch([], depth=0)


def test_dropped_prefetcher_stops_its_worker():
    source = Source(10_000)
    items = prefetch(source, depth=2, name="dropped")
    assert next(items) == 0
    del items  # never closed: collection must still stop the worker and close the source
    assert source.closed.wait(5)
    assert _wait_for(lambda: not any(t.name == "dropped" for t in threading.enumerate()))
