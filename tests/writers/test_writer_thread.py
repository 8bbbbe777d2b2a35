"""WriterThread: bounded hand-over, failures reach the caller, stalls end in an error."""

from __future__ import annotations

import threading

import pytest

from segany_video.errors import PipelineError, WriterError
from segany_video.writers.writer_thread import WriterThread

# Generous upper bound for helper threads; a correct implementation returns far sooner.
JOIN_S = 20.0


def _call_in_thread(fn):
    """Run ``fn`` in a helper thread; returns (finished, raised) so a hang fails, not blocks."""
    outcome: dict = {}

    def target():
        try:
            fn()
        except BaseException as exc:
            outcome["exc"] = exc

    helper = threading.Thread(target=target, daemon=True)
    helper.start()
    helper.join(JOIN_S)
    return not helper.is_alive(), outcome.get("exc")


def test_items_are_consumed_in_order_and_close_waits_for_all():
    seen = []
    with WriterThread(seen.append, depth=2, name="order") as thread:
        for i in range(50):
            thread.put(i)
    assert seen == list(range(50))
    assert not thread.alive


@pytest.mark.parametrize(
    ("error", "raised", "chained"),
    [
        (WriterError("disk full at frame 3"), WriterError, False),
        (ZeroDivisionError("bug in a writer"), PipelineError, True),
    ],
)
def test_worker_exception_reaches_the_caller(error, raised, chained):
    def consume(item):
        if item == 3:
            raise error

    def produce():
        with WriterThread(consume, depth=2, name="failing") as thread:
            for i in range(100):
                thread.put(i)

    finished, exc = _call_in_thread(produce)
    assert finished
    assert isinstance(exc, raised)
    if chained:
        assert exc.__cause__ is error and "failing" in str(exc)
    else:
        assert exc is error


def test_failure_on_the_last_item_is_raised_by_close():
    def consume(item):
        if item == "last":
            raise WriterError("could not finish")

    thread = WriterThread(consume, depth=4, name="late")
    thread.put("first")
    thread.put("last")
    with pytest.raises(WriterError, match="could not finish"):
        thread.close()


def test_stalled_consumer_does_not_hang_the_producer_forever():
    release = threading.Event()
    thread = WriterThread(lambda item: release.wait(JOIN_S), depth=1, stall_timeout_s=0.3)

    def produce():
        for i in range(10):
            thread.put(i)

    try:
        finished, exc = _call_in_thread(produce)
        assert finished
        assert isinstance(exc, WriterError) and "finished nothing" in str(exc)
    finally:
        release.set()


def test_stalled_consumer_does_not_hang_close_forever():
    release = threading.Event()
    thread = WriterThread(lambda item: release.wait(JOIN_S), depth=4, stall_timeout_s=0.3)
    thread.put(1)
    try:
        finished, exc = _call_in_thread(thread.close)
        assert finished and isinstance(exc, WriterError)
    finally:
        release.set()


def test_a_slow_producer_is_not_mistaken_for_a_stall():
    seen = []
    gate = threading.Event()
    thread = WriterThread(seen.append, depth=1, stall_timeout_s=0.2)
    thread.put(1)
    gate.wait(0.5)  # the caller is busy longer than the stall timeout; the worker is idle
    thread.put(2)
    thread.close()
    assert seen == [1, 2]


def test_abort_drops_queued_items_and_stops_the_worker():
    started, release, seen = threading.Event(), threading.Event(), []

    def consume(item):
        started.set()
        release.wait(JOIN_S)
        seen.append(item)

    thread = WriterThread(consume, depth=8)
    for i in range(5):
        thread.put(i)
    assert started.wait(JOIN_S)
    release.set()
    thread.abort()
    assert not thread.alive
    assert seen == [0]  # the item in progress finishes; the queued ones are dropped


def test_put_after_close_is_an_error():
    thread = WriterThread(lambda item: None)
    thread.close()
    with pytest.raises(PipelineError, match="after close"):
        thread.put(1)


@pytest.mark.parametrize(("depth", "stall"), [(0, 1.0), (1.5, 1.0), (1, 0), (1, -2.0)])
def test_bad_arguments(depth, stall):
    with pytest.raises(ValueError):
        WriterThread(lambda item: None, depth=depth, stall_timeout_s=stall)
