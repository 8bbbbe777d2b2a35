"""Alpha cutouts for editors: the object keeps its pixels, everything else is transparent.

Two containers editors open directly (Premiere, Resolve, After Effects, browsers):
ProRes 4444 in ``.mov`` (10-bit 4:4:4 with a lossless-grade alpha plane; large, edit-friendly)
and VP9 in ``.webm`` with alpha (small; the alpha is lossy but close). Colour outside the mask is
set to black as well, so players that ignore alpha still show a clean cutout.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from segany_video.errors import WriterError
from segany_video.writers.video_encoder import EncodedVideoWriter, StreamSpec, VideoEncoder

CUTOUT_CODECS: dict[str, tuple[StreamSpec, str]] = {
    # profile 4 = "4444": the ProRes profile that carries alpha.
    "prores": (
        StreamSpec(
            codec="prores_ks",
            container="mov",
            pix_fmt="yuva444p10le",
            input_format="rgba",
            options={"profile": "4", "vendor": "apl0", "alpha_bits": "16"},
        ),
        ".mov",
    ),
    # Alpha in VP9 travels as a second stream in WebM's BlockAdditional; only libvpx decodes it
    # (FFmpeg's native vp9 decoder drops it). Constant-quality mode with speed 4 is a balance
    # between encoding speed and edge quality.
    "vp9": (
        StreamSpec(
            codec="libvpx-vp9",
            container="webm",
            pix_fmt="yuva420p",
            input_format="rgba",
            options={"crf": "24", "b": "0", "deadline": "good", "cpu-used": "4"},
        ),
        ".webm",
    ),
}


def cutout_suffix(codec: str) -> str:
    """File extension of a cutout codec: ".mov" for "prores", ".webm" for "vp9"."""
    if codec not in CUTOUT_CODECS:
        raise WriterError(
            f"unknown cutout codec {codec!r}; expected one of {sorted(CUTOUT_CODECS)}"
        )
    return CUTOUT_CODECS[codec][1]


def rgba_cutout(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cut one object out of a frame.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        mask: ``(H, W)`` bool or integer (nonzero = object).

    Returns:
        ``(H, W, 4)`` uint8 RGBA: RGB where the mask is set and 0 elsewhere; alpha 255/0.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise WriterError(
            f"a cutout needs an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}"
        )
    if mask.shape != image.shape[:2]:
        raise WriterError(f"mask {mask.shape} does not match image {image.shape[:2]}")
    inside = mask != 0
    rgba = np.zeros((*image.shape[:2], 4), dtype=np.uint8)
    rgba[inside, :3] = image[inside]
    rgba[inside, 3] = 255
    return rgba


class CutoutWriter(EncodedVideoWriter):
    """One object's cutout video with alpha.

    Args:
        path: final path (``.mov`` for "prores", ``.webm`` for "vp9").
        width, height: source frame size.
        fps: source nominal frame rate (metadata; timing comes from the timestamps).
        codec: "prores" (ProRes 4444, yuva444p10le) or "vp9" (yuva420p).
        object_id: for error messages.

    Raises:
        WriterError: unknown codec, or the encoder is missing from this PyAV build (the writer
            never falls back to another codec), or the file cannot be created.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        codec: str,
        object_id: int | str | None = None,
    ) -> None:
        cutout_suffix(codec)
        spec = CUTOUT_CODECS[codec][0]
        who = f"object {object_id!r}" if object_id is not None else Path(path).name
        self._encoder = VideoEncoder(path, width, height, fps, spec, f"the {codec} cutout of {who}")

    def write(self, image: np.ndarray, mask: np.ndarray, timestamp: float) -> None:
        """Append one frame: ``image`` ``(H, W, 3)`` uint8 RGB cut by ``mask`` ``(H, W)``."""
        self._encoder.write(rgba_cutout(image, mask), timestamp)
