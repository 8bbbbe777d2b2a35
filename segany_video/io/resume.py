"""What an interrupted run left behind, for ``--resume``.

A run killed part-way leaves its outputs under their temporary names (see :mod:`atomic`); among
them ``.tracks.partial.json``, whose frame lines are flushed one by one and hold every object's
mask losslessly (COCO RLE). That is enough to resume: replay the completed frames into a fresh
:class:`~segany_video.io.outputs.OutputSet` (masks decode bit-exactly, and records re-serialise
to the same bytes), then carry on tracking from the next frame. The final outputs then match an
uninterrupted run.

Read the resume point *before* opening the new OutputSet: opening it clears leftover temporary
files, the partial JSON included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from segany_video.io.atomic import partial_path
from segany_video.io.coco_json import frame_result_from_record, iter_frame_records, read_header
from segany_video.io.layout import OutputLayout
from segany_video.results import FrameResult


@dataclass(frozen=True)
class ResumePoint:
    """The completed frames of an interrupted run.

    Attributes:
        header: the partial ``tracks.json``'s header (video, objects with id/slot/name).
        records: its complete frame records, in order (masks still RLE-encoded, so memory
            stays small).
    """

    header: dict
    records: tuple[dict, ...]

    @property
    def object_ids(self) -> list[int | str]:
        """The interrupted run's objects in slot order."""
        return [item["id"] for item in self.header["objects"]]

    @property
    def next_index(self) -> int | None:
        """The frame index to continue from (None when no frame was completed)."""
        return self.records[-1]["index"] + 1 if self.records else None

    def frame_results(self) -> Iterator[FrameResult]:
        """Decode the completed frames one at a time, for replaying into a new OutputSet."""
        for record in self.records:
            yield frame_result_from_record(record)


def find_resume_point(out_dir: Path) -> ResumePoint | None:
    """Read what an interrupted run left in ``out_dir``.

    Args:
        out_dir: the output folder of the interrupted run.

    Returns:
        The resume point, or None when there is no partial ``tracks.json`` (nothing to resume
        from: the run never started, finished, or was not writing the "json" format).
    """
    layout = OutputLayout(Path(out_dir), (), ())
    partial = partial_path(layout.tracks_json)
    if not partial.is_file():
        return None
    try:
        header = read_header(partial)
    except ValueError:  # killed before even the header line was flushed
        return None
    return ResumePoint(header=header, records=tuple(iter_frame_records(partial)))
