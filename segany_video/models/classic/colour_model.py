"""The colour models grabCut fits, read back so the engine can use them after the cut.

OpenCV stores each of grabCut's two Gaussian mixtures in a ``(1, 65)`` float64 array: 5 mixing
weights, then 5 RGB means (3 each), then 5 covariance matrices (9 each, row-major). Reading them
back gives a per-pixel foreground-vs-background log-likelihood ratio, which the engine uses to
place the tight-box pins and to judge how well the two colour models separate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_COMPONENTS = 5
# Added to each covariance so a component fitted to a flat colour stays invertible.
_RIDGE = 1e-2


@dataclass(frozen=True)
class ColourMixture:
    """A Gaussian mixture over RGB.

    Attributes:
        weights: ``(C,)`` mixing weights.
        means: ``(C, 3)``.
        covariances: ``(C, 3, 3)``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @classmethod
    def from_opencv(cls, model: np.ndarray) -> ColourMixture:
        """Parse OpenCV's ``(1, 65)`` grabCut model array."""
        flat = np.asarray(model, dtype=np.float64).reshape(-1)
        assert flat.shape == (13 * _COMPONENTS,), flat.shape
        weights = flat[:_COMPONENTS]
        means = flat[_COMPONENTS : 4 * _COMPONENTS].reshape(_COMPONENTS, 3)
        covariances = flat[4 * _COMPONENTS :].reshape(_COMPONENTS, 3, 3)
        return cls(weights, means, covariances)

    def log_likelihood(self, pixels: np.ndarray) -> np.ndarray:
        """``(P,)`` log density of ``(P, 3)`` pixels (same channel order the model was fit on)."""
        x = np.asarray(pixels, dtype=np.float32)
        per_component = []
        for weight, mean, cov in zip(self.weights, self.means, self.covariances, strict=True):
            if weight <= 0:
                continue
            cov = cov + _RIDGE * np.eye(3)
            # Whitening by the Cholesky factor: |L^-1 (x - mean)|^2 is the Mahalanobis distance.
            whiten = np.linalg.inv(np.linalg.cholesky(cov)).T.astype(np.float32)
            _, logdet = np.linalg.slogdet(cov)
            white = (x - mean.astype(np.float32)) @ whiten  # (P, 3)
            mahalanobis = np.square(white).sum(axis=1)
            per_component.append(
                np.log(weight) - 0.5 * (mahalanobis + logdet + 3 * np.log(2 * np.pi))
            )
        if not per_component:
            return np.full(len(x), -np.inf)
        stacked = np.stack(per_component)  # (C', P)
        top = stacked.max(axis=0)
        return top + np.log(np.exp(stacked - top).sum(axis=0))


def log_likelihood_ratio(
    image: np.ndarray, foreground: ColourMixture, background: ColourMixture
) -> np.ndarray:
    """``(h, w)`` float32 log p(colour | fg) - log p(colour | bg) of an ``(h, w, 3)`` image."""
    pixels = image.reshape(-1, 3)
    ratio = foreground.log_likelihood(pixels) - background.log_likelihood(pixels)
    return np.clip(ratio, -50, 50).astype(np.float32).reshape(image.shape[:2])
