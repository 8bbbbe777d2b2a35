"""From prompts to graph-cut input: prompt validation, the work region, and the trimap.

A prompt says where the object surely is, where it probably is, and where it surely is not.
GrabCut takes exactly that as a four-label map (sure/probable background/foreground), so every
prompt kind is translated into it on a downscaled crop around the prompt ("work region"):

* box: outside the box is sure background, inside probable foreground;
* mask prior (the tracker's warped previous mask): its eroded core is sure foreground, the rest
  of it probable foreground, a band around it probable background, beyond that sure background;
* clicks: a small disc of sure foreground under each positive click; a negative click makes
  the similar-coloured patch around it sure background; clicks alone are treated as loose
  square boxes of a few sizes around them (:func:`search_boxes`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt
from segany_video.models.classic.settings import ClassicSettings
from segany_video.results import mask_box

GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD = cv2.GC_BGD, cv2.GC_FGD, cv2.GC_PR_BGD, cv2.GC_PR_FGD

# A negative click removes the patch of similar colour (max per-channel difference from the
# clicked colour, after blurring) within this fraction of the region side.
_PATCH_RADIUS = 0.25
_PATCH_TOLERANCE = 30


@dataclass(frozen=True)
class WorkRegion:
    """A crop of the source frame and the scale at which it is segmented.

    Attributes:
        x0, y0, x1, y1: crop in source pixels, ``XYXY`` with exclusive ends.
        scale: work pixels per source pixel (<= 1).
    """

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float

    @property
    def work_size(self) -> tuple[int, int]:
        """``(h, w)`` of the downscaled crop."""
        return (
            max(1, round((self.y1 - self.y0) * self.scale)),
            max(1, round((self.x1 - self.x0) * self.scale)),
        )

    def to_work(self, xy: np.ndarray) -> np.ndarray:
        """Map ``(..., 2)`` source ``(x, y)`` coordinates into work pixels."""
        offset = np.array([self.x0, self.y0], dtype=np.float32)
        return (np.asarray(xy, dtype=np.float32) - offset) * self.scale

    def crop(self, array: np.ndarray, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
        """Crop a source-size array to the region and resize it to :attr:`work_size`."""
        h, w = self.work_size
        patch = np.ascontiguousarray(array[self.y0 : self.y1, self.x0 : self.x1])
        if (h, w) == patch.shape[:2]:
            return patch
        return cv2.resize(patch, (w, h), interpolation=interpolation)


def make_region(
    bounds: tuple[float, float, float, float],
    frame_size: tuple[int, int],
    work_pixels: int,
) -> WorkRegion:
    """Clip ``bounds`` (``XYXY`` source pixels) to the frame and pick the work scale."""
    height, width = frame_size
    x0 = int(np.clip(np.floor(bounds[0]), 0, width - 1))
    y0 = int(np.clip(np.floor(bounds[1]), 0, height - 1))
    x1 = int(np.clip(np.ceil(bounds[2]), x0 + 1, width))
    y1 = int(np.clip(np.ceil(bounds[3]), y0 + 1, height))
    scale = min(1.0, float(np.sqrt(work_pixels / ((x1 - x0) * (y1 - y0)))))
    return WorkRegion(x0, y0, x1, y1, scale)


def validate_prompt(prompt: ObjectPrompt, frame_size: tuple[int, int], index: int) -> None:
    """Check a prompt against the frame it is decoded on.

    Raises:
        PromptError: clicks outside the frame, a box that misses the frame, a mask prior of
            another size, or only a SAM-format dense prompt (this engine reads ``mask``).
    """
    height, width = frame_size
    where = f"object {index} (frame size {width}x{height})"
    if prompt.points is not None:
        pts = prompt.points
        outside = (pts[:, 0] < 0) | (pts[:, 0] > width) | (pts[:, 1] < 0) | (pts[:, 1] > height)
        if outside.any():
            raise PromptError(
                f"{where}: points {pts[outside].tolist()} lie outside the frame; "
                f"give (x, y) pixels with 0 <= x <= {width} and 0 <= y <= {height}"
            )
    if prompt.box is not None:
        box = prompt.box
        clipped = np.clip(box, 0, [width, height, width, height])
        if not (clipped[2] - clipped[0] >= 1 and clipped[3] - clipped[1] >= 1):
            raise PromptError(
                f"{where}: box {box.tolist()} (XYXY pixels) does not cover any pixel of the "
                "frame; give a box inside the frame"
            )
    if prompt.mask is not None and prompt.mask.shape != (height, width):
        raise PromptError(
            f"{where}: mask prior has shape {prompt.mask.shape}, expected the frame's "
            f"({height}, {width})"
        )
    if prompt.points is None and prompt.box is None and prompt.mask is None:
        raise PromptError(
            f"{where}: the classic engine cannot read SAM low-res logits alone; pass the "
            "previous mask as `mask` instead"
        )


def prior_foreground(prompt: ObjectPrompt) -> np.ndarray | None:
    """The mask prior as ``(H, W)`` bool (prior >= 0.5), or None without a prior."""
    return None if prompt.mask is None else prompt.mask >= 0.5


def plan_region(
    prompt: ObjectPrompt, frame_size: tuple[int, int], settings: ClassicSettings
) -> WorkRegion | None:
    """The work region of a prompt with a box or a mask prior: their extent plus context.

    Returns None when the prompt has neither (clicks alone: see :func:`search_boxes`) or when
    its only content is an empty mask prior (the object is gone).
    """
    height, width = frame_size
    spans: list[np.ndarray] = []
    if prompt.box is not None:
        spans.append(np.clip(prompt.box, 0, [width, height, width, height]))
    fg = prior_foreground(prompt)
    if fg is not None and fg.any():
        spans.append(mask_box(fg))
    if not spans:
        return None
    positives = _points(prompt, 1)
    x0, y0 = min(s[0] for s in spans), min(s[1] for s in spans)
    x1, y1 = max(s[2] for s in spans), max(s[3] for s in spans)
    if len(positives):
        x0, y0 = min(x0, positives[:, 0].min()), min(y0, positives[:, 1].min())
        x1, y1 = max(x1, positives[:, 0].max() + 1), max(y1, positives[:, 1].max() + 1)
    pad = settings.box_margin * max(x1 - x0, y1 - y0) + settings.context_px
    return make_region((x0 - pad, y0 - pad, x1 + pad, y1 + pad), frame_size, settings.work_pixels)


def search_boxes(
    prompt: ObjectPrompt, frame_size: tuple[int, int], settings: ClassicSettings
) -> list[np.ndarray]:
    """For clicks alone: one box per :attr:`ClassicSettings.click_scales` around them.

    A click does not say how big the object is, so the engine segments as if the user had
    drawn a loose box of each size (``XYXY`` pixels, clipped to the frame): a square of that
    fraction of the frame's shorter side, stretched along each axis to 1.5 times the clicks'
    spread on it. Several clicks say the object reaches at least that far, along that axis
    only: a person clicked at head and feet is tall, not wide, and a square around the clicks
    takes in the wall beside them. Empty without positive clicks.
    """
    height, width = frame_size
    positives = _points(prompt, 1)
    if len(positives) == 0:
        return []
    centre = (positives.min(axis=0) + positives.max(axis=0)) / 2
    spread = positives.max(axis=0) - positives.min(axis=0)  # (x, y)
    boxes = []
    for fraction in settings.click_scales:
        half = np.maximum(fraction * min(height, width), 1.5 * spread + 8) / 2
        box = np.concatenate([centre - half, centre + half])
        boxes.append(np.clip(box, 0, [width, height, width, height]).astype(np.float32))
    return boxes


def _points(prompt: ObjectPrompt, label: int) -> np.ndarray:
    if prompt.points is None:
        return np.zeros((0, 2), dtype=np.float32)
    return prompt.points[prompt.point_labels == label]


def _disc_radius(region: WorkRegion, fraction: float) -> int:
    h, w = region.work_size
    return max(1, round(fraction * max(h, w)))


def build_trimap(
    prompt: ObjectPrompt, region: WorkRegion, settings: ClassicSettings, image: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Translate a prompt into grabCut's four-label map on the work region.

    ``image`` is the ``(h, w, 3)`` uint8 work crop: a negative click removes the patch of
    similar colour around it, not just the pixel under it.

    Returns:
        ``(h, w)`` uint8 trimap of ``GC_*`` labels, and the box in work pixels ``XYXY``
        (integers, exclusive ends) when the prompt has a box, else None.
    """
    h, w = region.work_size
    box_work = None
    fg = prior_foreground(prompt)
    has_prior = fg is not None and bool(fg.any())
    if has_prior:
        trimap = _prior_trimap(region.crop(fg.astype(np.uint8), cv2.INTER_NEAREST), settings)
    else:
        assert prompt.box is not None, "clicks alone are segmented through search_boxes"
        trimap = np.full((h, w), GC_BGD, dtype=np.uint8)
    if prompt.box is not None:
        corners = region.to_work(prompt.box.reshape(2, 2)).reshape(4)
        bx0 = int(np.clip(np.floor(corners[0]), 0, w - 1))
        by0 = int(np.clip(np.floor(corners[1]), 0, h - 1))
        bx1 = int(np.clip(np.ceil(corners[2]), bx0 + 1, w))
        by1 = int(np.clip(np.ceil(corners[3]), by0 + 1, h))
        box_work = np.array([bx0, by0, bx1, by1])
        inside = np.zeros((h, w), dtype=bool)
        inside[by0:by1, bx0:bx1] = True
        if has_prior:
            trimap[~inside] = GC_BGD
        else:
            trimap[inside] = GC_PR_FGD
    radius = _disc_radius(region, settings.click_radius)
    negatives = region.to_work(_points(prompt, 0))
    if len(negatives):
        patches = _similar_patches(image, negatives, _disc_radius(region, _PATCH_RADIUS))
        # A patch that leaks into a mask prior's sure core does not erase it (the tracker puts
        # negative clicks on neighbouring objects, which may share colours with this one).
        trimap[patches & (trimap != GC_FGD)] = GC_BGD
    for label, value in ((1, GC_FGD), (0, GC_BGD)):
        for x, y in region.to_work(_points(prompt, label)):
            cv2.circle(trimap, (round(float(x)), round(float(y))), radius, int(value), -1)
    return trimap, box_work


