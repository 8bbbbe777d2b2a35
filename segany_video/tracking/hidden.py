"""Parts of an object out of sight, carried along by its visible body's motion.

When an object passes behind a post, a tree or a sign, the part behind it leaves the mask, and
the optical flow cannot bring it back: the pixels that come out on the far side had no visible
past, so warping the previous mask gives them nothing. Where they come out is known, though:
where the part went in, moved on as the visible body moves. So each track keeps, besides its
mask, the pixels its mask lost (an age map), carries them with the body's median flow for about
as long as the object takes to move its own size, and claims back those that move with the body
against the surroundings again. Parts lost for other reasons (a cut that missed a limb) come
back the same way; background the mask let go of stays behind, as it does not move with the
body. While the body moves as its surroundings do (a still walker, a post passing in front),
motion cannot tell the two: every lost part is offered back, and colour and the object's usual
size judge them.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.boxes import Box
from segany_video.tracking.motion import FlowField
from segany_video.tracking.motion_cue import (
    body_against_surroundings,
    flow_cells,
    labels_on_cells,
)

# Age of a pixel of the visible mask in an age map; a lost pixel's age counts up from it.
VISIBLE = 1
# The flow cells around the body that read as its surroundings.
_MARGIN = 6
# How far (flow cells) the flow smears the body's motion over what borders it: a pixel closer
# to the body than this moves with it on the flow whatever it is (an occluder's edge, too).
_SMEAR_CELLS = 2
# A part stays at most this many frames out of sight (a still object's time is unbounded).
_MOST_FRAMES = 60


def shift(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """``image`` moved by whole pixels ``(dx, dy)``, zero where nothing moved in."""
    out = np.zeros_like(image)
    height, width = image.shape[:2]
    if abs(dx) >= width or abs(dy) >= height:
        return out
    src_y = slice(max(0, -dy), height - max(0, dy))
    dst_y = slice(max(0, dy), height - max(0, -dy))
    src_x = slice(max(0, -dx), width - max(0, dx))
    dst_x = slice(max(0, dx), width - max(0, -dx))
    out[dst_y, dst_x] = image[src_y, src_x]
    return out


class BodyMotion:
    """The visible body's motion on this frame, and which pixels share it.

    Args:
        flow: backward flow of the current frame.
        body: ``(H, W)`` bool, the previous mask warped by the flow.
        box: tight box of ``body``.
        sigma: flow noise in source pixels (as :class:`.motion_cue.MotionCue`).
    """

    def __init__(self, flow: FlowField, body: np.ndarray, box: Box, sigma: float) -> None:
        self.flow = flow
        self.cell = flow.frame_size[1] / flow.flow.shape[1]  # source pixels per flow cell
        vectors, cell_box, scales = flow_cells(flow, box, _MARGIN)
        crop = body[box[1] : box[3], box[0] : box[2]].view(np.uint8)
        cells = labels_on_cells(crop, box, cell_box, scales)
        motions = body_against_surroundings(vectors, cells, 1)
        self.backward = None if motions is None else motions[0]
        # Only a body clearly moving against its surroundings can tell its pixels apart.
        self.separation = 0.0
        if motions is not None and motions[2] >= 2.0 * sigma:
            self.separation = motions[2]

    @property
    def step(self) -> tuple[int, int] | None:
        """The body's forward displacement in whole pixels, or None when not measured."""
        if self.backward is None:
            return None
        return -round(float(self.backward[0])), -round(float(self.backward[1]))

    def moving_with(self, region: np.ndarray) -> np.ndarray:
        """``(H, W)`` bool: the pixels of ``region`` whose flow is nearer the body's than half
        the gap between the body's and the surroundings' (all of ``region`` when those two
        are alike: motion cannot tell)."""
        if self.backward is None or not region.any():
            return np.zeros_like(region)
        if self.separation == 0.0:
            # Motion cannot tell them apart: all may be the object; colour decides later.
            return region.copy()
        full_h, full_w = self.flow.frame_size
        low_h, low_w = self.flow.flow.shape[:2]
        scale = np.array([full_w / low_w, full_h / low_h], np.float32)
        gap = np.hypot(*(self.flow.flow * scale - self.backward).transpose(2, 0, 1))
        near = (gap < 0.5 * self.separation).astype(np.uint8)
        up = cv2.resize(near, (full_w, full_h), interpolation=cv2.INTER_NEAREST) > 0
        return region & up


def carry(
    ages: np.ndarray, body: BodyMotion, moved: np.ndarray, reference_area: float
) -> tuple[np.ndarray, np.ndarray]:
    """Carry last frame's age map by the body's step; return it and the lost pixels back in view.

    Args:
        ages: ``(H, W)`` uint8 on the previous frame: :data:`VISIBLE` on its mask, a lost
            pixel's age above it, 0 elsewhere.
        body: the visible body's motion on this frame.
        moved: ``(H, W)`` bool, the previous mask warped by the flow.
        reference_area: the object's usual area (pixels).

    Returns:
        ``(carried, back)``: the age map on this frame (every pixel one frame older, those lost
        longer than the object takes to move its own size dropped), and ``(H, W)`` bool, its
        pixels that motion did not bring but that move with the body now, the most recently
        lost first, only as many as the visible body lacks of ``reference_area``.
    """
    step = body.step
    carried = ages.copy() if step is None else shift(ages, *step)
    carried[carried > 0] += 1
    speed = 0.0 if step is None else float(np.hypot(*step))
    limit = int(np.clip(np.sqrt(reference_area) / max(speed, 1e-3), 2, _MOST_FRAMES))
    carried[carried > VISIBLE + limit] = 0
    candidates = (carried > 0) & ~moved
    if candidates.any():
        reach = int(np.ceil(_SMEAR_CELLS * body.cell))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
        candidates &= cv2.dilate(moved.view(np.uint8), kernel) == 0
    back = body.moving_with(candidates)
    # Lost parts bring the object back to its usual size, never past it: a leak cut off once
    # must not return this way.
    lacking = reference_area - np.count_nonzero(moved)
    count = np.count_nonzero(back)
    if count == 0:
        return carried, back
    if lacking <= 0:
        back[:] = False
    elif count > lacking:
        back_ages = np.where(back, carried, np.uint8(255))
        youngest = np.sort(back_ages[back])[int(lacking)]
        back &= back_ages < youngest
    return carried, back


def after_frame(carried: np.ndarray | None, mask: np.ndarray) -> np.ndarray:
    """The age map on this frame: the new mask visible, the rest of ``carried`` lost."""
    if carried is None:
        return mask.astype(np.uint8) * np.uint8(VISIBLE)
    return np.where(mask, np.uint8(VISIBLE), carried)
