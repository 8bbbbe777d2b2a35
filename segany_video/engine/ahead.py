"""Run an iterator ahead of its consumer in a worker thread, through a bounded queue.

The runtime chains two of these (reader -> encoder -> caller). The rules that keep a chain of
threads from hanging or leaking:

- The queue is bounded, so a stage never gets more than ``depth`` items ahead (memory stays
  bounded whatever the video length).
- No wait is unbounded: the worker's ``put`` and the consumer's ``get`` poll, so a worker sees a
  stop request and a consumer sees a worker that died without saying why.
- An exception in the worker travels through the queue and is raised in the consumer: this
  package's own errors as they are (their traceback shows the worker's frames), anything else as
  :class:`PipelineError` naming the stage, with the original chained as ``__cause__``.
- Closing the consumer's generator (``close()``, garbage collection, an exception or Ctrl-C
  while it waits) stops the worker, which then closes its own source iterator, so a chain of
  stages unwinds from the consumer back to the reader.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from segany_video.errors import PipelineError, SegAnyVideoError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: How often blocked waits wake to check for a stop request or a dead worker (seconds).
POLL_S = 0.05
#: How long closing waits for a worker to notice the stop before leaving it (a daemon thread
#: that is inside a long forward pass) to finish on its own.
JOIN_S = 2.0

_ITEM, _END, _ERROR = "item", "end", "error"
_serial = itertools.count(1)


def run_ahead(items: Iterable[T], *, depth: int, name: str) -> Iterator[T]:
    """Iterate ``items`` in a daemon thread, at most ``depth`` items ahead of the caller.

    The thread starts on the first ``next()`` and is stopped when this generator finishes or
    is closed. ``items`` is iterated (``iter()`` included) only in the worker thread, so
    thread-local state it sets up (``torch.inference_mode``, autocast) stays in that thread.

    Args:
        items: the source; a generator is closed in the worker when the stage stops.
        depth: queue capacity (>= 1).
        name: stage name for the thread and error messages, e.g. ``"reader"``.

    Yields:
        The items of ``items``, in order.

    Raises:
        SegAnyVideoError: raised by the source, re-raised as it is.
        PipelineError: anything else the source raised (chained), or the worker vanished.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    channel: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(
        target=_work,
        args=(items, channel, stop),
        name=f"segany-{name}-{next(_serial)}",
        daemon=True,
    )
    thread.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=POLL_S)
            except queue.Empty:
                if not thread.is_alive() and channel.empty():
                    raise PipelineError(
                        f"the {name} thread ended without finishing or reporting an error"
                    ) from None
                continue
            if kind == _END:
                return
            if kind == _ERROR:
                assert isinstance(payload, BaseException), payload
                if isinstance(payload, SegAnyVideoError):
                    raise payload
                raise PipelineError(
                    f"the {name} stage failed: {type(payload).__name__}: {payload}"
                ) from payload
            yield payload  # type: ignore[misc]
    finally:
        stop.set()
        _drain(channel)
        thread.join(timeout=JOIN_S)
        if thread.is_alive():
            log.debug("%s is still busy after stop; it exits when its current step ends", thread)


def _work(items: Iterable[T], channel: queue.Queue, stop: threading.Event) -> None:
    iterator: Iterator[T] | None = None
    try:
        iterator = iter(items)
        for item in iterator:
            if not _put(channel, (_ITEM, item), stop):
                return
        _put(channel, (_END, None), stop)
    except BaseException as exc:  # forwarded to the consumer, which decides what it means
        _put(channel, (_ERROR, exc), stop)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            try:
                close()
            except Exception:  # closing after a stop must not mask the original outcome
                log.exception("closing the source of %s failed", threading.current_thread().name)


def _put(channel: queue.Queue, message: tuple[str, object], stop: threading.Event) -> bool:
    """Put unless a stop is requested first; True when the message was queued."""
    while not stop.is_set():
        try:
            channel.put(message, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _drain(channel: queue.Queue) -> None:
    # Dropping what is queued frees its memory now and unblocks a worker waiting to put.
    while True:
        try:
            channel.get_nowait()
        except queue.Empty:
            return
