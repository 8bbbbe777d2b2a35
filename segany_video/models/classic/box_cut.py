"""The box cut: segment the object inside a box without grabCut's guesswork.

GrabCut starts its object colour model from everything inside the box. For people, animals and
vehicles the object fills only a quarter to a half of its tight box, so that first model is
mostly background; its iterations then settle on whatever separates best, so that first
model decides most failures (figures in BENCHMARKS.md). This cut estimates the object's colours
from pixels it can trust and keeps the background model where the evidence is, at the box's
sides:

1. the background colours are modelled from the ring outside the box (one mixture for the
   whole ring, and one per side, see :mod:`ring_model`);
2. seeds: box pixels whose colour the ring explains badly (novel) *and* that lie behind an
   edge from the ring (geodesically far, see :mod:`geodesic`) — background inside a box is
   usually neither;
3. the object model is a mixture fitted to the seeds; the cut weighs it against the per-side
   background with contrast-sensitive smoothness and is solved exactly (:mod:`colour_cut`);
4. for a tight box (a user's), the tight-box constraint pins one pixel on every box line the
   cut missed, and the cut is solved again (one round: pins do not change the models here);
   the loose search boxes the engine draws around clicks skip this step;
5. background enclosed by the object is filled: inside a tight box it is almost always object
   coloured like the background (sky seen through a sail's colours), not a real hole.

When the ring is too thin to model (the box fills the region) the caller falls back to grabCut.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.models.classic.colour_cut import MIN_RING, solve_colour_cut
from segany_video.models.classic.colour_model import ColourMixture
from segany_video.models.classic.geodesic import geodesic_distance
from segany_video.models.classic.graph_cut import CutResult
from segany_video.models.classic.min_cut import FIXED_BACKGROUND
from segany_video.models.classic.ring_model import RingBackground
from segany_video.models.classic.tight_box import box_slices, lines_crossed, pins, uncrossed_lines
from segany_video.models.classic.trimap import GC_BGD, GC_FGD

# Components of the whole-ring model behind novelty (a ring around a busy scene needs more than
# grabCut's five to leave only true novelty unexplained).
_RING_COMPONENTS = 10
# A seed's colour must be this much less likely under the ring model than a typical ring
# pixel's (natural log units): e^4 ~ 55 times rarer.
_NOVELTY = 4.0
# ... and it must lie farther from the ring than this quantile of the box's distances.
_DISTANCE_QUANTILE = 0.5
# Fewer seeds than this and the whole box seeds the object model, as in grabCut.
_MIN_SEEDS = 20
# Enclosed background up to this share of the object's area is filled.
_MAX_ENCLOSED = 0.25


def cut_box(
    image: np.ndarray, trimap: np.ndarray, box: np.ndarray, smoothness: float, *, tight: bool
) -> CutResult | None:
    """Segment the object of a box on the work region.

    Args:
        image: ``(h, w, 3)`` uint8 RGB work crop.
        trimap: ``(h, w)`` uint8 ``GC_*`` labels from :func:`trimap.build_trimap` (outside
            the box and under negative clicks sure background, positive clicks sure object).
        box: ``XYXY`` integer work pixels, exclusive ends.
        smoothness: weight of the contrast-sensitive smoothness (grabCut's gamma).
        tight: the box is the object's extent (a user's box), so its lines are pinned; a loose
            search box around clicks is not.

    Returns:
        The cut (for a tight box, ``box_crossed`` is measured before the pins), or None when
        the ring around the box is too thin to model its colours.
    """
    h, w = trimap.shape
    in_box = np.zeros((h, w), dtype=bool)
    in_box[box_slices(box)] = True
    ring = ~in_box & (trimap == GC_BGD)
    if int(ring.sum()) < MIN_RING:
        return None
    background = RingBackground.fit(image, box, ring)
    if background is None:
        return None
    seeds = _seeds(image, trimap, in_box, ring)
    solved = solve_colour_cut(image, trimap, seeds, background, smoothness)
    cut, gain, fixed = solved.cut, solved.gain, solved.fixed
    foreground = cut.foreground
    if not tight:
        return CutResult(foreground=_fill_enclosed(foreground, trimap == GC_BGD), colour_ratio=gain)
    crossed = lines_crossed(foreground, box)

    rows, cols = uncrossed_lines(foreground, box)
    if len(rows) or len(cols):
        inside = box_slices(box)
        score = np.where(fixed[inside] == FIXED_BACKGROUND, -np.inf, gain[inside])
        ys, xs = pins(score, rows, cols)
        if len(ys):
            cut.require_object(ys + inside[0].start, xs + inside[1].start)
            foreground = cut.foreground
    foreground = _fill_enclosed(foreground, trimap == GC_BGD)
    return CutResult(foreground=foreground, colour_ratio=gain, box_crossed=crossed)


def _seeds(
    image: np.ndarray, trimap: np.ndarray, in_box: np.ndarray, ring: np.ndarray
) -> np.ndarray:
    """``(h, w)`` bool box pixels trusted to show the object's colours."""
    pixels = image.reshape(-1, 3)
    ring_model = ColourMixture.fit(pixels[ring.ravel()], _RING_COMPONENTS)
    unlikeliness = -ring_model.log_likelihood(pixels).reshape(trimap.shape)
    novelty = unlikeliness - np.median(unlikeliness[ring])
    open_box = in_box & (trimap != GC_BGD)
    # Half resolution is plenty for a ranking by depth, at a quarter of the shortest-path cost.
    distance = geodesic_distance(image, ring, downscale=2)
    far = open_box.copy()
    if open_box.any():
        far &= distance > np.quantile(distance[open_box], _DISTANCE_QUANTILE)
    seeds = (open_box & (novelty > _NOVELTY) & far) | (trimap == GC_FGD)
    if int(seeds.sum()) < _MIN_SEEDS:
        return open_box | (trimap == GC_FGD)
    return seeds


def _fill_enclosed(foreground: np.ndarray, sure_background: np.ndarray) -> np.ndarray:
    """Fill background components enclosed by the object (not touching the region's edge),
    up to :data:`_MAX_ENCLOSED` of its area, unless they hold sure background (a negative click).
    """
    holes = (~foreground).astype(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    h, w = foreground.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    right = x + stats[:, cv2.CC_STAT_WIDTH]
    bottom = y + stats[:, cv2.CC_STAT_HEIGHT]
    enclosed = (x > 0) & (y > 0) & (right < w) & (bottom < h)
    enclosed &= stats[:, cv2.CC_STAT_AREA] <= _MAX_ENCLOSED * int(foreground.sum())
    enclosed[0] = False
    enclosed[np.unique(labels[sure_background & (labels > 0)])] = False
    return foreground | enclosed[labels]
