"""Progress of a run on stderr: a tqdm bar on a terminal, plain lines in logs."""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """A tqdm bar on a terminal; plain lines (every 10 % or 30 s) otherwise."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.bar = None
        self.t0 = time.perf_counter()
        self._last_line = self.t0
        self._last_pct = -10
        self._last_done: tuple[int, int | None] | None = None
        self._printed: tuple[int, int | None] | None = None

    def __call__(self, done: int, total: int | None) -> None:
        self._last_done = (done, total)
        if self.tty:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(total=total, unit="frame", file=self.stream, dynamic_ncols=True)
            self.bar.update(done - self.bar.n)
            return
        now = time.perf_counter()
        pct = int(100 * done / total) if total else None
        due = now - self._last_line >= 30 or (pct is not None and pct >= self._last_pct + 10)
        if not due and done != total and done != 1:
            return
        self._last_line = now
        if pct is not None:
            self._last_pct = pct - pct % 10
        self._print(done, total, now)

    def _print(self, done: int, total: int | None, now: float) -> None:
        rate = done / max(now - self.t0, 1e-9)
        eta = f", ETA {(total - done) / rate:.0f} s" if total and rate > 0 else ""
        of = f"/{total}" if total else ""
        print(f"frames {done}{of} ({rate:.2f} frames/s{eta})", file=self.stream, flush=True)
        self._printed = (done, total)

    def close(self) -> None:
        """Close the bar; in plain mode make sure the last count was printed."""
        if self.bar is not None:
            self.bar.close()
        elif self._last_done is not None and self._last_done != self._printed:
            self._print(*self._last_done, time.perf_counter())
