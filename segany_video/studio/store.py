"""Tracked results kept by the studio: compressed masks per frame, and tracker snapshots.

Masks are bit-packed and deflated (a few kB per object and frame), so a session can keep every
frame of a clip; :meth:`ResultStore.frame` gives back the exact :class:`FrameResult` the tracker
made, for drawing and for export. Snapshots of the tracker state let a correction on frame ``k``
re-track from the snapshot before ``k`` instead of from the start.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from segany_video.results import FrameResult, ObjectResult, TrackState

STATE_LETTERS = {
    TrackState.PROMPTED: "p",
    TrackState.TRACKED: "t",
    TrackState.LOST: "l",
    TrackState.INACTIVE: "i",
}


@dataclass(frozen=True)
class StoredObject:
    """One object on one frame, with its mask compressed."""

    packed: bytes
    box: tuple[float, float, float, float] | None
    score: float
    state: TrackState


@dataclass(frozen=True)
class StoredFrame:
    index: int
    timestamp: float
    objects: dict[int | str, StoredObject]


class ResultStore:
    """Results of one tracking range ``[start, end)`` for a fixed list of object ids.

    Args:
        frame_size: ``(H, W)``.
        object_ids: the tracked objects, in output order.
        start: the first frame of the range.
        snapshot_every: frames between kept tracker snapshots; the gap doubles whenever more
            than ``max_snapshots`` are held, so memory stays bounded on long videos.
    """

    def __init__(
        self,
        frame_size: tuple[int, int],
        object_ids: list[int | str],
        start: int,
        snapshot_every: int = 1,
        max_snapshots: int = 300,
    ) -> None:
        self.frame_size = frame_size
        self.object_ids = list(object_ids)
        self.start = start
        self.frames: dict[int, StoredFrame] = {}
        self.snapshots: dict[int, dict] = {}  # frame index -> tracker state after that frame
        self.snapshot_every = snapshot_every
        self.max_snapshots = max_snapshots

    def add(self, result: FrameResult) -> None:
        objects = {}
        for object_id, obj in result.objects.items():
            box = None if obj.box is None else tuple(float(v) for v in obj.box)
            packed = zlib.compress(np.packbits(obj.mask).tobytes(), 1)
            objects[object_id] = StoredObject(packed, box, float(obj.score), TrackState(obj.state))
        self.frames[result.index] = StoredFrame(result.index, float(result.timestamp), objects)

    def wants_snapshot(self, index: int) -> bool:
        return (index - self.start) % self.snapshot_every == self.snapshot_every - 1

    def add_snapshot(self, index: int, snapshot: dict) -> None:
        self.snapshots[index] = snapshot
        if len(self.snapshots) > self.max_snapshots:
            self.snapshot_every *= 2
            self.snapshots = {i: s for i, s in self.snapshots.items() if self.wants_snapshot(i)}

    def snapshot_before(self, frame: int) -> tuple[int, dict] | None:
        """The latest snapshot taken after a frame ``< frame`` whose results are all kept."""
        best = None
        for index in sorted(self.snapshots):
            if index >= frame:
                break
            if all(i in self.frames for i in range(self.start, index + 1)):
                best = index
        return None if best is None else (best, self.snapshots[best])

    def drop_from(self, frame: int) -> None:
        """Forget results and snapshots of ``frame`` and later (they are about to be redone)."""
        self.frames = {i: f for i, f in self.frames.items() if i < frame}
        self.snapshots = {i: s for i, s in self.snapshots.items() if i < frame}

    def done_until(self) -> int:
        """One past the last frame of the unbroken run of results from :attr:`start`."""
        index = self.start
        while index in self.frames:
            index += 1
        return index

    def frame(self, index: int) -> FrameResult | None:
        """The stored :class:`FrameResult` of a frame, masks unpacked, or None."""
        stored = self.frames.get(index)
        if stored is None:
            return None
        objects = {}
        for object_id, obj in stored.objects.items():
            mask = self._unpack(obj.packed)
            box = None if obj.box is None else np.array(obj.box, dtype=np.float32)
            objects[object_id] = ObjectResult(object_id, mask, box, obj.score, obj.state)
        return FrameResult(stored.index, stored.timestamp, objects)

    def states(self, first: int, count: int) -> dict[int | str, str]:
        """Per object, one letter per frame ``first .. first+count-1``: p(rompted), t(racked),
        l(ost), i(nactive), or ``-`` where nothing is tracked."""
        letters: dict[int | str, list[str]] = {i: [] for i in self.object_ids}
        for index in range(first, first + count):
            stored = self.frames.get(index)
            for object_id in self.object_ids:
                obj = None if stored is None else stored.objects.get(object_id)
                letters[object_id].append("-" if obj is None else STATE_LETTERS[obj.state])
        return {object_id: "".join(row) for object_id, row in letters.items()}

    def _unpack(self, packed: bytes) -> np.ndarray:
        height, width = self.frame_size
        bits = np.frombuffer(zlib.decompress(packed), dtype=np.uint8)
        return np.unpackbits(bits, count=height * width).reshape(height, width).astype(bool)
