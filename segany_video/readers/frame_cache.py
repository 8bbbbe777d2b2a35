"""A least-recently-used cache of decoded frames, bounded in bytes.

Reading a video backwards in short runs (backward propagation) would otherwise decode from the
previous keyframe for every run: with a 250-frame GOP that is ~30x the work of reading forwards.
Keeping the frames decoded on the way to a target lets the next runs, which ask for exactly
those frames, come from memory. Frames are kept in the decoder's own format (YUV 4:2:0 is half
the size of RGB) and converted only when asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentFrames(Generic[T]):
    """Frames by index, evicting the least recently used beyond ``budget_bytes``.

    Args:
        budget_bytes: memory the cache may hold; 0 disables it.
        frame_bytes: size of one frame (all frames of a video share one size).
    """

    def __init__(self, budget_bytes: int, frame_bytes: int) -> None:
        if budget_bytes < 0 or frame_bytes <= 0:
            raise ValueError(
                f"need budget >= 0 and frame size > 0, got {budget_bytes}, {frame_bytes}"
            )
        self.capacity = budget_bytes // frame_bytes
        self._frames: OrderedDict[int, T] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, index: int, frame: T) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._frames[index] = frame
            self._frames.move_to_end(index)
            while len(self._frames) > self.capacity:
                self._frames.popitem(last=False)

    def get(self, index: int) -> T | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def __len__(self) -> int:
        return len(self._frames)
