"""Motion prediction: dense optical flow between consecutive frames and a constant-velocity box.

The flow is computed once per frame (shared by all objects) on downscaled grey frames with
OpenCV's DIS, in the *backward* direction (current frame -> previous frame): warping a mask by
sampling the previous mask where each current pixel came from leaves no holes, unlike pushing
previous pixels forward.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.boxes import Box, tight_box

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def downscaled_grey(image: np.ndarray, scale: float, grey: np.ndarray | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(h, w)`` uint8 grey at ``scale`` of the size (``grey``: the
    image's full-size grey, when the caller has it already)."""
    if grey is None:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale == 1.0:
        return grey
    height, width = grey.shape
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


class FlowField:
    """Backward flow from the current frame to the previous one, at reduced resolution.

    Attributes:
        flow: ``(h, w, 2)`` float32 displacement ``(dx, dy)`` in *low-res* pixels: the pixel at
            ``(x, y)`` of the current frame was at ``(x + dx, y + dy)`` in the previous one.
        frame_size: ``(H, W)`` of the source frames.
    """

    def __init__(self, flow: np.ndarray, frame_size: tuple[int, int]) -> None:
        self.flow = flow
        self.frame_size = frame_size
        height, width = flow.shape[:2]
        scale = max(frame_size[1] / width, frame_size[0] / height)
        # No pixel moves further than this, so a mask's warp stays within its box grown by it.
        self.reach = int(np.ceil(float(np.abs(flow).max(initial=0.0)) * scale)) + 2

    def _maps(self, x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        """Source-size sampling maps for the crop ``[y0:y1, x0:x1]`` only.

        The low-res flow is interpolated bilinearly at each crop pixel's low-res position,
        with the half-pixel alignment of resizing the whole field, so a small object costs a
        small crop instead of two full-frame float maps. The crop grid is separable, so the
        interpolation is two 1-D passes (rows, then columns), over the low-res cells the crop's
        taps touch only.
        """
        full_h, full_w = self.frame_size
        height, width = self.flow.shape[:2]
        (top, bottom), row_weight = _linear_taps(y0, y1, height / full_h, height)
        (left, right), col_weight = _linear_taps(x0, x1, width / full_w, width)
        # Taps grow with the pixel index, so the first and last bound the cells read.
        r0, c0 = top[0], left[0]
        patch = self.flow[r0 : bottom[-1] + 1, c0 : right[-1] + 1]
        top, bottom, left, right = top - r0, bottom - r0, left - c0, right - c0
        row_weight = row_weight[:, None]
        xs = np.arange(x0, x1, dtype=np.float32)[None, :]
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        maps = []
        for channel, pixel, factor in ((0, xs, full_w / width), (1, ys, full_h / height)):
            # Gathers on a contiguous 2-D plane are ~3x faster than on the interleaved (.., 2).
            plane = np.ascontiguousarray(patch[..., channel])
            upper, lower = plane[top], plane[bottom]
            by_row = upper + (lower - upper) * row_weight
            left_value, right_value = by_row[:, left], by_row[:, right]
            moved = left_value + (right_value - left_value) * col_weight
            maps.append(pixel + moved * np.float32(factor))
        return maps[0], maps[1]

    def landing(self, box: Box) -> Box:
        """Where the pixels inside ``box`` on the previous frame can be on the current one:
        ``box`` grown by the flow's reach, clipped to the frame."""
        height, width = self.frame_size
        x0, y0, x1, y1 = box
        return (
            max(0, x0 - self.reach),
            max(0, y0 - self.reach),
            min(width, x1 + self.reach),
            min(height, y1 + self.reach),
        )

    def warp(self, mask: np.ndarray, within: Box | None = None) -> np.ndarray:
        """Carry a previous-frame mask to the current frame.

        Args:
            mask: ``(H, W)`` bool or float in ``[0, 1]`` on the previous frame.
            within: a box holding every non-zero pixel of ``mask`` (None: found by a scan of the
                frame). The result is zero outside :meth:`landing` of it.

        Returns:
            ``(H, W)`` float32 in ``[0, 1]``: the soft warped mask (threshold at 0.5).
        """
        # A bool mask is its own non-zero test: comparing it to 0 costs a full-frame cast.
        box = within or tight_box(mask if mask.dtype == bool else mask > 0)
        out = np.zeros(self.frame_size, dtype=np.float32)
        if box is None:
            return out
        x0, y0, x1, y1 = self.landing(box)
        map_x, map_y = self._maps(x0, y0, x1, y1)
        # The mask is zero outside its box, as is the constant border: sample the box only.
        height, width = self.frame_size
        src_x0, src_y0 = max(0, box[0] - 1), max(0, box[1] - 1)
        src_x1, src_y1 = min(width, box[2] + 1), min(height, box[3] + 1)
        source = mask[src_y0:src_y1, src_x0:src_x1].astype(np.float32)
        out[y0:y1, x0:x1] = cv2.remap(
            source,
            map_x - np.float32(src_x0),
            map_y - np.float32(src_y0),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return out

    def sample_previous(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The previous frame's ``image`` pulled along the flow onto this frame's ``box``:
        where the flow is right, it matches this frame's pixels there."""
        map_x, map_y = self._maps(*box)
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def mean_motion(self, mask: np.ndarray) -> np.ndarray:
        """Mean forward displacement ``(dx, dy)`` in source pixels of the region ``mask``."""
        height, width = self.flow.shape[:2]
        small = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
        scale = self.frame_size[1] / width
        if not small.any():
            return np.zeros(2, dtype=np.float32)
        # Backward flow points to where pixels came from; the forward motion is its negation.
        return (-self.flow[small > 0].mean(axis=0) * scale).astype(np.float32)


class FlowEstimator:
    """DIS optical flow between consecutive frames, keeping only the previous grey frame.

    Args:
        scale: frames are downscaled by this factor before the flow...
        preset: OpenCV DIS preset name.
        min_side: ...but never below this many pixels on their shorter side (nor above the
            source size): DIS needs room for its patches at every pyramid level, so small
            videos keep their resolution.
    """

    def __init__(self, scale: float, preset: str, min_side: int = 0) -> None:
        self.scale = scale
        self.min_side = min_side
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        self.previous: np.ndarray | None = None

    def scale_for(self, frame_size: tuple[int, int]) -> float:
        """The downscale factor used for frames of ``(H, W)``."""
        return min(1.0, max(self.scale, self.min_side / max(1, min(frame_size))))

    def next_frame(self, image: np.ndarray, grey: np.ndarray | None = None) -> FlowField | None:
        """Feed the next frame (``grey``: its full-size grey, when already made); returns the
        flow back to the frame fed before (None at first)."""
        grey = downscaled_grey(image, self.scale_for(image.shape[:2]), grey)
        field = None
        if self.previous is not None and self.previous.shape == grey.shape:
            flow = self._dis.calc(grey, self.previous, None)
            field = FlowField(flow, image.shape[:2])
        self.previous = grey
        return field


class ConstantVelocity:
    """A box that keeps moving at its last velocity (damped), for objects the flow cannot see.

    State: ``box`` ``(4,)`` float64 ``XYXY`` and ``velocity`` ``(2,)`` pixels per frame.
    """

    def __init__(self, box: np.ndarray, velocity: np.ndarray | None = None) -> None:
        self.box = np.asarray(box, dtype=np.float64).copy()
        self.velocity = (
            np.zeros(2) if velocity is None else np.asarray(velocity, dtype=np.float64).copy()
        )

    def observe(self, box: np.ndarray, blend: float = 0.5) -> None:
        """Update with a measured box; velocity is smoothed over its centre's displacement."""
        box = np.asarray(box, dtype=np.float64)
        moved = _centre(box) - _centre(self.box)
        self.velocity = blend * moved + (1.0 - blend) * self.velocity
        self.box = box.copy()

    def coast(self, damping: float) -> np.ndarray:
        """Advance one frame without a measurement; returns the predicted box."""
        self.box = self.box + np.tile(self.velocity, 2)
        self.velocity = self.velocity * damping
        return self.box.copy()


def _linear_taps(
    start: int, stop: int, scale: float, size: int
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Low-res neighbours and weights of source pixels ``start..stop-1`` (1-D, linear).

    Returns:
        ``((lower, upper), weight)``: indices into ``size`` low-res cells and ``(n,)``
        float32 weights of the upper one, clamped at the edges like ``cv2.resize``.
    """
    position = (np.arange(start, stop, dtype=np.float64) + 0.5) * scale - 0.5
    position = np.clip(position, 0.0, size - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, size - 1)
    weight = (position - lower).astype(np.float32)
    return (lower, upper), weight


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
