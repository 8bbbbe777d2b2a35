"""``tracks.json``: per frame, its timestamp and per object the box, score, state and mask.

The file is streamed: a header line, then one line per frame as results arrive, then a closing
line, so a run never holds the video and the whole file is still one valid JSON document::

    {"format": "segany-video/tracks", "version": 1, "video": {...}, "objects": [...], "frames": [
    {"index": 0, "timestamp": 0.0, "objects": [{"id": 1, "box": [x0, y0, x1, y1], ...}]}
    ,{"index": 1, ...}
    ]}

Per object: ``id`` (the user's id), ``box`` as ``XYXY`` pixels or null when empty, ``score``,
``state`` (see :class:`~segany_video.results.TrackState`) and ``mask`` as COCO RLE
(``{"size": [H, W], "counts": str}``, decodable with ``pycocotools.mask.decode``). The header's
``objects`` lists each id with its 1-based ``slot`` (the DAVIS palette index and MOT id) and
``name`` (its sanitised file name). Each frame line is flushed when written, so the complete
lines of a killed run's partial file can be read back with :func:`iter_frame_records`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.writers.atomic import StreamedTextWriter, writer_error
from segany_video.writers.rle import decode_rle, encode_rle

FORMAT_NAME = "segany-video/tracks"
FORMAT_VERSION = 1


def _plain_id(object_id: int | str) -> int | str:
    """NumPy integers are not JSON-serialisable; user ids are ints or strings."""
    return int(object_id) if isinstance(object_id, (int, np.integer)) else str(object_id)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def object_record(result: ObjectResult) -> dict:
    """The JSON record of one object on one frame (box ``XYXY`` rounded to 1/1000 pixel)."""
    box = None if result.box is None else [round(float(v), 3) for v in result.box]
    return {
        "id": _plain_id(result.object_id),
        "box": box,
        "score": round(float(result.score), 6),
        "state": TrackState(result.state).value,
        "mask": encode_rle(result.mask),
    }


def frame_record(result: FrameResult, object_ids: Sequence[int | str]) -> dict:
    """The JSON record of one frame; objects in ``object_ids`` order, absent ones omitted."""
    return {
        "index": int(result.index),
        "timestamp": round(float(result.timestamp), 6),
        "objects": [object_record(result.objects[i]) for i in object_ids if i in result.objects],
    }


class TracksJsonWriter(StreamedTextWriter):
    """Streams ``tracks.json`` one frame line at a time.

    Args:
        path: final path, e.g. ``out/tracks.json``.
        info: the source's metadata (written to the header).
        object_ids: every object in prompt order; slot ``k`` (1-based) is ``object_ids[k-1]``.
        names: the objects' sanitised file names, same order (defaults to ``str(id)``).
    """

    def __init__(
        self,
        path: Path,
        info: VideoInfo,
        object_ids: Sequence[int | str],
        names: Sequence[str] | None = None,
    ) -> None:
        super().__init__(path, encoding="utf-8")
        self._object_ids = list(object_ids)
        names = list(names) if names is not None else [str(i) for i in self._object_ids]
        header = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "video": {
                "source": info.source,
                "width": info.width,
                "height": info.height,
                "fps": str(info.fps),
                "frame_count": info.frame_count,
            },
            "box_format": "xyxy",
            "mask_format": "coco_rle",
            "objects": [
                {"id": _plain_id(i), "slot": slot, "name": name}
                for slot, (i, name) in enumerate(zip(self._object_ids, names, strict=True), start=1)
            ],
        }
        text = _dumps(header)
        try:
            self._file.write(text[:-1] + ', "frames": [\n')
            self._file.flush()  # a killed run's partial file still names its objects
        except OSError as exc:
            self.abort()
            raise writer_error(self.path, exc, "create") from exc

    def write(self, result: FrameResult) -> None:
        """Append one frame's record and flush it to the file."""
        line = _dumps(frame_record(result, self._object_ids))
        self._append(("," if self.frames_written else "") + line + "\n", result.index)

    def trailer(self) -> str:
        return "]}\n"


def read_tracks(path: Path) -> dict:
    """Load a complete ``tracks.json`` (header keys plus ``frames``, a list of frame records)."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_header(path: Path) -> dict:
    """The header of a ``tracks.json``, complete or partial (everything but ``frames``)."""
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    return json.loads(first.rstrip("\n").removesuffix("[") + "[]}")


def iter_frame_records(path: Path) -> Iterator[dict]:
    """Yield the frame records of a complete or partial ``tracks.json``, in order.

    A file cut short by a crash (the hidden ``.tracks.partial.json`` of a killed run) yields
    its complete lines and stops at the first incomplete one, which is what resuming needs.
    """
    with open(path, encoding="utf-8") as f:
        f.readline()  # header
        for line in f:
            text = line.rstrip("\n")
            if not line.endswith("\n") or text == "]}":
                return
            try:
                yield json.loads(text.removeprefix(","))
            except json.JSONDecodeError:
                return


def frame_result_from_record(record: dict) -> FrameResult:
    """Rebuild a :class:`FrameResult` (masks decoded) from one frame record."""
    objects: dict[int | str, ObjectResult] = {}
    for item in record["objects"]:
        box = None if item["box"] is None else np.asarray(item["box"], dtype=np.float32)
        objects[item["id"]] = ObjectResult(
            object_id=item["id"],
            mask=decode_rle(item["mask"]),
            box=box,
            score=float(item["score"]),
            state=TrackState(item["state"]),
        )
    return FrameResult(
        index=int(record["index"]), timestamp=float(record["timestamp"]), objects=objects
    )
