"""Outputs that appear under their final name only once complete.

Every writer produces its file (or folder) under a hidden temporary name in the same folder,
``.<stem>.partial<suffix>``, and renames it when it closes cleanly. A run that crashes or is
killed therefore never leaves a file that looks finished: what it leaves is visibly partial and
the next successful run replaces it. The temporary name keeps the real extension at the end so
that tools which guess a container from the extension still work, and it stays in the same folder
so the final rename is atomic (``os.replace`` within one file system).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path

from segany_video.errors import WriterError

# errno values that mean "the disk (or quota) is full" rather than a permission problem.
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def partial_path(final: Path) -> Path:
    """The temporary name a writer uses for ``final`` until it is complete.

    Args:
        final: the output's final path, e.g. ``out/masks/1.mkv``.

    Returns:
        ``out/masks/.1.partial.mkv`` (a sibling, hidden, same extension).
    """
    final = Path(final)
    return final.with_name(f".{final.stem}.partial{final.suffix}")


def writer_error(path: Path, exc: BaseException, action: str = "write") -> WriterError:
    """A ``WriterError`` that names ``path`` and says what to do about ``exc``.

    Args:
        path: the output (final name preferred) that could not be written.
        exc: the underlying error, usually an ``OSError`` (PyAV's errors subclass it too).
        action: what was being done, e.g. "create", "write", "finish".

    Returns:
        The error to raise (``raise writer_error(...) from exc``).
    """
    code = getattr(exc, "errno", None)
    if code in _FULL:
        advice = "the disk or quota is full; free space or choose another --out folder"
    elif code in _DENIED:
        advice = "the folder is not writable; fix its permissions or choose another --out folder"
    elif code in (errno.ENOTDIR, errno.EEXIST):
        advice = "a file is in the way where a folder is needed; choose another --out folder"
    elif code == errno.ENOENT:
        advice = "the folder disappeared while writing; do not delete the output folder mid-run"
    else:
        advice = "see the cause above"
    return WriterError(f"cannot {action} output {path}: {exc} ({advice})")


def make_output_dir(folder: Path) -> Path:
    """Create ``folder`` (and parents) and check that files can be created in it.

    Running as root ignores permission bits, so the check creates and removes a probe file
    rather than trusting ``os.access``.

    Raises:
        WriterError: the folder cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".segany-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise writer_error(folder, exc, "create files in") from exc
    return folder


def remove_quietly(path: Path) -> None:
    """Delete a temporary file or folder; a failure here must not hide the original error."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


class AtomicPath:
    """One output file or folder written under :func:`partial_path` and renamed on commit.

    Usage::

        target = AtomicPath(out / "tracks.json")
        with open(target.temp, "w") as f: ...
        target.commit()          # or target.discard() on failure

    Args:
        final: the final path.
        is_dir: the output is a folder (e.g. a PNG sequence); its temporary folder is created.
    """

    def __init__(self, final: Path, *, is_dir: bool = False) -> None:
        self.final = Path(final)
        self.temp = partial_path(self.final)
        self.is_dir = is_dir
        self._done = False
        # A leftover from a killed earlier run would be appended to or mixed in; start clean.
        remove_quietly(self.temp)
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if is_dir:
                self.temp.mkdir()
        except OSError as exc:
            raise writer_error(self.final, exc, "create") from exc

    @property
    def done(self) -> bool:
        """True once committed or discarded."""
        return self._done

    def commit(self) -> Path:
        """Move the temporary output to its final name, replacing an older one.

        Returns:
            The final path.

        Raises:
            WriterError: the rename failed (the temporary output is removed).
        """
        if self._done:
            raise WriterError(f"output {self.final} was already committed or discarded")
        self._done = True
        try:
            if self.is_dir and self.final.is_dir() and not self.final.is_symlink():
                # os.replace cannot replace a non-empty folder: move the old one aside first so
                # the window without any complete folder is as short as possible.
                old = self.final.with_name(f".{self.final.name}.old")
                remove_quietly(old)
                os.replace(self.final, old)
                os.replace(self.temp, self.final)
                remove_quietly(old)
            else:
                os.replace(self.temp, self.final)
        except OSError as exc:
            remove_quietly(self.temp)
            raise writer_error(self.final, exc, "finish") from exc
        return self.final

    def discard(self) -> None:
        """Remove the temporary output (idempotent, never raises)."""
        if not self._done:
            self._done = True
            remove_quietly(self.temp)


def write_text_atomically(path: Path, text: str) -> Path:
    """Write a small text file (a report) under :func:`partial_path`, then rename it.

    Raises:
        WriterError: the file could not be written (the partial file is removed).
    """
    target = AtomicPath(path)
    try:
        target.temp.write_text(text, encoding="utf-8")
    except OSError as exc:
        target.discard()
        raise writer_error(target.final, exc) from exc
    return target.commit()


class StagedWriter:
    """Base of the writers: finish to the temporary name, then commit, or abort.

    Subclasses implement :meth:`finish` (flush everything into the temporary output),
    :meth:`commit` (rename it, returning the final path) and :meth:`abort` (delete it, never
    raising). Splitting finish from commit lets :class:`~segany_video.writers.outputs.OutputSet`
    finish every output before renaming any, so one failure leaves nothing that looks complete.
    Used alone, a writer is a context manager that closes on success and aborts on error.
    """

    def finish(self) -> None:
        raise NotImplementedError

    def commit(self) -> Path:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def close(self) -> Path:
        """Finish and commit; on failure the temporary output is removed.

        Returns:
            The final path.
        """
        try:
            self.finish()
        except BaseException:
            self.abort()
            raise
        return self.commit()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class StreamedTextWriter(StagedWriter):
    """Base of the text outputs written line by line (``tracks.json``, the MOT CSV).

    Opens the temporary file at once; :meth:`finish` writes :meth:`trailer` and closes it.

    Args:
        path: final path.
        encoding: text encoding of the file.
    """

    def __init__(self, path: Path, encoding: str) -> None:
        self._target = AtomicPath(path)
        self.path = self._target.final
        self.frames_written = 0
        try:
            self._file = open(  # noqa: SIM115 - stays open across write() calls
                self._target.temp, "w", encoding=encoding, newline="\n"
            )
        except OSError as exc:
            self._target.discard()
            raise writer_error(self.path, exc, "create") from exc

    def trailer(self) -> str:
        """Text that closes the file's structure (nothing by default)."""
        return ""

    def _append(self, text: str, index: int) -> None:
        """Write one frame's text and flush it, so a killed run keeps every finished frame."""
        try:
            self._file.write(text)
            self._file.flush()
        except OSError as exc:
            raise writer_error(self.path, exc, f"write frame {index} to") from exc
        self.frames_written += 1

    def finish(self) -> None:
        try:
            self._file.write(self.trailer())
            self._file.close()
        except OSError as exc:
            self.abort()
            raise writer_error(self.path, exc, "finish") from exc

    def commit(self) -> Path:
        return self._target.commit()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        self._target.discard()