def _similar_patches(image: np.ndarray, seeds: np.ndarray, radius: int) -> np.ndarray:
    """``(h, w)`` bool: pixels connected to a seed through similar colour, within ``radius``.

    The image is blurred first so texture does not stop the fill at every other pixel.
    """
    h, w = image.shape[:2]
    smooth = cv2.GaussianBlur(image, (5, 5), 0)
    filled = np.zeros((h + 2, w + 2), dtype=np.uint8)
    flags = 8 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    tolerance = (_PATCH_TOLERANCE,) * 3
    for x, y in seeds:
        seed = (int(np.clip(round(float(x)), 0, w - 1)), int(np.clip(round(float(y)), 0, h - 1)))
        reach = np.zeros((h + 2, w + 2), dtype=np.uint8)
        cv2.circle(reach, (seed[0] + 1, seed[1] + 1), radius, 1, -1)
        # floodFill never enters pixels already set in its mask: block everything out of reach.
        patch = np.where(reach > 0, 0, 2).astype(np.uint8)
        cv2.floodFill(smooth, patch, seed, 0, tolerance, tolerance, flags)
        filled |= patch == 1
    return filled[1:-1, 1:-1].astype(bool)


def _prior_trimap(fg: np.ndarray, settings: ClassicSettings) -> np.ndarray:
    """Sure core, probable body, probable band, sure background from a binary prior."""
    radius = float(np.sqrt(fg.sum() / np.pi))
    trimap = np.full(fg.shape, GC_BGD, dtype=np.uint8)
    band = round(settings.prior_band * radius) + 1
    dilated = cv2.dilate(fg, _disc(band))
    trimap[dilated > 0] = GC_PR_BGD
    trimap[fg > 0] = GC_PR_FGD
    core = round(settings.prior_sure_fg * radius)
    if core >= 1:
        trimap[cv2.erode(fg, _disc(core)) > 0] = GC_FGD
    return trimap


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
