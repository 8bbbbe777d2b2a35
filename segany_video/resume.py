"""Resumable runs: a journal of finished frames and periodic tracker snapshots in the output folder.

While a run writes its outputs (under temporary names), it also keeps ``<out>/.resume/``:

- ``run.json``: what the run is (source, prompts, config, frame range); a resume must match it.
- ``journal.jsonl``: one exact record per finished frame (masks as COCO RLE, unrounded box and
  score), appended and flushed as frames finish.
- ``snapshot.json`` + ``snapshot.npz``: the tracker's complete state after frame k, replaced
  atomically every ``every`` frames.

A resumed run replays the journal up to frame k into fresh writers (re-reading those frames
only for outputs that need pixels), restores the tracker and continues at k + 1; the outputs
equal an uninterrupted run's bit for bit. The folder is removed when the run completes.
Nothing is pickled: arrays go to ``.npz`` (loaded with ``allow_pickle=False``), the rest to JSON.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from segany_video.errors import ConfigError
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.writers.atomic import atomic_file, writer_error
from segany_video.writers.rle import decode_rle, encode_rle

RESUME_DIR = ".resume"
_VERSION = 1
# Frames between tracker snapshots unless the caller says otherwise (CLI, API and journal).
SNAPSHOT_EVERY = 25


def result_record(result: FrameResult) -> dict[str, Any]:
    """An exact JSON record of one frame's results (floats kept at full precision)."""
    return {
        "index": int(result.index),
        "timestamp": float(result.timestamp),
        "objects": [
            {
                "id": obj.object_id if isinstance(obj.object_id, str) else int(obj.object_id),
                "box": None if obj.box is None else [float(v) for v in obj.box],
                "score": float(obj.score),
                "state": TrackState(obj.state).value,
                "mask": encode_rle(obj.mask),
            }
            for obj in result.objects.values()
        ],
    }


def result_from_record(record: Mapping[str, Any]) -> FrameResult:
    """The inverse of :func:`result_record`."""
    objects = {}
    for item in record["objects"]:
        box = None if item["box"] is None else np.asarray(item["box"], dtype=np.float32)
        objects[item["id"]] = ObjectResult(
            item["id"],
            decode_rle(item["mask"]),
            box,
            float(item["score"]),
            TrackState(item["state"]),
        )
    return FrameResult(int(record["index"]), float(record["timestamp"]), objects)


