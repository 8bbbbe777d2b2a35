"""Filling small holes in predicted masks, as SAM 2's video predictor does with its extension.

Meta's predictor fills every background region (logit <= 0) of at most ``max_area`` pixels of
the low-resolution mask with a small positive logit (0.1), using a compiled CUDA
connected-components kernel. Installs without the kernel (every CPU install) skip the step with
a warning; this module gives everyone the filled result, computed with OpenCV's 8-connected
component labelling (the kernel's connectivity).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

HOLE_FILL_LOGIT = 0.1


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """Turn background regions of at most ``max_area`` pixels into foreground.

    Args:
        logits: ``(B, 1, H, W)`` mask logits; background is ``<= 0``.
        max_area: Largest hole (pixels, 8-connected) that is filled; ``<= 0`` disables.

    Returns:
        ``(B, 1, H, W)`` logits, holes set to ``0.1``; the input when nothing changes.
    """
    if max_area <= 0:
        return logits
    background = (logits <= 0).cpu().numpy()
    holes = np.zeros_like(background)
    for i in range(background.shape[0]):
        count, labels, stats, _ = cv2.connectedComponentsWithStats(
            background[i, 0].astype(np.uint8), connectivity=8
        )
        small = np.zeros(count, dtype=bool)
        small[1:] = stats[1:, cv2.CC_STAT_AREA] <= max_area
        holes[i, 0] = small[labels]
    if not holes.any():
        return logits
    fill = torch.from_numpy(holes).to(logits.device)
    return torch.where(fill, torch.tensor(HOLE_FILL_LOGIT, dtype=logits.dtype), logits)
