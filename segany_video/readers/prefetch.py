"""Run an iterator in a worker thread, handing items over through a bounded queue.

Readers use it to decode the next batches while the caller works on the current one; the
runtime and the writers reuse it for their own stages. The contract every stage relies on:

* memory is bounded: at most ``depth`` items wait in the queue;
* an exception in the worker reaches the consumer on its next ``next()`` call, with the
  worker's traceback (typed package errors as themselves, anything else wrapped in
  :class:`~segany_video.errors.PipelineError` with the original as ``__cause__``);
* no wait is unbounded: every queue operation uses a short timeout and re-checks whether the
  other side is still there, so a dead worker or an abandoned consumer never hangs a thread;
* stopping early (``close()``, leaving a ``with`` block, or dropping a ``for`` loop over the
  generator that owns it) stops the worker and closes the source iterator in the worker thread.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

from segany_video.errors import PipelineError, SegAnyVideoError

T = TypeVar("T")

_POLL_S = 0.05
_JOIN_TIMEOUT_S = 10.0


class _End:
    """The worker's end marker: the source iterator is exhausted."""


class _Failure:
    """The worker's failure marker, carrying the exception it caught."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class _Worker:
    """The thread's side. It holds no reference to the :class:`Prefetcher`, so a consumer that
    drops its prefetcher without closing it still gets collected, and ``__del__`` stops this."""

    def __init__(self, iterable: Iterable[object], name: str, depth: int) -> None:
        self.iterable = iterable
        self.name = name
        self.queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()

    def put(self, item: object) -> bool:
        """Queue ``item``; returns False when the consumer has asked the worker to stop."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def run(self) -> None:
        iterator = None
        try:
            iterator = iter(self.iterable)
            for item in iterator:
                if not self.put(item):
                    return
            self.put(_End())
        except BaseException as exc:  # every failure must reach the consumer, not die here
            self.put(_Failure(exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # the consumer is gone or done; report, don't raise
                    warnings.warn(
                        f"{self.name}: closing the source iterator failed: {exc!r}",
                        RuntimeWarning,
                        stacklevel=1,
                    )


class Prefetcher(Iterator[T], Generic[T]):
    """Iterator over ``iterable`` whose items are produced ahead by a worker thread.

    The thread starts on the first ``next()`` call, so building a prefetcher that is never
    iterated costs nothing. Use it as a context manager (or call :meth:`close`) when you may
    stop before the end.

    Args:
        iterable: the source; it is iterated (and closed, if it has ``close``) in the worker.
        depth: how many items may wait in the queue (>= 1).
        name: thread name, also used in error messages.
        stall_timeout_s: if set, raise :class:`PipelineError` when the worker, although alive,
            has produced nothing for this long (a stalled network stream); ``None`` waits as
            long as the worker lives.
    """

    def __init__(
        self,
        iterable: Iterable[T],
        depth: int,
        name: str = "prefetch",
        stall_timeout_s: float | None = None,
    ) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"prefetch depth must be an int >= 1, got {depth!r}")
        if stall_timeout_s is not None and stall_timeout_s <= 0:
            raise ValueError(f"stall_timeout_s must be > 0 or None, got {stall_timeout_s!r}")
        self._name = name
        self._stall_timeout_s = stall_timeout_s
        self._worker = _Worker(iterable, name, depth)
        self._queue = self._worker.queue
        self._stop = self._worker.stop
        self._thread: threading.Thread | None = None
        self._finished = False

    # -- consumer side -------------------------------------------------------------------

    def __iter__(self) -> Prefetcher[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        if self._thread is None:
            self._thread = threading.Thread(target=self._worker.run, name=self._name, daemon=True)
            self._thread.start()
        waited_since = time.monotonic()
        while True:
            try:
                item = self._queue.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._finished = True
                    raise PipelineError(
                        f"{self._name}: worker thread ended without an end marker"
                    ) from None
                stalled = time.monotonic() - waited_since
                if self._stall_timeout_s is not None and stalled > self._stall_timeout_s:
                    # The worker is stuck inside its source: ask it to stop but don't wait.
                    self._finished = True
                    self._stop.set()
                    raise PipelineError(
                        f"{self._name}: no item for {stalled:.1f} s although the worker is "
                        "alive (stalled input?); raise stall_timeout_s if this is expected"
                    ) from None
        if isinstance(item, _End):
            self._finished = True
            self._join()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finished = True
            self._join()
            exc = item.exc
            if isinstance(exc, SegAnyVideoError):
                # Typed errors already say what went wrong; re-raising keeps the worker frames
                # in exc.__traceback__ and lets callers catch the specific class.
                raise exc
            raise PipelineError(
                f"{self._name}: worker thread failed: {type(exc).__name__}: {exc}"
            ) from exc
        return item  # type: ignore[return-value]

    def _join(self) -> None:
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout=_JOIN_TIMEOUT_S)
        if thread.is_alive():
            warnings.warn(
                f"{self._name}: worker thread still busy {_JOIN_TIMEOUT_S:.0f} s after stop; "
                "it exits when its current item completes",
                ResourceWarning,
                stacklevel=3,
            )

    def close(self) -> None:
        """Stop the worker (if running), drop queued items and wait briefly for it to exit."""
        self._finished = True
        self._stop.set()
        # Draining frees a worker blocked on a full queue right away instead of at its next poll.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._join()

    def __enter__(self) -> Prefetcher[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A consumer that drops the iterator without closing it must not leave a thread behind.
        stop = getattr(self, "_stop", None)  # absent when __init__ rejected its arguments
        if stop is not None and not self._finished:
            stop.set()


def prefetch(
    iterable: Iterable[T],
    depth: int,
    name: str = "prefetch",
    stall_timeout_s: float | None = None,
) -> Prefetcher[T]:
    """Iterate ``iterable`` in a worker thread, at most ``depth`` items ahead.

    Returns a :class:`Prefetcher`: an iterator that is also a context manager with ``close()``.
    See the module docstring for the error and shutdown guarantees.

    Example:
        >>> with prefetch(video.batches(8), depth=2, name="reader") as batches:
        ...     for batch in batches:
        ...         ...
    """
    return Prefetcher(iterable, depth, name=name, stall_timeout_s=stall_timeout_s)
