"""The background around a tight box, modelled side by side.

Everything outside a tight box is background, and the background inside the box is mostly the
continuation of what lies just outside it: a fence crossing the box continues left and right
of it, the ground between a runner's legs continues below it. One colour model of the whole
surrounding ring blurs those apart (and grabCut's five components do not cover a busy scene),
so the ring is split into its four sides, each gets its own mixture, and a pixel's background
likelihood blends them by its distance to each side of the box: a spatially varying
background model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from segany_video.models.classic.colour_model import ColourMixture

# Components per side: a side strip is a narrow, mostly uniform band.
_SIDE_COMPONENTS = 5
# How fast a side's influence fades with distance into the box, as a fraction of the box side.
_SIDE_FALLOFF = 0.3
# A side with fewer pixels than this is left out (the box touches the region's edge there).
_MIN_SIDE_PIXELS = 30


@dataclass(frozen=True)
class RingBackground:
    """Background colour likelihood around a box, per pixel of the work region.

    Attributes:
        log_likelihood: ``(h, w)`` float32 blended log density of each pixel's colour under
            the side models.
    """

    log_likelihood: np.ndarray

    @classmethod
    def fit(cls, image: np.ndarray, box: np.ndarray, ring: np.ndarray) -> RingBackground | None:
        """Model the ring's four sides and evaluate the blend on the whole region.

        Args:
            image: ``(h, w, 3)`` uint8 work crop.
            box: ``XYXY`` integer work pixels (exclusive ends).
            ring: ``(h, w)`` bool known background around the box (outside it).

        Returns:
            The model, or None when no side has enough pixels (the box fills the region).
        """
        h, w = ring.shape
        x0, y0, x1, y1 = (int(v) for v in box)
        ys, xs = np.mgrid[0:h, 0:w]
        width, height = max(x1 - x0, 1), max(y1 - y0, 1)
        # Each side: its pixels, and every pixel's distance to that side's line (box units).
        sides = (
            (ring & (ys < y0), np.clip(ys - y0, 0, None) / height),
            (ring & (ys >= y1), np.clip(y1 - ys, 0, None) / height),
            (ring & (xs < x0), np.clip(xs - x0, 0, None) / width),
            (ring & (xs >= x1), np.clip(x1 - xs, 0, None) / width),
        )
        pixels = image.reshape(-1, 3)
        log_likelihoods, log_weights = [], []
        for members, distance in sides:
            if int(members.sum()) < _MIN_SIDE_PIXELS:
                continue
            mixture = ColourMixture.fit(pixels[members.ravel()], _SIDE_COMPONENTS)
            log_likelihoods.append(mixture.log_likelihood(pixels))
            log_weights.append(-distance.ravel() / _SIDE_FALLOFF)  # weight exp(-d / falloff)
        if not log_likelihoods:
            return None
        weights = np.stack(log_weights)  # (sides, P)
        blended = logsumexp(np.stack(log_likelihoods) + weights, axis=0)
        log_density = blended - logsumexp(weights, axis=0)
        return cls(log_density.astype(np.float32).reshape(h, w))
