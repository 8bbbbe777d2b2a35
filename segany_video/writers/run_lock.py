"""One run per output folder: an exclusive lock that a killed run cannot leave stuck.

Two runs writing into the same folder would share (and delete) each other's ``.resume/`` and
temporary files. :class:`RunLock` holds an OS lock on ``<out>/.segany.lock`` for the whole run:
``fcntl.flock`` on POSIX, ``msvcrt.locking`` on Windows. The operating system releases either
when the process ends for any reason (crash, ``kill -9``), so no stale lock survives its run
and nobody has to delete anything by hand. The file itself only tells a refused run who holds
the folder (pid, host, start time); its presence means nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from segany_video.errors import OutputError
from segany_video.writers.atomic import make_output_dir, writer_error

LOCK_NAME = ".segany.lock"
# Windows locks a byte range, and a locked range cannot be read: lock a byte far past the
# holder's description so that a refused run can still read it.
_WINDOWS_LOCK_OFFSET = 1 << 20


class RunLock:
    """The exclusive right to write into one output folder, for one run.

    Usage::

        with RunLock(out):
            ...  # write outputs and .resume/ into out

    Args:
        out_dir: the run's output folder; created (with parents) if missing.

    Raises:
        OutputError: another live run holds the folder (the message names its pid, host and
            start time), or the folder cannot be created or written.
    """

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        # A folder made here and still empty at release goes again: a run refused before it
        # wrote anything (bad model, busy device) leaves no trace.
        self._made_folder = not os.path.lexists(out_dir)
        self.folder = make_output_dir(Path(out_dir))
        self.path = self.folder / LOCK_NAME
        self._fd: int | None = None
        self._acquire()

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def _acquire(self) -> None:
        # The holder unlinks the file on release; a run that opened the old file just before
        # would lock an orphan, so after locking check that the path still names this file.
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise writer_error(self.path, exc, "create", "run lock") from exc
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                self._made_folder = False  # the holder's folder, whoever made it
                raise OutputError(
                    f"output folder {self.folder} is in use by another run ({holder}); wait for "
                    "it to finish, stop it, or choose another --out folder"
                )
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        self._fd = fd
        try:
            _write_holder(fd)
        except OSError as exc:
            self.release()
            raise writer_error(self.path, exc, "write", "run lock") from exc

    def release(self) -> None:
        """Give the folder up (idempotent). The lock file is removed first, then unlocked.

        The folder itself is removed too if this lock created it and nothing was written.
        """
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            self.path.unlink()  # Windows refuses while the file is open: it then stays, unlocked
        _unlock(fd)
        os.close(fd)
        if self._made_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only succeeds while empty

    def __enter__(self) -> RunLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"RunLock({str(self.folder)!r}, held={self.held})"


def _try_lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; False when another process holds it."""
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    """Drop the lock before closing (POSIX would on close; Windows asks for it explicitly)."""
    with contextlib.suppress(OSError):
        if os.name == "nt":
            import msvcrt

            os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_UN)


def _write_holder(fd: int) -> None:
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
    holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": started}
    data = (json.dumps(holder) + "\n").encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _read_holder(fd: int) -> str:
    """The holder's description from the lock file, in words."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        holder = json.loads(os.read(fd, 4096).decode())
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "it is starting; its details are not written yet"
