"""Files under the studio's root folder: every path the page names is checked here.

The page names files relative to ``--root``; absolute paths, ``..`` parts and symlinks that lead
out of the root are refused, so the server reads and writes nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from segany_video.errors import UserInputError

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".mts", ".wmv"}
)


class PathRefusedError(UserInputError, PermissionError):
    """A path the page asked for that lies outside the studio's root (or names it badly)."""


@dataclass(frozen=True)
class RootFolder:
    """The one folder the studio may read and write, with its checks.

    Args:
        path: the root folder; it must exist.
    """

    path: Path

    def __post_init__(self) -> None:
        resolved = Path(self.path).resolve()
        if not resolved.is_dir():
            raise UserInputError(f"studio root {self.path} is not a folder")
        object.__setattr__(self, "path", resolved)

    def resolve(self, relative: str, *, must_exist: bool = True) -> Path:
        """The absolute path of ``relative`` (POSIX separators), checked to stay in the root.

        Raises:
            PathRefusedError: an absolute path, a ``..`` part, a path that resolves (through
                symlinks) outside the root, or a missing file when ``must_exist``.
        """
        if not isinstance(relative, str) or "\x00" in relative:
            raise PathRefusedError(f"path {relative!r} is not a valid relative path")
        text = relative.replace("\\", "/")
        pure = PurePosixPath(text)
        if pure.is_absolute() or (len(text) > 1 and text[1] == ":"):
            raise PathRefusedError(f"path {relative!r} is absolute; give it relative to the root")
        if ".." in pure.parts:
            raise PathRefusedError(f"path {relative!r} contains '..'; stay inside the root")
        candidate = (self.path / Path(*pure.parts)) if pure.parts else self.path
        resolved = candidate.resolve()
        if resolved != self.path and self.path not in resolved.parents:
            raise PathRefusedError(f"path {relative!r} leads outside the root (a symlink?)")
        if must_exist and not resolved.exists():
            raise PathRefusedError(f"path {relative!r} does not exist under the root")
        return resolved

    def relative(self, path: Path) -> str:
        """``path`` (inside the root) as the POSIX relative path the page uses."""
        return Path(path).resolve().relative_to(self.path).as_posix()

    def listing(self, relative: str = "") -> dict:
        """Folders and video files in one folder of the root, names sorted; hidden ones left out.

        Returns:
            ``{"dir": rel, "parent": rel | None, "entries": [{"name", "path", "kind"}]}`` with
            kind ``"dir"`` or ``"video"``.
        """
        folder = self.resolve(relative)
        if not folder.is_dir():
            raise PathRefusedError(f"path {relative!r} is not a folder")
        entries = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name.lower()):
            if entry.name.startswith("."):
                continue
            try:
                target = self.resolve(self.relative_name(folder, entry.name))
            except PathRefusedError:
                continue  # a symlink out of the root is not offered at all
            if target.is_dir():
                kind = "dir"
            elif target.suffix.lower() in VIDEO_SUFFIXES:
                kind = "video"
            else:
                continue
            entries.append({"name": entry.name, "path": self.relative_name(folder, entry.name),
                            "kind": kind})  # fmt: skip
        rel = self.relative(folder)
        rel = "" if rel == "." else rel
        parent = None if folder == self.path else self.relative(folder.parent)
        return {"dir": rel, "parent": "" if parent == "." else parent, "entries": entries}

    def relative_name(self, folder: Path, name: str) -> str:
        rel = self.relative(folder)
        return name if rel in ("", ".") else f"{rel}/{name}"
