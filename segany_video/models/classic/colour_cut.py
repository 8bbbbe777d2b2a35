"""One exact cut between an object colour model and the background around it.

Both of the engine's own cuts share this step: the object's colours come from pixels the prompt
vouches for (seeds), the background's from the surrounding ring modelled side by side
(:mod:`ring_model`), and the labelling is the exact minimum of grabCut's energy with the
caller's smoothness (:mod:`min_cut`), the prompt's sure pixels fixed. The two cuts differ in
where their seeds come from: a tight box has to find them (:mod:`box_cut`); a mask prior —
the tracker's previous mask carried forward by motion — gives them as its eroded core
(:func:`cut_with_prior`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from segany_video.models.classic.colour_model import ColourMixture
from segany_video.models.classic.graph_cut import CutResult
from segany_video.models.classic.min_cut import (
    FIXED_BACKGROUND,
    FIXED_OBJECT,
    FREE,
    GridCut,
    contrast_edges,
)
from segany_video.models.classic.ring_model import RingBackground
from segany_video.models.classic.trimap import GC_BGD, GC_FGD

_OBJECT_COMPONENTS = 5
# |gain| cap: beyond it the smoothness never overrides the colour evidence anyway.
_GAIN_CAP = 50.0
# The ring must hold this many pixels for its colours to be modelled.
MIN_RING = 200
# A soft prior is trusted at most this far from 0 and 1 in the cut's unary terms.
_PRIOR_CAP = 0.02


@dataclass
class ColourCut:
    """A solved cut and the colour evidence it was solved with.

    Attributes:
        cut: the solved minimum cut (more sure-object pixels can be added to it).
        gain: ``(h, w)`` float32 log-likelihood ratio, object model vs ring background.
        fixed: ``(h, w)`` int8 hard constraints taken from the trimap.
    """

    cut: GridCut
    gain: np.ndarray
    fixed: np.ndarray


def solve_colour_cut(
    image: np.ndarray,
    trimap: np.ndarray,
    seeds: np.ndarray,
    background: RingBackground,
    smoothness: float,
    spatial: np.ndarray | None = None,
) -> ColourCut:
    """Fit the object model to ``seeds`` and solve the cut.

    Args:
        image: ``(h, w, 3)`` uint8 RGB work crop.
        trimap: ``(h, w)`` uint8 ``GC_*`` labels; ``GC_BGD`` and ``GC_FGD`` become hard
            constraints, the probable labels are left to the cut.
        seeds: ``(h, w)`` bool pixels showing the object's colours.
        background: the ring's background model on the same crop.
        smoothness: weight of the contrast-sensitive smoothness (grabCut's gamma).
        spatial: ``(h, w)`` float32 log-odds of where the object is expected, added to the
            colour evidence in the cut (not to :attr:`ColourCut.gain`), or None.
    """
    pixels = image.reshape(-1, 3)
    object_model = ColourMixture.fit(pixels[seeds.ravel()], _OBJECT_COMPONENTS)
    gain = object_model.log_likelihood(pixels).reshape(trimap.shape) - background.log_likelihood
    gain = np.clip(gain, -_GAIN_CAP, _GAIN_CAP).astype(np.float32)
    fixed = np.full(trimap.shape, FREE, dtype=np.int8)
    fixed[trimap == GC_BGD] = FIXED_BACKGROUND
    fixed[trimap == GC_FGD] = FIXED_OBJECT
    unary = gain if spatial is None else gain + spatial
    return ColourCut(GridCut(unary, contrast_edges(image, smoothness), fixed), gain, fixed)


def cut_with_prior(
    image: np.ndarray,
    trimap: np.ndarray,
    smoothness: float,
    spatial: np.ndarray | None = None,
) -> CutResult | None:
    """Segment from a mask prior's trimap (sure core, probable body and band, sure beyond).

    The object model is fitted to the sure core, which the prior vouches for; grabCut would fit
    it to the whole probable body, taking in the background a moving object uncovered. The
    ring is the sure background around the probable region, modelled per side of its box.
    ``spatial`` (log-odds of the soft prior, see :func:`prior_log_odds`) keeps the cut near
    where the prior puts the object: colour alone lets it spread over look-alike background.

    Returns:
        The cut, or None when the prior leaves no core or too thin a ring to model.
    """
    ring = trimap == GC_BGD
    core = trimap == GC_FGD
    if int(ring.sum()) < MIN_RING or not core.any():
        return None
    ys, xs = np.nonzero(~ring)
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    background = RingBackground.fit(image, box, ring)
    if background is None:
        return None
    solved = solve_colour_cut(image, trimap, core, background, smoothness, spatial)
    return CutResult(foreground=solved.cut.foreground, colour_ratio=solved.gain)


def prior_log_odds(prior: np.ndarray, weight: float) -> np.ndarray | None:
    """``weight`` x the log-odds of a soft prior ``(h, w)`` in ``[0, 1]``, capped at 2 %/98 %.

    The cap bounds what the prior alone can decide; None when ``weight`` is 0.
    """
    if weight == 0.0:
        return None
    p = np.clip(prior.astype(np.float32), _PRIOR_CAP, 1.0 - _PRIOR_CAP)
    return (weight * (np.log(p) - np.log1p(-p))).astype(np.float32)
