"""One background job at a time (tracking or export), with progress and cancelling."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from segany_video.errors import SegAnyVideoError

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a job's work when the user pressed cancel."""


@dataclass
class Progress:
    """What the page's progress bar shows."""

    kind: str = ""
    state: str = "idle"  # idle | running | done | cancelled | failed
    done: int = 0
    total: int | None = None
    first: int | None = None  # first frame this job (re)tracks
    message: str = ""
    started: float = 0.0
    finished: float = 0.0

    def to_dict(self) -> dict:
        end = self.finished if self.state != "running" else time.monotonic()
        elapsed = max(end - self.started, 0.0) if self.started else 0.0
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = None
        if self.state == "running" and self.total is not None and rate > 0:
            eta = round(max(self.total - self.done, 0) / rate, 1)
        return {
            "kind": self.kind,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "first": self.first,
            "frames_per_s": round(rate, 2),
            "eta_s": eta,
            "elapsed_s": round(elapsed, 2),
            "message": self.message,
        }


class JobRunner:
    """Runs one job at a time in a daemon thread.

    The work function receives a ``tick(done, total)`` callback; calling it after cancel was
    requested raises :class:`Cancelled`, which ends the job as "cancelled".
    """

    def __init__(self) -> None:
        self.progress = Progress()
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, kind: str, work: Callable[[Callable[[int, int | None], None]], str]) -> None:
        """Start ``work(tick) -> message`` in the background.

        Raises:
            JobBusyError: another job is still running.
        """
        with self._lock:
            if self.busy:
                raise JobBusyError(
                    f"a {self.progress.kind} job is still running; wait for it or cancel it"
                )
            self._cancel.clear()
            self.progress = Progress(kind=kind, state="running", started=time.monotonic())
            self._thread = threading.Thread(
                target=self._run, args=(work,), name=f"studio-{kind}", daemon=True
            )
            self._thread.start()

    def cancel(self) -> bool:
        """Ask the running job to stop; False when none runs."""
        if not self.busy:
            return False
        self._cancel.set()
        return True

    def wait(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _tick(self, done: int, total: int | None) -> None:
        self.progress.done = done
        self.progress.total = total
        if self._cancel.is_set():
            raise Cancelled

    def _run(self, work: Callable[[Callable[[int, int | None], None]], str]) -> None:
        progress = self.progress
        try:
            progress.message = work(self._tick)
            progress.state = "done"
        except Cancelled:
            progress.state, progress.message = "cancelled", "cancelled; the frames done are kept"
        except SegAnyVideoError as exc:
            progress.state, progress.message = "failed", str(exc)
        except Exception as exc:  # reported to the page as one line, logged in full here
            log.exception("studio %s job failed", progress.kind)
            progress.state, progress.message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            progress.finished = time.monotonic()


class JobBusyError(SegAnyVideoError, RuntimeError):
    """A second job was started while one runs."""
