"""An honest quality estimate for a classic-engine mask, in ``[0, 1]``.

Without learned weights there is no predicted IoU, but three things a correct mask shows can be
measured on the frame itself:

* colour separation: how many pixels the two fitted colour models would label the way the mask
  does (0.5 = the models cannot tell object from background);
* edge agreement: whether the mask boundary runs along image edges rather than across flat
  areas (boundary gradient vs the region's mean gradient);
* prompt agreement: the mask fits the prompt — IoU with the mask prior, IoU of the mask's box
  with a given box, and clicks on the right side (positive ones well inside: users click
  inside objects, so a mask with the click on its rim is likely a neighbouring part).

Each is mapped to ``[0, 1]`` and they are averaged with the weights below; the engine's
benchmark reports how the score correlates with the true IoU.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segany_video.models.base import ObjectPrompt
from segany_video.results import tight_box

_WEIGHTS = {"colour": 0.3, "edges": 0.3, "prompt": 0.4}
# IoU with a mask prior at which prompt agreement is full.
_PRIOR_AGREEMENT = 0.7
# A positive click at least this share of the mask's greatest depth inside it agrees fully.
_CLICK_DEPTH = 0.3


@dataclass(frozen=True)
class QualityInputs:
    """What a mask is judged on, all over the same source crop.

    Attributes:
        mask: ``(h, w)`` bool candidate mask over the crop.
        gradient: ``(h, w)`` float32 gradient magnitude of the crop.
        colour_ratio: ``(h', w')`` float32 colour log-likelihood ratio at work resolution,
            or None when no colour model was fitted.
        work_mask: ``(h', w')`` bool candidate mask at work resolution (pairs with the ratio).
        offset: ``(x0, y0)`` of the crop in the source frame.
    """

    mask: np.ndarray
    gradient: np.ndarray
    colour_ratio: np.ndarray | None
    work_mask: np.ndarray
    offset: tuple[int, int]


def colour_separation(colour_ratio: np.ndarray | None, work_mask: np.ndarray) -> float | None:
    """Mean soft agreement of the colour models with the mask, rescaled to ``[0, 1]``."""
    if colour_ratio is None:
        return None
    signed = np.where(work_mask, colour_ratio, -colour_ratio)
    agreement = float(np.mean(1.0 / (1.0 + np.exp(-np.clip(signed, -30, 30)))))
    return float(np.clip(2.0 * agreement - 1.0, 0.0, 1.0))


def edge_agreement(mask: np.ndarray, gradient: np.ndarray) -> float:
    """How much stronger the gradient is on the mask boundary than on average, in ``[0, 1]``."""
    mask_u8 = mask.astype(np.uint8)
    boundary = mask_u8 ^ cv2.erode(mask_u8, np.ones((3, 3), np.uint8), borderValue=0)
    on_boundary = gradient[boundary > 0]
    if on_boundary.size == 0:
        return 0.0
    contrast = float(on_boundary.mean()) / (float(on_boundary.mean()) + float(gradient.mean()))
    return float(np.clip(2.0 * contrast - 1.0, 0.0, 1.0) ** 0.5)


def prompt_agreement(
    mask: np.ndarray, offset: tuple[int, int], prompt: ObjectPrompt, prior: np.ndarray | None
) -> float:
    """Mean of the agreements with each given prompt kind, in ``[0, 1]``."""
    x0, y0 = offset
    h, w = mask.shape
    parts = []
    if prior is not None:
        prior_crop = prior[y0 : y0 + h, x0 : x0 + w]
        union = int((mask | prior_crop).sum()) + int(prior.sum()) - int(prior_crop.sum())
        iou = int((mask & prior_crop).sum()) / union if union else 0.0
        # A mask prior is a guess (the previous mask carried by motion): a mask's overlap with
        # it beyond this much says nothing about the mask's quality, and rewarding it would
        # rank the prior echoed back above a cut that corrects it.
        parts.append(min(iou / _PRIOR_AGREEMENT, 1.0))
    if prompt.box is not None:
        parts.append(_box_iou(mask, offset, prompt.box))
    if prompt.points is not None:
        xs = np.clip(np.floor(prompt.points[:, 0]).astype(int) - x0, 0, w - 1)
        ys = np.clip(np.floor(prompt.points[:, 1]).astype(int) - y0, 0, h - 1)
        positive = prompt.point_labels == 1
        agree = (mask[ys, xs] == positive).astype(np.float64)
        if positive.any() and mask.any():
            depth = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            deepest = float(depth.max())
            agree[positive] *= np.minimum(
                depth[ys[positive], xs[positive]] / (_CLICK_DEPTH * deepest), 1.0
            )
        parts.append(float(np.mean(agree)))
    return float(np.mean(parts)) if parts else 0.0


def _box_iou(mask: np.ndarray, offset: tuple[int, int], box: np.ndarray) -> float:
    own = tight_box(mask)
    if own is None:
        return 0.0
    mx0, my0 = own[0] + offset[0], own[1] + offset[1]
    mx1, my1 = own[2] + offset[0], own[3] + offset[1]
    ix = max(0.0, min(mx1, box[2]) - max(mx0, box[0]))
    iy = max(0.0, min(my1, box[3]) - max(my0, box[1]))
    inter = ix * iy
    union = (mx1 - mx0) * (my1 - my0) + (box[2] - box[0]) * (box[3] - box[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def mask_quality(inputs: QualityInputs, prompt: ObjectPrompt, prior: np.ndarray | None) -> float:
    """Weighted mean of the three agreements; 0 for an empty mask."""
    if not inputs.mask.any():
        return 0.0
    parts = {
        "colour": colour_separation(inputs.colour_ratio, inputs.work_mask),
        "edges": edge_agreement(inputs.mask, inputs.gradient),
        "prompt": prompt_agreement(inputs.mask, inputs.offset, prompt, prior),
    }
    weights = {k: _WEIGHTS[k] for k, v in parts.items() if v is not None}
    total = sum(weights.values())
    return float(sum(weights[k] * parts[k] for k in weights) / total)
