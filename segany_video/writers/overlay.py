"""Overlay preview: the source video with each object's mask tinted, outlined, boxed and labelled.

Colours are stable: an object's colour depends only on its slot (1-based position in the
prompts), stepping the hue by the golden ratio so neighbouring slots stay far apart on the
colour wheel however many objects there are. The preview is H.264 in MP4 (every player opens
it); odd frame sizes are padded by one row/column because 4:2:0 chroma needs even sizes.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from segany_video.results import FrameResult, mask_box
from segany_video.writers.video_encoder import EncodedVideoWriter, StreamSpec, VideoEncoder

_GOLDEN = 0.6180339887498949
_H264_PREVIEW = StreamSpec(
    codec="libx264",
    container="mp4",
    pix_fmt="yuv420p",
    input_format="rgb24",
    options={"crf": "23", "preset": "veryfast"},
    even_size=True,
)


def slot_colour(slot: int) -> tuple[int, int, int]:
    """The RGB colour of the object in ``slot`` (1-based), saturated and bright."""
    hue = (0.05 + slot * _GOLDEN) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return round(r * 255), round(g * 255), round(b * 255)


def draw_overlay(
    image: np.ndarray,
    result: FrameResult,
    object_ids: Sequence[int | str],
    opacity: float = 0.5,
) -> np.ndarray:
    """Draw every object of ``result`` onto a copy of ``image``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        result: the frame's objects; their masks are ``(H, W)`` bool.
        object_ids: every object in prompt order (gives each its slot, hence its colour).
        opacity: tint strength in ``[0, 1]``.

    Returns:
        ``(H, W, 3)`` uint8 RGB: masks tinted, outlines, ``XYXY`` boxes and id labels drawn.
    """
    out = image.copy()
    height, width = image.shape[:2]
    thickness = max(1, round(min(height, width) / 240))
    font_scale = max(0.35, min(height, width) / 900)
    drawn = []
    for slot, object_id in enumerate(object_ids, start=1):
        obj = result.objects.get(object_id)
        # Work inside the mask's own box only (masks are usually small next to the frame);
        # the result's box is drawn as given but not trusted to contain the mask.
        bounds = None if obj is None or obj.box is None else mask_box(obj.mask)
        if bounds is None:
            continue
        x0, y0, x1, y1 = _box_slice(bounds, width, height)
        crop, inside = out[y0:y1, x0:x1], obj.mask[y0:y1, x0:x1]
        colour = np.array(slot_colour(slot), dtype=np.float32)
        crop[inside] = (crop[inside] * (1.0 - opacity) + colour * opacity + 0.5).astype(np.uint8)
        drawn.append((object_id, slot, obj, (x0, y0, x1, y1)))
    # Lines and labels go on top of every tint so a later object's tint never hides them.
    for object_id, slot, obj, (x0, y0, x1, y1) in drawn:
        colour = slot_colour(slot)
        contours, _ = cv2.findContours(
            obj.mask[y0:y1, x0:x1].astype(np.uint8),
            cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_SIMPLE,
            offset=(x0, y0),
        )
        cv2.drawContours(out, contours, -1, colour, thickness, cv2.LINE_AA)
        x0, y0, x1, y1 = _box_slice(obj.box, width, height)
        cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        label = f"{object_id} {float(obj.score):.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = y0 - 2 if y0 - th - base - 2 >= 0 else min(height - 1, y1 + th + 2)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw + 2, ty + base // 2), colour, -1)
        cv2.putText(
            out,
            label,
            (x0 + 1, ty - base // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return out


def _box_slice(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """``XYXY`` float box -> integer pixel bounds clipped to the frame, rounded outward."""
    x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x1, y1 = min(width, int(np.ceil(box[2]))), min(height, int(np.ceil(box[3])))
    return x0, y0, x1, y1


class OverlayWriter(EncodedVideoWriter):
    """Writes ``overlay.mp4``.

    Args:
        path: final path, e.g. ``out/overlay.mp4``.
        width, height: source frame size.
        fps: source nominal frame rate (metadata; timing comes from the timestamps).
        object_ids: every object in prompt order.
        opacity: tint strength in ``[0, 1]``.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction,
        object_ids: Sequence[int | str],
        opacity: float = 0.5,
    ) -> None:
        self._encoder = VideoEncoder(path, width, height, fps, _H264_PREVIEW, "the overlay preview")
        self._object_ids = list(object_ids)
        self._opacity = opacity

    def write(self, image: np.ndarray, result: FrameResult) -> None:
        """Draw ``result`` over ``image`` (``(H, W, 3)`` uint8 RGB) and append it."""
        frame = draw_overlay(image, result, self._object_ids, self._opacity)
        self._encoder.write(frame, result.timestamp)
