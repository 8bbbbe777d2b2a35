"""From one object's prompt to K scored candidate masks (the classic engine's "decoder").

Candidates differ in granularity, like SAM's three outputs:

* box or mask prior: (0) the graph cut as it came out, (1) the cut cleaned to its main parts
  with small holes filled, (2) the prompt's own shape — the mask prior itself, or for a box the
  pixels the colour models alone call object — a fallback when the cut goes astray;
* clicks alone: the cut within a small, a medium and a large square box around the clicks (a
  part, the object, the object with what it touches), since a click does not say how big the
  object is.

Each candidate is a soft foreground probability over its source crop, with a quality score.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from segany_video.models.base import ObjectPrompt
from segany_video.models.classic.box_cut import cut_box
from segany_video.models.classic.colour_cut import cut_with_prior, prior_log_odds
from segany_video.models.classic.features import ClassicFeatures
from segany_video.models.classic.graph_cut import CutResult, cut_region
from segany_video.models.classic.quality import QualityInputs, mask_quality
from segany_video.models.classic.refine import upsample_mask
from segany_video.models.classic.settings import ClassicSettings
from segany_video.models.classic.trimap import (
    GC_FGD,
    WorkRegion,
    build_trimap,
    plan_region,
    prior_foreground,
    search_boxes,
)

# grabCut seeds its k-means from OpenCV's RNG; a fixed seed per object makes decoding
# deterministic and independent of which other objects share the call.
_RNG_SEED = 12345
# Parts of a cut smaller than this fraction of its largest part are dropped by the cleaning.
_MIN_PART = 0.1
# Holes smaller than this fraction of the object are filled by the cleaning.
_MAX_HOLE = 0.02
# A first cut crossing fewer than this fraction of a tight box's lines has failed outright (the
# object went to the background with a look-alike surrounding, like a white hull with its
# white wake). Such a cut gets a second attempt with the whole frame as colour context.
_FAILED_CROSSING = 0.5
# Context of that second attempt, as a fraction of the box's longer side: enough for any frame.
_WIDE_MARGIN = 2.0

CANDIDATES = 3


@dataclass(frozen=True)
class Candidate:
    """One candidate mask of one object.

    Attributes:
        probability: ``(y1 - y0, x1 - x0)`` float32 foreground probability over ``region``.
        region: the source crop it covers (outside it the probability is 0).
        score: quality estimate in ``[0, 1]``.
    """

    probability: np.ndarray
    region: WorkRegion
    score: float


def object_candidates(
    features: ClassicFeatures, prompt: ObjectPrompt, settings: ClassicSettings
) -> list[Candidate]:
    """:data:`CANDIDATES` scored candidates for one validated prompt (empty if no region)."""
    if prompt.box is None and prompt.mask is None:
        return [
            _click_candidate(features, prompt, box, settings)
            for box in search_boxes(prompt, features.frame_size, settings)
        ]
    return _region_candidates(features, prompt, settings)


def _click_candidate(
    features: ClassicFeatures, prompt: ObjectPrompt, box: np.ndarray, settings: ClassicSettings
) -> Candidate:
    """The cut within one search box around clicks, judged against the clicks alone."""
    search = replace(prompt, box=box)
    region = plan_region(search, features.frame_size, settings)
    assert region is not None
    cut, _ = _cut(features, search, region, settings, tight_box=False)
    return _finish(features, prompt, None, region, cut.foreground, cut, settings)


def _region_candidates(
    features: ClassicFeatures, prompt: ObjectPrompt, settings: ClassicSettings
) -> list[Candidate]:
    """The three candidates of a prompt with a box or a mask prior."""
    region = plan_region(prompt, features.frame_size, settings)
    if region is None:
        return []
    prior = prior_foreground(prompt)
    cut, trimap = _cut(features, prompt, region, settings, tight_box=True)
    if cut.box_crossed is not None and cut.box_crossed < _FAILED_CROSSING:
        region, cut, trimap = _wider_attempt(features, prompt, settings, region, cut, trimap)
    cleaned = clean_mask(cut.foreground, trimap == GC_FGD)
    candidates = [
        _finish(features, prompt, prior, region, cut.foreground, cut, settings),
        _finish(features, prompt, prior, region, cleaned, cut, settings),
    ]
    if prior is not None and prior.any():
        shaped = region.crop(prompt.mask, cv2.INTER_AREA) >= 0.5
    elif cut.colour_ratio is not None:
        object_like = (cut.colour_ratio > 0) & (trimap != cv2.GC_BGD)
        shaped = cv2.morphologyEx(
            object_like.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)
        ).astype(bool)
    else:
        shaped = cut.foreground
    candidates.append(_finish(features, prompt, prior, region, shaped, cut, settings))
    return candidates


def _wider_attempt(
    features: ClassicFeatures,
    prompt: ObjectPrompt,
    settings: ClassicSettings,
    region: WorkRegion,
    cut: CutResult,
    trimap: np.ndarray,
) -> tuple[WorkRegion, CutResult, np.ndarray]:
    """Re-cut a failed tight-box cut with the whole frame as background context.

    A narrow ring around the box may hold too few samples of the background colours that also
    fill the box (shore and water around a boat), so the colour models cannot tell them from
    the object; the whole frame holds many more. The attempt whose first cut crosses more of
    the box's lines is kept (both are judged before any pin, so the pins cannot flatter one).
    """
    wide = plan_region(prompt, features.frame_size, replace(settings, box_margin=_WIDE_MARGIN))
    assert wide is not None
    wide_cut, wide_trimap = _cut(features, prompt, wide, settings, tight_box=True)
    assert cut.box_crossed is not None
    if wide_cut.box_crossed is not None and wide_cut.box_crossed > cut.box_crossed:
        return wide, wide_cut, wide_trimap
    return region, cut, trimap


def preferred(prompt: ObjectPrompt, candidates: list[Candidate]) -> Candidate:
    """The single candidate to return when one mask is asked for.

    With a box or mask prior the cut itself (candidate 0) is the engine's answer: its boundary
    follows the image, while the score only ranks granularities; with clicks alone the right
    granularity is unknown, so the best-scored one.
    """
    if prompt.box is None and prompt.mask is None:
        return max(candidates, key=lambda c: c.score)
    return candidates[0]


def _cut(
    features: ClassicFeatures,
    prompt: ObjectPrompt,
    region: WorkRegion,
    settings: ClassicSettings,
    tight_box: bool,
) -> tuple[CutResult, np.ndarray]:
    """The engine's cut of one work region, and the trimap it was made from.

    The engine's own colour cuts come first: from a mask prior's core, or from the seeds a box
    holds (the user's box, taken as tight, or a loose search box around clicks). GrabCut is the
    fallback where they cannot be made (no core, too thin a ring) or where a tight box's cut
    misses most of the box's lines; then the answer crossing more of them is kept.
    """
    image = region.crop(features.image)
    trimap, box_work = build_trimap(prompt, region, settings, image)
    # The tight-box constraint only holds when the box is the object's extent: not for the
    # loose search boxes around clicks, nor for a bound on a mask prior that shapes the object.
    pin_box = box_work if tight_box and prompt.mask is None else None
    cv2.setRNGSeed(_RNG_SEED)
    if prompt.mask is not None:
        soft = region.crop(np.asarray(prompt.mask, dtype=np.float32))
        spatial = prior_log_odds(soft, settings.prior_weight)
        own = cut_with_prior(image, trimap, settings.prior_smoothness, spatial)
    else:
        assert box_work is not None, "a prompt without a mask prior is cut within a box"
        own = cut_box(image, trimap, box_work, settings.box_smoothness, tight=pin_box is not None)
    if own is not None and (own.box_crossed is None or own.box_crossed >= _FAILED_CROSSING):
        return own, trimap
    cv2.setRNGSeed(_RNG_SEED)
    iterations = settings.iterations if pin_box is None else settings.box_iterations
    cut = cut_region(image, trimap, iterations, pin_box, settings.pin_rounds)
    if own is not None and cut.box_crossed is not None and own.box_crossed > cut.box_crossed:
        return own, trimap
    return cut, trimap


def _finish(
    features: ClassicFeatures,
    prompt: ObjectPrompt,
    prior: np.ndarray | None,
    region: WorkRegion,
    work_mask: np.ndarray,
    cut: CutResult,
    settings: ClassicSettings,
) -> Candidate:
    probability = upsample_mask(
        work_mask, region, features.guide, settings.refine_radius, settings.refine_eps
    )
    quality = QualityInputs(
        mask=probability >= 0.5,
        gradient=features.gradient[region.y0 : region.y1, region.x0 : region.x1],
        colour_ratio=cut.colour_ratio,
        work_mask=work_mask,
        offset=(region.x0, region.y0),
    )
    return Candidate(probability, region, mask_quality(quality, prompt, prior))


def clean_mask(mask: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Drop small stray parts and fill small holes of a binary mask.

    Args:
        mask: ``(h, w)`` bool.
        keep: ``(h, w)`` bool pixels whose parts are kept whatever their size (sure foreground).

    Returns:
        ``(h, w)`` bool.
    """
    if not mask.any():
        return mask
    count, parts, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), 8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    wanted = np.zeros(count, dtype=bool)
    wanted[1:] = areas >= _MIN_PART * areas.max()
    wanted[np.unique(parts[keep & mask])] = True
    wanted[0] = False
    cleaned = wanted[parts]
    holes = ~cleaned
    count, parts, stats, _ = cv2.connectedComponentsWithStats(holes.astype(np.uint8), 4)
    h, w = mask.shape
    small = np.zeros(count, dtype=bool)
    limit = _MAX_HOLE * cleaned.sum()
    for label in range(1, count):
        x, y, bw, bh, area = stats[label]
        touches_border = x == 0 or y == 0 or x + bw == w or y + bh == h
        small[label] = area <= limit and not touches_border
    return cleaned | small[parts]
