"""Run a consumer (the writers) in a worker thread fed through a bounded queue.

The mirror image of :mod:`segany_video.readers.prefetch` (which runs a producer ahead of the caller):
here the caller produces and a worker consumes, so encoding and disk writes overlap with the
caller's tracking. The same contract holds:

* memory is bounded: at most ``depth`` items wait in the queue; a caller that outruns the
  writers blocks in :meth:`WriterThread.put`;
* an exception in the worker reaches the caller on its next :meth:`~WriterThread.put` or on
  :meth:`~WriterThread.close` (package errors as themselves, anything else wrapped in
  :class:`~segany_video.errors.PipelineError` with the original as ``__cause__``); after a
  failure the worker discards what is queued instead of writing it;
* no wait is unbounded: every queue operation polls, and when the worker, although alive, has
  finished nothing for ``stall_timeout_s`` (a hung network drive, a wedged encoder) the caller
  gets a :class:`~segany_video.errors.WriterError` instead of waiting forever.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from segany_video.errors import PipelineError, SegAnyVideoError, WriterError

T = TypeVar("T")

_POLL_S = 0.05
_END = object()  # the caller's end marker: nothing more will come


class WriterThread(Generic[T]):
    """A worker thread that calls ``consume(item)`` for every item the caller puts.

    Args:
        consume: called in the worker, in order, once per item.
        depth: queue capacity (>= 1).
        name: thread name, also used in error messages.
        stall_timeout_s: how long the caller waits for the worker to finish one item before
            giving up with a ``WriterError`` (> 0).

    Example:
        >>> with WriterThread(writer.write, depth=8, name="writers") as thread:
        ...     for item in items:
        ...         thread.put(item)
    """

    def __init__(
        self,
        consume: Callable[[T], None],
        depth: int = 8,
        name: str = "writers",
        stall_timeout_s: float = 120.0,
    ) -> None:
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"writer queue depth must be an int >= 1, got {depth!r}")
        if not stall_timeout_s > 0:
            raise ValueError(f"stall_timeout_s must be > 0, got {stall_timeout_s!r}")
        self._consume = consume
        self._name = name
        self._stall_timeout_s = float(stall_timeout_s)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._progress_at = time.monotonic()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    # -- worker side ---------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if item is _END:
                return
            if self._error is not None:
                continue  # failed already: drain so the caller never blocks on a full queue
            try:
                self._consume(item)  # type: ignore[arg-type]
            except BaseException as exc:  # every failure must reach the caller
                self._error = exc
            self._progress_at = time.monotonic()

    # -- caller side ---------------------------------------------------------------------

    def _raise_failure(self) -> None:
        exc = self._error
        if exc is None:
            return
        if isinstance(exc, SegAnyVideoError):
            raise exc
        raise PipelineError(f"{self._name}: worker failed: {type(exc).__name__}: {exc}") from exc

    def _check_stall(self, waiting_since: float) -> None:
        # Idle time counts from the later of "we started waiting" and "the worker last finished
        # an item": a worker that was idle because the caller was slow is not stalled.
        idle = time.monotonic() - max(waiting_since, self._progress_at)
        if idle > self._stall_timeout_s:
            self.abort()
            raise WriterError(
                f"{self._name}: the writer finished nothing for {idle:.1f} s (hung disk or "
                "encoder?); check the output folder's storage, or raise stall_timeout_s"
            )

    def put(self, item: T) -> None:
        """Hand ``item`` to the worker, waiting while the queue is full.

        Raises:
            SegAnyVideoError / PipelineError: the worker failed on an earlier item.
            WriterError: the worker made no progress for ``stall_timeout_s``.
        """
        if self._closed:
            raise PipelineError(f"{self._name}: put() after close()")
        self._raise_failure()
        waiting_since = time.monotonic()
        while True:
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                self._raise_failure()
                if not self._thread.is_alive():
                    raise PipelineError(f"{self._name}: worker thread is gone") from None
                self._check_stall(waiting_since)

    def close(self) -> None:
        """Send the end marker and wait until everything queued has been consumed.

        Raises:
            SegAnyVideoError / PipelineError: the worker failed.
            WriterError: the worker made no progress for ``stall_timeout_s``.
        """
        if self._closed:
            self._raise_failure()
            return
        self.put(_END)  # type: ignore[arg-type]
        self._closed = True
        waiting_since = time.monotonic()
        while self._thread.is_alive():
            self._thread.join(timeout=_POLL_S)
            if self._thread.is_alive():
                self._check_stall(waiting_since)
        self._raise_failure()

    def abort(self) -> None:
        """Stop the worker without consuming what is queued; never raises.

        A worker stuck inside ``consume`` cannot be interrupted; it is a daemon thread and
        exits when that call returns.
        """
        self._closed = True
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=1.0)

    @property
    def alive(self) -> bool:
        """True while the worker thread runs."""
        return self._thread.is_alive()

    def __enter__(self) -> WriterThread[T]:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
