"""``tracks_mot.csv``: boxes in the MOT Challenge format.

One row per object per frame where the object has a box::

    frame, id, x, y, w, h, score, -1, -1, -1

``frame`` is 1-based (MOT's convention; row ``frame`` is source frame index ``frame - 1``),
``x, y`` the top-left corner and ``w, h`` the size in pixels. MOT ids must be positive
integers: when every object id is already a positive integer it is used as is, otherwise every
object gets its 1-based slot (its position in the prompts, also the DAVIS palette index), and
``tracks.json``'s header maps slots back to ids. The last three columns (3D position) are -1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segany_video.results import FrameResult
from segany_video.writers.atomic import StreamedTextWriter


def mot_ids(object_ids: Sequence[int | str]) -> dict[int | str, int]:
    """The integer MOT id of each object (see the module docstring for the rule)."""
    ids = list(object_ids)
    as_is = all(
        isinstance(i, (int, np.integer)) and not isinstance(i, bool) and i >= 1 for i in ids
    )
    return {i: (int(i) if as_is else slot) for slot, i in enumerate(ids, start=1)}


def _number(value: float) -> str:
    """Integers print without a fraction (MOT tools read both); others to 1/1000 pixel."""
    value = round(float(value), 3)
    return str(int(value)) if value.is_integer() else repr(value)


class MotCsvWriter(StreamedTextWriter):
    """Streams ``tracks_mot.csv``.

    Args:
        path: final path, e.g. ``out/tracks_mot.csv``.
        object_ids: every object in prompt order.
    """

    def __init__(self, path: Path, object_ids: Sequence[int | str]) -> None:
        self._object_ids = list(object_ids)
        self._mot_ids = mot_ids(self._object_ids)
        super().__init__(path, encoding="ascii")

    def write(self, result: FrameResult) -> None:
        """Append the rows of one frame (objects without a box are skipped)."""
        rows = []
        for object_id in self._object_ids:
            obj = result.objects.get(object_id)
            if obj is None or obj.box is None:
                continue
            x0, y0, x1, y1 = (float(v) for v in obj.box)
            fields = [str(result.index + 1), str(self._mot_ids[object_id])]
            fields += [_number(x0), _number(y0), _number(x1 - x0), _number(y1 - y0)]
            fields += [f"{float(obj.score):.4f}", "-1", "-1", "-1"]
            rows.append(",".join(fields) + "\n")
        self._append("".join(rows), result.index)
