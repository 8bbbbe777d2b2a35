"""Synthetic tracking results and a plain PyAV decoder for the writer tests.

Kept apart from the package's reader on purpose: writer round trips must be checked by an
independent decoder, not by our own reading code.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box

# Uneven gaps (variable frame rate) in seconds, not multiples of any common frame period.
GAPS_S = (0.0, 0.033, 0.071, 0.02, 0.1, 0.0334, 0.04, 0.2, 0.017, 0.05)
TIMESTAMPS = tuple(float(t) for t in np.cumsum(GAPS_S))


def video_info(width: int = 64, height: int = 48, frames: int = len(TIMESTAMPS)) -> VideoInfo:
    return VideoInfo("synthetic.mp4", width, height, Fraction(30), frames, None, 0, "h264", "pyav")


def image(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB: smooth gradients (codecs keep them well) that change per frame."""
    ys, xs = np.mgrid[0:height, 0:width]
    rgb = np.stack([xs * 4 + index * 7, ys * 5, (xs + ys) * 2 + 40], axis=-1)
    return (rgb % 256).astype(np.uint8)


def object_mask(object_slot: int, index: int, width: int = 64, height: int = 48) -> np.ndarray:
    """``(H, W)`` bool: a moving blob per object with a hole and a ragged edge (rich RLE runs).

    Slot 2 is lost (empty) on frames 3 and 4 to exercise empty masks.
    """
    mask = np.zeros((height, width), dtype=bool)
    if object_slot == 2 and index in (3, 4):
        return mask
    rng = np.random.default_rng(1000 * object_slot + index)
    x0 = (5 + 3 * index + 17 * object_slot) % (width - 20)
    y0 = (4 + 2 * index + 9 * object_slot) % (height - 16)
    mask[y0 : y0 + 14, x0 : x0 + 18] = True
    mask[y0 + 5 : y0 + 8, x0 + 6 : x0 + 9] = False  # a hole
    edge = rng.random(14) > 0.5
    mask[y0 : y0 + 14, x0 + 18][edge] = True  # ragged right edge
    return mask


def frame_results(
    object_ids: Sequence[int | str],
    timestamps: Sequence[float] = TIMESTAMPS,
    width: int = 64,
    height: int = 48,
) -> list[FrameResult]:
    results = []
    for index, timestamp in enumerate(timestamps):
        objects = {}
        for slot, object_id in enumerate(object_ids, start=1):
            mask = object_mask(slot, index, width, height)
            box = mask_box(mask)
            state = TrackState.LOST if box is None else TrackState.TRACKED
            score = 0.0 if box is None else 0.5 + 0.04 * index + 0.01 * slot
            objects[object_id] = ObjectResult(object_id, mask, box, score, state)
        results.append(FrameResult(index, float(timestamp), objects))
    return results


def decode(path: Path, decoder: str | None = None) -> tuple[list[av.VideoFrame], list[float]]:
    """Every frame of the first video stream and its timestamp in seconds (plain PyAV).

    Args:
        decoder: force a decoder by name (e.g. "libvpx-vp9", the only VP9 decoder that
            returns the alpha plane); None uses the stream's default.
    """
    frames: list[av.VideoFrame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if decoder is None:
            frames = list(container.decode(stream))
        else:
            context = av.CodecContext.create(decoder, "r")
            for packet in container.demux(stream):
                if packet.size:
                    frames.extend(context.decode(packet))
            frames.extend(context.decode(None))
        times = [float(f.pts * stream.time_base) for f in frames]
    return frames, times


def plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """One plane of a decoded frame as a 2-D array (uint8, or uint16 for >8-bit formats)."""
    p = frame.planes[index]
    dtype = np.uint16 if frame.format.name.endswith(("le", "be")) else np.uint8
    itemsize = np.dtype(dtype).itemsize
    rows = np.frombuffer(p, dtype=dtype).reshape(p.height, p.line_size // itemsize)
    return rows[:, : p.width]
