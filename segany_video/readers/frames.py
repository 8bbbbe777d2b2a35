"""Value objects the readers produce: video metadata and batches of decoded frames."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class VideoInfo:
    """What a reader knows about its source.

    Attributes:
        source: the path or URL as given.
        width, height: frame size after rotation is applied (frames come out upright).
        fps: nominal frame rate (average rate for variable-frame-rate video).
        frame_count: number of frames when known (None for live streams and pipes).
        duration: seconds, when known.
        rotation: degrees clockwise the frames were rotated to come out upright (0/90/180/270).
        codec: decoder name, e.g. "h264", or "png" for image folders.
        backend: "pyav", "decord" or "images".
    """

    source: str
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    duration: float | None
    rotation: int
    codec: str
    backend: str


@dataclass(frozen=True)
class FrameBatch:
    """Consecutive decoded frames.

    Attributes:
        indices: ``(B,)`` int64 frame indices in the video (0-based, decode order).
        timestamps: ``(B,)`` float64 seconds from PTS relative to the stream start.
        frames: ``(B, H, W, 3)`` uint8 RGB.
    """

    indices: np.ndarray
    timestamps: np.ndarray
    frames: np.ndarray

    def __post_init__(self) -> None:
        assert self.frames.ndim == 4 and self.frames.shape[3] == 3, self.frames.shape
        assert self.frames.dtype == np.uint8, self.frames.dtype
        assert len(self.indices) == len(self.timestamps) == len(self.frames)

    def __len__(self) -> int:
        return len(self.indices)
