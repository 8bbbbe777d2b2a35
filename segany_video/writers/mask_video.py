"""Per-object mask videos: lossless FFV1 in Matroska by default, H.264 MP4 for light previews."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from segany_video.errors import WriterError
from segany_video.writers.video_encoder import EncodedVideoWriter, StreamSpec, VideoEncoder

# FFV1 version 3 with slices encodes in parallel and checksums each slice; gray8 stores the
# 0/255 mask losslessly, so decoding gives back exactly the bytes written.
_FFV1 = StreamSpec(
    codec="ffv1",
    container="matroska",
    pix_fmt="gray",
    input_format="gray",
    options={"level": "3", "slicecrc": "1", "g": "1"},
)
# H.264 needs 4:2:0 chroma (even sizes) for players to open it; a mask has no chroma, but
# yuv420p is what every player and editor accepts. Lossy: threshold at 128 when reading back.
_H264 = StreamSpec(
    codec="libx264",
    container="mp4",
    pix_fmt="yuv420p",
    input_format="gray",
    options={"crf": "18", "preset": "veryfast"},
    even_size=True,
)
MASK_CODECS = {"ffv1": (_FFV1, ".mkv"), "h264": (_H264, ".mp4")}


def mask_video_suffix(codec: str) -> str:
    """File extension for a mask codec: ".mkv" for "ffv1", ".mp4" for "h264"."""
    if codec not in MASK_CODECS:
        raise WriterError(f"unknown mask codec {codec!r}; expected one of {sorted(MASK_CODECS)}")
    return MASK_CODECS[codec][1]


def mask_to_gray(mask: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool (or 0/1, 0/255 integers) -> ``(H, W)`` uint8 with values 0/255."""
    if mask.ndim != 2:
        raise WriterError(f"a mask must be (H, W), got shape {mask.shape}")
    if mask.dtype == np.uint8:
        return np.where(mask > 0, np.uint8(255), np.uint8(0))
    return (mask != 0).astype(np.uint8) * np.uint8(255)


class MaskVideoWriter(EncodedVideoWriter):
    """The mask of one object through the video, one frame per source frame.

    Frame ``i`` of the file is shown at the source's timestamp of frame ``i``, so variable frame
    rates survive and the mask lines up with the source in any editor. Pixel values are 0
    (background) and 255 (object).

    Args:
        path: final path (``.mkv`` for "ffv1", ``.mp4`` for "h264").
        width, height: source frame size.
        fps: source nominal frame rate (metadata; timing comes from the timestamps).
        codec: "ffv1" (lossless, default) or "h264" (small, lossy, for previews; odd sizes are
            padded by one row/column).
        object_id: for error messages.

    Raises:
        WriterError: unknown codec, encoder missing, or the file cannot be created.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        codec: str = "ffv1",
        object_id: int | str | None = None,
    ) -> None:
        mask_video_suffix(codec)
        spec = MASK_CODECS[codec][0]
        who = f"object {object_id!r}" if object_id is not None else Path(path).name
        self._encoder = VideoEncoder(path, width, height, fps, spec, f"the mask video of {who}")

    def write(self, mask: np.ndarray, timestamp: float) -> None:
        """Append one frame.

        Args:
            mask: ``(H, W)`` bool or uint8 (nonzero = object).
            timestamp: seconds on the source timeline.
        """
        self._encoder.write(mask_to_gray(mask), timestamp)
