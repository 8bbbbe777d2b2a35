"""The graph cut on the work region: OpenCV grabCut plus the tight-box constraint.

GrabCut alternates fitting two colour mixtures (object, background) with a contrast-sensitive
min-cut. It has no notion that a user's box is *tight*, and drops parts of the object whose
colours also occur in the background (a white boat in front of a pale shore can vanish
entirely). Following Lempitsky et al., "Image segmentation with a bounding box prior" (ICCV
2009), a tight box means every row and every column of the box crosses the object: lines the
cut leaves empty get their most object-coloured pixel pinned as sure foreground, the colour
models are re-fitted with the pins in and the cut is resumed, for a few rounds ("pinpointing").

How many box lines the first cut crosses is kept as well: a cut that misses most of them has
failed outright (the colour models settled on one small part), which the engine answers with a
second attempt rather than by pinning alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segany_video.models.classic.colour_model import ColourMixture, log_likelihood_ratio
from segany_video.models.classic.tight_box import box_slices, lines_crossed, pins, uncrossed_lines
from segany_video.models.classic.trimap import GC_BGD, GC_FGD, GC_PR_BGD, GC_PR_FGD

# k-means inside grabCut needs a handful of samples per mixture component (5 components).
_MIN_SAMPLES = 10
# grabCut iterations (model re-fit + cut) after each round of pins.
_REFIT_ITERATIONS = 2


@dataclass(frozen=True)
class CutResult:
    """The cut on one work region.

    Attributes:
        foreground: ``(h, w)`` bool.
        colour_ratio: ``(h, w)`` float32 log-likelihood ratio object vs background colour model,
            or None when there were too few labelled pixels to fit the models.
        box_crossed: fraction of the tight box's rows and columns that the first cut (before
            any pin) crosses, or None without a box; 1 means the cut already spans the box.
    """

    foreground: np.ndarray
    colour_ratio: np.ndarray | None
    box_crossed: float | None = None


def cut_region(
    image: np.ndarray,
    trimap: np.ndarray,
    iterations: int,
    box: np.ndarray | None = None,
    pin_rounds: int = 0,
) -> CutResult:
    """Segment a work region.

    Args:
        image: ``(h, w, 3)`` uint8.
        trimap: ``(h, w)`` uint8 ``GC_*`` labels; copied, not modified.
        iterations: grabCut iterations of the first cut.
        box: tight box in work pixels ``XYXY`` (exclusive ends) to enforce, or None.
        pin_rounds: rounds of the tight-box constraint.

    Returns:
        The cut; when the trimap leaves too few object or background pixels to fit colour
        models, the foreground is the trimap's sure+probable foreground as it stands.
    """
    labels = trimap.copy()
    object_like = (labels == GC_FGD) | (labels == GC_PR_FGD)
    if int((~object_like).sum()) < _MIN_SAMPLES:
        # A prompt covering the whole region (a full-frame box): the border is the only
        # plausible background evidence, kept probable so the cut may still claim it.
        border = np.ones_like(object_like)
        border[1:-1, 1:-1] = False
        labels[border & (labels != GC_FGD)] = GC_PR_BGD
        object_like = (labels == GC_FGD) | (labels == GC_PR_FGD)
    if int(object_like.sum()) < _MIN_SAMPLES or int((~object_like).sum()) < _MIN_SAMPLES:
        return CutResult(foreground=object_like, colour_ratio=None)

    bgd_model = np.zeros((1, 65), dtype=np.float64)
    fgd_model = np.zeros((1, 65), dtype=np.float64)
    cv2.grabCut(image, labels, None, bgd_model, fgd_model, iterations, cv2.GC_INIT_WITH_MASK)
    crossed = None
    if box is not None:
        crossed = lines_crossed(_foreground(labels), box)
        for _ in range(pin_rounds):
            if not _pin_uncrossed_lines(labels, image, fgd_model, bgd_model, box):
                break
            # The colour models are re-fitted with the pins in: a pinned line often crosses a
            # part of the object whose colour the first fit gave to the background (a white
            # hull beside white wake), and only a re-fit lets the cut grow from the pin into
            # that part rather than keep an isolated pixel.
            cv2.grabCut(image, labels, None, bgd_model, fgd_model, _REFIT_ITERATIONS, cv2.GC_EVAL)
    ratio = _ratio(image, fgd_model, bgd_model)
    foreground = _foreground(labels)
    return CutResult(foreground=foreground, colour_ratio=ratio, box_crossed=crossed)


def _ratio(image: np.ndarray, fgd_model: np.ndarray, bgd_model: np.ndarray) -> np.ndarray:
    return log_likelihood_ratio(
        image, ColourMixture.from_opencv(fgd_model), ColourMixture.from_opencv(bgd_model)
    )


def _pin_uncrossed_lines(
    labels: np.ndarray,
    image: np.ndarray,
    fgd_model: np.ndarray,
    bgd_model: np.ndarray,
    box: np.ndarray,
) -> bool:
    """Pin one pixel on each box row/column without foreground; False when none was empty.

    The pinned pixel is the line's most object-coloured one under the current models; the
    colour ratio is evaluated on those lines only (usually a few), not on the whole region.
    """
    inside = labels[box_slices(box)]
    rows, cols = uncrossed_lines(_foreground(labels), box)
    if len(rows) == 0 and len(cols) == 0:
        return False
    on_lines = np.zeros(inside.shape, dtype=bool)
    on_lines[rows] = True
    on_lines[:, cols] = True
    on_lines &= inside != GC_BGD  # a negative click is never overridden
    score = np.full(inside.shape, -np.inf, dtype=np.float32)
    if on_lines.any():
        pixels = image[box_slices(box)][on_lines].reshape(-1, 1, 3)
        score[on_lines] = _ratio(pixels, fgd_model, bgd_model).reshape(-1)
    ys, xs = pins(score, rows, cols)
    inside[ys, xs] = GC_FGD
    return len(ys) > 0


def _foreground(labels: np.ndarray) -> np.ndarray:
    return (labels == GC_FGD) | (labels == GC_PR_FGD)
