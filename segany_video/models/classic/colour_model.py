"""Gaussian colour mixtures: fitted by the engine itself, or read back from grabCut.

OpenCV stores each of grabCut's two Gaussian mixtures in a ``(1, 65)`` float64 array: 5 mixing
weights, then 5 RGB means (3 each), then 5 covariance matrices (9 each, row-major). Reading them
back gives a per-pixel foreground-vs-background log-likelihood ratio, which the engine uses to
place the tight-box pins and to judge how well the two colour models separate.

The tight-box cut fits its own mixtures (:meth:`ColourMixture.fit`) the way grabCut initialises
its models: k-means clusters, then one round of giving each pixel to its most likely component.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_COMPONENTS = 5
# Added to each covariance so a component fitted to a flat colour stays invertible.
_RIDGE = 1e-2
# A component needs this many pixels for its 3x3 covariance to mean anything.
_MIN_PER_COMPONENT = 10
# Fits use at most this many pixels.
_MAX_FIT_PIXELS = 4000
_KMEANS_CRITERIA = (cv2.TERM_CRITERIA_MAX_ITER + cv2.TERM_CRITERIA_EPS, 10, 0.5)


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

    @classmethod
    def fit(cls, pixels: np.ndarray, components: int) -> ColourMixture:
        """Fit a mixture of up to ``components`` Gaussians to ``(P, 3)`` pixels.

        Fewer components are used when there are few pixels (at least :data:`_MIN_PER_COMPONENT`
        each); no pixels at all give one broad grey component, which likes no colour much.
        k-means seeds from OpenCV's RNG: callers seed it (``cv2.setRNGSeed``) for repeatable fits.
        """
        x = np.asarray(pixels, dtype=np.float32).reshape(-1, 3)
        if len(x) > _MAX_FIT_PIXELS:
            # A few thousand pixels pin down a 5-10 component colour mixture as well as all of
            # them, at a fraction of the k-means time. The subset is random (seeded, so fits
            # repeat): a regular stride could alias with a periodic texture and lose a colour.
            chosen = np.random.default_rng(len(x)).choice(len(x), _MAX_FIT_PIXELS, replace=False)
            x = x[np.sort(chosen)]
        k = int(min(components, len(x) // _MIN_PER_COMPONENT))
        if k < 1:
            centre = x.mean(axis=0) if len(x) else np.full(3, 127.5, dtype=np.float32)
            return cls(np.ones(1), centre[None].astype(np.float64), np.eye(3)[None] * 64.0**2)
        if k == 1:
            labels = np.zeros(len(x), dtype=np.int64)
        else:
            _, labels, _ = cv2.kmeans(x, k, None, _KMEANS_CRITERIA, 1, cv2.KMEANS_PP_CENTERS)
            labels = labels.reshape(-1)
        mixture = cls._from_labels(x, labels, k)
        # One hard-EM round, as grabCut does before its first cut: k-means clusters are round,
        # colour clusters rarely are.
        return cls._from_labels(x, mixture.components_log_likelihood(x).argmax(axis=0), k)

    @classmethod
    def _from_labels(cls, x: np.ndarray, labels: np.ndarray, k: int) -> ColourMixture:
        weights, means, covariances = [], [], []
        for component in range(k):
            members = x[labels == component].astype(np.float64)
            if len(members) < 2:
                continue
            weights.append(len(members))
            means.append(members.mean(axis=0))
            covariances.append(np.cov(members.T, bias=True))
        total = float(sum(weights))
        return cls(np.array(weights) / total, np.array(means), np.array(covariances))

    def components_log_likelihood(self, pixels: np.ndarray) -> np.ndarray:
        """``(C, P)`` log of each weighted component's density at ``(P, 3)`` pixels.

        Components with zero weight are kept (at ``-inf``) so rows align with :attr:`weights`.
        """
        # Channels first: (3, P) rows are contiguous, so the per-pixel sums below run over long
        # rows instead of reducing many 3-element rows (several times faster).
        x = np.ascontiguousarray(np.asarray(pixels, dtype=np.float32).reshape(-1, 3).T)
        out = np.full((len(self.weights), x.shape[1]), -np.inf, dtype=np.float32)
        for index, (weight, mean, cov) in enumerate(
            zip(self.weights, self.means, self.covariances, strict=True)
        ):
            if weight <= 0:
                continue
            cov = cov + _RIDGE * np.eye(3)
            # Whitening by the Cholesky factor: |L^-1 (x - mean)|^2 is the Mahalanobis distance.
            whiten = np.linalg.inv(np.linalg.cholesky(cov)).astype(np.float32)  # L^-1
            _, logdet = np.linalg.slogdet(cov)
            white = whiten @ x - (whiten @ mean.astype(np.float32))[:, None]  # (3, P)
            mahalanobis = np.einsum("ij,ij->j", white, white)
            out[index] = np.log(weight) - 0.5 * (mahalanobis + logdet + 3 * np.log(2 * np.pi))
        return out

    def log_likelihood(self, pixels: np.ndarray) -> np.ndarray:
        """``(P,)`` log density of ``(P, 3)`` pixels (same channel order the model was fit on)."""
        per_component = self.components_log_likelihood(pixels)
        top = per_component.max(axis=0)
        if not np.isfinite(top).all():
            return np.full(per_component.shape[1], -np.inf)
        return top + np.log(np.exp(per_component - top).sum(axis=0))


def log_likelihood_ratio(
    image: np.ndarray, foreground: ColourMixture, background: ColourMixture
) -> np.ndarray:
    """``(h, w)`` float32 log p(colour | fg) - log p(colour | bg) of an ``(h, w, 3)`` image."""
    pixels = image.reshape(-1, 3)
    ratio = foreground.log_likelihood(pixels) - background.log_likelihood(pixels)
    return np.clip(ratio, -50, 50).astype(np.float32).reshape(image.shape[:2])