def _split_arrays(value: Any, arrays: dict[str, np.ndarray], prefix: str = "a") -> Any:
    """Replace every ndarray in nested dicts/lists by a reference into ``arrays``."""
    if isinstance(value, np.ndarray):
        key = f"{prefix}{len(arrays)}"
        arrays[key] = value
        return {"__ndarray__": key}
    if isinstance(value, Mapping):
        if any(not isinstance(k, str) for k in value):
            return {
                "__items__": [
                    [_split_arrays(k, arrays, prefix), _split_arrays(v, arrays, prefix)]
                    for k, v in value.items()
                ]
            }
        return {k: _split_arrays(v, arrays, prefix) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_split_arrays(v, arrays, prefix) for v in value]}
    if isinstance(value, list):
        return [_split_arrays(v, arrays, prefix) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _join_arrays(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return arrays[value["__ndarray__"]]
        if set(value) == {"__tuple__"}:
            return tuple(_join_arrays(v, arrays) for v in value["__tuple__"])
        if set(value) == {"__items__"}:
            return {_join_arrays(k, arrays): _join_arrays(v, arrays) for k, v in value["__items__"]}
        return {k: _join_arrays(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join_arrays(v, arrays) for v in value]
    return value


def _replace(path: Path, write) -> None:
    with atomic_file(path, durable=True) as f:
        write(f)


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` (disk full, read-only) into a WriterError."""
    try:
        yield
    except OSError as exc:
        raise writer_error(path, exc, "write", "resume journal") from exc


def _journal_lines(path: Path, limit: int | None = None) -> Iterator[tuple[str, dict]]:
    """``(line, record)`` of the complete lines of a journal file, at most ``limit`` of them."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if limit is not None and number >= limit:
                return
            if not line.endswith("\n"):
                return  # cut short by the kill
            yield line, json.loads(line)


class JournalReplay:
    """The journaled results a resume replays, decoded from the journal one frame at a time.

    A resumed run must pass every finished frame to fresh writers again; holding them all
    (masks decoded) would cost about ``H * W`` bytes per object per frame, growing with how far
    the killed run got. The journal file already holds them.

    Args:
        path: the journal file; its first ``count`` lines are the frames to replay.
        count: how many frames to replay.
        first, last: the first and last of their frame indices (None when ``count`` is 0).
    """

    def __init__(self, path: Path, count: int, first: int | None, last: int | None) -> None:
        if (count == 0) != (first is None) or (first is None) != (last is None):
            raise ValueError(f"replay of {count} frames needs first and last frame, or neither")
        self.path = path
        self.count = count
        self.first = first
        self.last = last

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[FrameResult]:
        """The results in frame order, each decoded when reached."""
        for _, record in _journal_lines(self.path, self.count):
            yield result_from_record(record)


class RunJournal:
    """The ``.resume`` folder of one output folder.

    Args:
        out_dir: the run's output folder.
        identity: JSON-able description of the run (source, prompts, config, range); a resume
            is refused when it differs.
        every: frames between tracker snapshots.
    """

    def __init__(
        self, out_dir: Path, identity: Mapping[str, Any], every: int = SNAPSHOT_EVERY
    ) -> None:
        if every < 1:
            raise ConfigError(f"snapshot interval must be >= 1 frame, got {every}")
        self.folder = Path(out_dir) / RESUME_DIR
        self.identity = json.loads(json.dumps(identity))
        self.every = every
        self._journal = None
        self._since_snapshot = 0

    # -- starting ---------------------------------------------------------------------------

    def start_fresh(self) -> None:
        """Begin a new journal, discarding any earlier one."""
        shutil.rmtree(self.folder, ignore_errors=True)
        with _writing(self.folder):
            self.folder.mkdir(parents=True)
        _replace(self.folder / "run.json", lambda f: f.write(json.dumps(self.identity).encode()))
        self._journal = self._open_journal()

    def load(self) -> tuple[dict | None, JournalReplay]:
        """Open an existing journal to resume.

        Returns:
            The tracker snapshot (None when none was taken yet) and the journaled results up to
            the snapshot's frame, read back from the journal one frame at a time. The journal is
            cut back to those frames.

        Raises:
            ConfigError: no resumable run in the folder, or one for another source, prompts,
                config or range (the message says which).
        """
        run_file = self.folder / "run.json"
        if not run_file.is_file():
            raise ConfigError(
                f"--resume: {self.folder.parent} holds no interrupted run to resume "
                "(no .resume/run.json); run without --resume"
            )
        earlier = json.loads(run_file.read_text(encoding="utf-8"))
        for key in sorted(set(earlier) | set(self.identity)):
            if earlier.get(key) != self.identity.get(key):
                raise ConfigError(
                    f"--resume: the interrupted run in {self.folder.parent} used a different "
                    f"{key}; resume with the same input, prompts and options, or run without "
                    "--resume"
                )
        snapshot, last = self._read_snapshot()
        path = self.folder / "journal.jsonl"
        # The records up to the snapshot's frame are copied line by line into a new journal,
        # never all held: a long run's masks would not fit in memory.
        cut = self.folder / "journal.cut.jsonl"
        count, first, kept_last = 0, None, None
        with _writing(cut), open(cut, "w", encoding="utf-8") as out:
            if last is not None:
                for line, record in self._records():
                    if record["index"] > last:
                        break
                    out.write(line)
                    count += 1
                    first = record["index"] if first is None else first
                    kept_last = record["index"]
            if kept_last != last:
                out.seek(0)
                out.truncate()
                snapshot, count, first, kept_last = None, 0, None, None
        with _writing(path):
            os.replace(cut, path)
            self._journal = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        if snapshot is None:
            for name in ("snapshot.json", "snapshot.npz"):
                (self.folder / name).unlink(missing_ok=True)
        return snapshot, JournalReplay(path, count, first, kept_last)

    def _open_journal(self) -> TextIO:
        path = self.folder / "journal.jsonl"
        with _writing(path):
            return open(path, "w", encoding="utf-8")

    def _records(self) -> Iterator[tuple[str, dict]]:
        """``(line, record)`` of each complete line of the journal."""
        yield from _journal_lines(self.folder / "journal.jsonl")

    def _read_snapshot(self) -> tuple[dict | None, int | None]:
        meta_path = self.folder / "snapshot.json"
        if not meta_path.is_file():
            return None, None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("version") != _VERSION:
            return None, None
        with np.load(self.folder / "snapshot.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        if set(arrays) != set(meta["arrays"]):
            return None, None  # the pair was torn by the kill; start from scratch
        return _join_arrays(meta["state"], arrays), int(meta["frame"])

    # -- during the run ---------------------------------------------------------------------

    def record(self, result: FrameResult, snapshot: Any, settled: bool = True) -> None:
        """Journal a finished frame; every ``every`` frames also store the tracker snapshot.

        Args:
            result: the frame's results.
            snapshot: a callable returning the tracker snapshot after this frame.
            settled: whether the tracker has given out every result it worked out (one that
                holds later frames back cannot be snapshotted as "after this frame"; the
                snapshot then waits for the next settled frame).
        """
        assert self._journal is not None, "start_fresh() or load() first"
        with _writing(self.folder / "journal.jsonl"):
            self._journal.write(json.dumps(result_record(result)) + "\n")
            self._journal.flush()
        self._since_snapshot += 1
        if self._since_snapshot >= self.every and settled:
            self._since_snapshot = 0
            self._write_snapshot(result.index, snapshot())

    def _write_snapshot(self, frame: int, state: Mapping[str, Any]) -> None:
        arrays: dict[str, np.ndarray] = {}
        # Array names carry the frame: a kill between the two renames below leaves a pair
        # whose names disagree, which loading detects.
        plain = _split_arrays(state, arrays, prefix=f"f{frame}_")
        _replace(self.folder / "snapshot.npz", lambda f: np.savez(f, **arrays))
        meta = {"version": _VERSION, "frame": frame, "arrays": sorted(arrays), "state": plain}
        _replace(self.folder / "snapshot.json", lambda f: f.write(json.dumps(meta).encode()))

    def finish(self) -> None:
        """The run completed: drop the journal folder."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        """Close the journal file; never raises (it may run while another error propagates)."""
        if self._journal is not None:
            journal, self._journal = self._journal, None
            with suppress(OSError):
                journal.close()
