"""The documented output layout inside an output folder, and safe file names for object ids.

::

    OUT/
      masks/<name>.mkv          per-object mask video (FFV1; <name>.mp4 with mask_codec "h264")
      png/<name>/00000.png      per-object 0/255 PNG sequence, named by source frame index
      cutouts/<name>.mov        ProRes 4444 with alpha
      cutouts/<name>.webm       VP9 with alpha
      overlay.mp4               preview: tinted masks, outlines, boxes, ids
      davis/00000.png           palette PNG per frame, pixel = object slot (1-based), 0 = none
      tracks.json               per frame: timestamp; per object: box, score, state, COCO RLE
      tracks_mot.csv            MOT Challenge boxes
      run.json                  summary and config (written by the API layer)

``<name>`` is the object id made safe for file names by :func:`object_file_names`. The
mapping id -> slot -> name is recorded in ``tracks.json``'s header.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Device names Windows reserves in every folder, with or without an extension.
_RESERVED = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}
_MAX_BYTES = 80  # well under every file system's 255-byte limit, leaving room for suffixes
_FALLBACK = "object"


def sanitize_id(object_id: int | str) -> str:
    """A file-name-safe rendering of one object id.

    Keeps letters and digits (any script, NFC-normalised), ``-``, ``_`` and single inner ``.``;
    every other character (path separators, spaces, control and shell characters) becomes
    ``_``. Leading dots are dropped (no hidden files, no ``..``), Windows device names get a
    ``_`` prefix, the result is cut to 80 UTF-8 bytes, and an id with nothing left becomes
    ``"object"``. Distinct ids can sanitise alike; :func:`object_file_names` resolves that.

    Args:
        object_id: the user's id.

    Returns:
        A non-empty name without path separators.
    """
    text = unicodedata.normalize("NFC", str(object_id))
    safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in text)
    safe = re.sub(r"\.{2,}", ".", safe).lstrip(".").rstrip(". ")
    if safe.split(".")[0].lower() in _RESERVED:
        safe = "_" + safe
    encoded = safe.encode("utf-8")[:_MAX_BYTES]
    safe = encoded.decode("utf-8", errors="ignore").rstrip(". ")
    return safe or _FALLBACK


def object_file_names(object_ids: Sequence[int | str]) -> list[str]:
    """Distinct file names for ``object_ids``, in order.

    Each id gets :func:`sanitize_id`; when two names would match (compared case-insensitively,
    because macOS and Windows folders are), the later one gets ``-2``, ``-3``… (the first free
    suffix), so no output overwrites another and the result depends only on the ids' order.

    Raises:
        ValueError: the same id appears twice.
    """
    seen_ids: set = set()
    taken: set[str] = set()
    names: list[str] = []
    for object_id in object_ids:
        key = (type(object_id).__name__, object_id)
        if key in seen_ids:
            raise ValueError(f"object id {object_id!r} appears twice; ids must be unique")
        seen_ids.add(key)
        base = sanitize_id(object_id)
        name, n = base, 1
        while name.casefold() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.casefold())
        names.append(name)
    return names


@dataclass(frozen=True)
class OutputLayout:
    """Where each output of a run goes.

    Attributes:
        out_dir: the output folder.
        object_ids: every object in prompt order.
        names: their file names (:func:`object_file_names`), same order.
    """

    out_dir: Path
    object_ids: tuple[int | str, ...]
    names: tuple[str, ...]

    @classmethod
    def build(cls, out_dir: Path, object_ids: Sequence[int | str]) -> OutputLayout:
        ids = tuple(int(i) if isinstance(i, np.integer) else i for i in object_ids)
        return cls(Path(out_dir), ids, tuple(object_file_names(ids)))

    def name(self, object_id: int | str) -> str:
        return self.names[self.object_ids.index(object_id)]

    def mask_video(self, object_id: int | str, suffix: str = ".mkv") -> Path:
        return self.out_dir / "masks" / f"{self.name(object_id)}{suffix}"

    def png_dir(self, object_id: int | str) -> Path:
        return self.out_dir / "png" / self.name(object_id)

    def cutout(self, object_id: int | str, suffix: str) -> Path:
        return self.out_dir / "cutouts" / f"{self.name(object_id)}{suffix}"

    @property
    def overlay(self) -> Path:
        return self.out_dir / "overlay.mp4"

    @property
    def davis_dir(self) -> Path:
        return self.out_dir / "davis"

    @property
    def tracks_json(self) -> Path:
        return self.out_dir / "tracks.json"

    @property
    def mot_csv(self) -> Path:
        return self.out_dir / "tracks_mot.csv"

    @property
    def run_json(self) -> Path:
        return self.out_dir / "run.json"
