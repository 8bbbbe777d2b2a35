"""Motion prediction: dense optical flow between consecutive frames and a constant-velocity box.

The flow is computed once per frame (shared by all objects) on downscaled grey frames with
OpenCV's DIS, in the *backward* direction (current frame -> previous frame): warping a mask by
sampling the previous mask where each current pixel came from leaves no holes, unlike pushing
previous pixels forward.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from segany_video.results import mask_box

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def downscaled_grey(image: np.ndarray, scale: float) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(h, w)`` uint8 grey at ``scale`` of the size."""
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
        self._maps: tuple[np.ndarray, np.ndarray] | None = None
        height, width = flow.shape[:2]
        scale = max(frame_size[1] / width, frame_size[0] / height)
        # No pixel moves further than this, so a mask's warp stays within its box grown by it.
        self.reach = int(np.ceil(float(np.abs(flow).max(initial=0.0)) * scale)) + 2

    def _full_maps(self) -> tuple[np.ndarray, np.ndarray]:
        # Sampling maps at source size, built once per frame and shared by all objects.
        if self._maps is None:
            full_h, full_w = self.frame_size
            height, width = self.flow.shape[:2]
            up = cv2.resize(self.flow, (full_w, full_h), interpolation=cv2.INTER_LINEAR)
            grid_x, grid_y = _grid(full_h, full_w)
            map_x = grid_x + up[..., 0] * np.float32(full_w / width)
            map_y = grid_y + up[..., 1] * np.float32(full_h / height)
            self._maps = (map_x, map_y)
        return self._maps

    def warp(self, mask: np.ndarray) -> np.ndarray:
        """Carry a previous-frame mask to the current frame.

        Args:
            mask: ``(H, W)`` bool or float in ``[0, 1]`` on the previous frame.

        Returns:
            ``(H, W)`` float32 in ``[0, 1]``: the soft warped mask (threshold at 0.5).
        """
        box = mask_box(mask > 0)
        out = np.zeros(self.frame_size, dtype=np.float32)
        if box is None:
            return out
        map_x, map_y = self._full_maps()
        height, width = self.frame_size
        x0, y0 = max(0, int(box[0]) - self.reach), max(0, int(box[1]) - self.reach)
        x1, y1 = min(width, int(box[2]) + self.reach), min(height, int(box[3]) + self.reach)
        out[y0:y1, x0:x1] = cv2.remap(
            mask.astype(np.float32),
            map_x[y0:y1, x0:x1],
            map_y[y0:y1, x0:x1],
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return out

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
    """DIS optical flow between consecutive frames, keeping only the previous grey frame."""

    def __init__(self, scale: float, preset: str) -> None:
        self.scale = scale
        self._dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
        self.previous: np.ndarray | None = None

    def next_frame(self, image: np.ndarray) -> FlowField | None:
        """Feed the next frame; returns the flow back to the frame fed before (None at first)."""
        grey = downscaled_grey(image, self.scale)
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


@functools.lru_cache(maxsize=4)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids ``(H, W)`` float32, shared by every frame of a size (read-only)."""
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    grid_x.flags.writeable = False
    grid_y.flags.writeable = False
    return grid_x, grid_y


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0])
