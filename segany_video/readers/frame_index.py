"""What sequential decoding has learned about a video: one stamp per frame, and the keyframes.

Readers count frame indices while decoding instead of deriving them from timestamps, because
headers and timestamps lie (AVI with packed B-frames shuffles its PTS; headers over-count).
The index remembers each frame's stamp (PTS, or DTS where PTS are unusable) so random access
can seek to a keyframe already seen and check that the decoder landed exactly on it.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from array import array
from fractions import Fraction

import av

NO_STAMP = -(2**63)


def frame_stamp(frame: av.VideoFrame, mode: str) -> int:
    """The frame's PTS or DTS (per ``mode``) in stream time base; NO_STAMP if it has none."""
    value = frame.pts if mode == "pts" else frame.dts if mode == "dts" else None
    return NO_STAMP if value is None else int(value)


def choose_stamp_mode(frames: list[av.VideoFrame]) -> str:
    """Which timestamp increases in presentation order: "pts", else "dts", else "count"."""

    def increasing(values: list[int | None]) -> bool:
        return all(v is not None for v in values) and all(
            b > a  # type: ignore[operator]
            for a, b in itertools.pairwise(values)
        )

    if increasing([f.pts for f in frames]):
        return "pts"
    # Containers without real PTS (AVI with packed B-frames) can carry shuffled PTS while the
    # DTS the decoder reports still counts up one per displayed frame.
    if increasing([f.dts for f in frames]):
        return "dts"
    return "count"


class FrameIndex:
    """Per-frame stamps and seconds, keyframes, and the exact count once an end was reached."""

    def __init__(self, mode: str, time_base: Fraction, fps: Fraction) -> None:
        self.mode = mode
        self.time_base = time_base
        self.frame_seconds = float(1 / fps) if fps > 0 else 1 / 30
        self.stamps = array("q")
        self.seconds = array("d")
        self.keyframes: list[int] = []
        self.count: int | None = None
        self.lock = threading.Lock()

    def learn(self, index: int, frame: av.VideoFrame) -> float:
        """Record frame ``index`` if it is new; return its timestamp in seconds."""
        with self.lock:
            known = len(self.stamps)
            if index < known:
                return self.seconds[index]
            assert index == known, (index, known)
            stamp = frame_stamp(frame, self.mode)
            if stamp == NO_STAMP:
                seconds = self.seconds[-1] + self.frame_seconds if known else 0.0
            else:
                base = self.stamps[0] if known else stamp
                seconds = float((stamp - base) * self.time_base) if known else 0.0
            self.stamps.append(stamp)
            self.seconds.append(seconds)
            if frame.key_frame:
                self.keyframes.append(index)
            return seconds

    def keyframe_at_or_before(self, index: int) -> int | None:
        """The last keyframe seen at or before ``index``, or None."""
        with self.lock:
            pos = bisect.bisect_right(self.keyframes, index)
            return self.keyframes[pos - 1] if pos else None
