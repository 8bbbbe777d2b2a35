"""Colour appearance of objects: Lab histograms under masks, their distance, and back-projection.

An object's appearance is a normalised joint Lab histogram of the pixels under its mask,
together with one of a ring of background around it. The distance between two histograms is the
Hellinger distance (0 = identical, 1 = disjoint). Back-projecting the object-versus-background
likelihood ratio gives a per-pixel "looks like this object" map used to search for lost objects.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.results import mask_box


class ColourIndex:
    """One frame's pixels quantised into joint Lab bins, computed once and shared by all objects.

    Colours are measured at half resolution (each bin covers a 2x2 block): 4x cheaper, and
    colour statistics of objects do not need single-pixel detail.

    Attributes:
        coarse_bins: ``(ceil(H/2), ceil(W/2))`` int32 bin index in ``[0, n_bins**3)``.
        n_bins: bins per channel.
        frame_size: ``(H, W)``.
    """

    def __init__(self, image: np.ndarray, n_bins: int, lab: np.ndarray | None = None) -> None:
        if lab is None:
            lab = half_lab(image)
        quantised = (lab.astype(np.int32) * n_bins) >> 8  # each channel 0..255 -> 0..n_bins-1
        self.n_bins = n_bins
        self.frame_size = image.shape[:2]
        self.coarse_bins = (quantised[..., 0] * n_bins + quantised[..., 1]) * n_bins
        self.coarse_bins += quantised[..., 2]

    def region(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """``(y1 - y0, x1 - x0)`` int32 bins of a crop, without building the full-size map."""
        coarse = self.coarse_bins[y0 // 2 : (y1 + 1) // 2, x0 // 2 : (x1 + 1) // 2]
        full = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
        return full[y0 % 2 : y0 % 2 + y1 - y0, x0 % 2 : x0 % 2 + x1 - x0]

    def at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Bins of the pixels ``(ys, xs)`` (integer arrays of equal shape)."""
        return self.coarse_bins[ys // 2, xs // 2]

    @property
    def size(self) -> int:
        return self.n_bins**3

    def histogram(self, mask: np.ndarray) -> np.ndarray:
        """Normalised histogram ``(n_bins**3,)`` float64 of the pixels where ``mask`` is True.

        Args:
            mask: ``(H, W)`` bool at frame size (sampled on every 2nd pixel each way).

        Returns:
            The histogram; an empty mask gives all zeros.
        """
        values = self.coarse_bins[mask[::2, ::2]]
        hist = np.bincount(values, minlength=self.size).astype(np.float64)
        total = hist.sum()
        return hist / total if total > 0 else hist

    def ring_histogram(self, mask: np.ndarray, width: int) -> np.ndarray:
        """Histogram of a ``width``-pixel band around ``mask`` (its immediate background)."""
        coarse = mask[::2, ::2]
        half = max(1, width // 2)
        box = mask_box(coarse)
        if box is None:
            return np.zeros(self.size, dtype=np.float64)
        # The band lies within the mask's box grown by the band width: dilate that crop only.
        height, width_ = coarse.shape
        x0, y0 = max(0, int(box[0]) - half), max(0, int(box[1]) - half)
        x1, y1 = min(width_, int(box[2]) + half), min(height, int(box[3]) + half)
        crop = coarse[y0:y1, x0:x1]
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half + 1, 2 * half + 1))
        grown = cv2.dilate(crop.astype(np.uint8), kernel) > 0
        values = self.coarse_bins[y0:y1, x0:x1][grown & ~crop]
        hist = np.bincount(values, minlength=self.size).astype(np.float64)
        total = hist.sum()
        return hist / total if total > 0 else hist


def half_lab(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(ceil(H/2), ceil(W/2), 3)`` uint8 Lab (OpenCV's scaling)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2LAB)


def colour_odds(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``(D,)`` float32 P(object | colour bin) from object and background histograms."""
    eps = 1e-6
    return ((foreground + eps) / (foreground + background + 2 * eps)).astype(np.float32)


def hellinger(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance between two normalised histograms (1.0 when either is empty)."""
    if a.sum() <= 0 or b.sum() <= 0:
        return 1.0
    overlap = float(np.sqrt(a * b).sum())
    return float(np.sqrt(max(0.0, 1.0 - min(1.0, overlap))))


class Appearance:
    """An object's colour model, updated slowly on confidently tracked frames.

    Attributes:
        foreground: ``(n_bins**3,)`` float64 histogram of the object (slowly updated).
        background: ``(n_bins**3,)`` float64 histogram of the band around it.
        keyframe: ``(n_bins**3,)`` float64 object histogram on its latest keyframe (fixed).
    """

    def __init__(
        self, foreground: np.ndarray, background: np.ndarray, keyframe: np.ndarray | None = None
    ) -> None:
        self.foreground = foreground
        self.background = background
        self.keyframe = foreground.copy() if keyframe is None else keyframe

    @classmethod
    def measure(cls, index: ColourIndex, mask: np.ndarray) -> Appearance:
        ring = max(4, int(0.15 * np.sqrt(np.count_nonzero(mask))))
        return cls(index.histogram(mask), index.ring_histogram(mask, ring))

    @staticmethod
    def anchor_odds(index: ColourIndex, mask: np.ndarray) -> np.ndarray:
        """``(D,)`` P(object | colour) against a wide band of surroundings (half its size)."""
        ring = max(8, int(0.5 * np.sqrt(np.count_nonzero(mask))))
        return colour_odds(index.histogram(mask), index.ring_histogram(mask, ring))

    def update(self, other: Appearance, rate: float) -> None:
        self.foreground = (1.0 - rate) * self.foreground + rate * other.foreground
        self.background = (1.0 - rate) * self.background + rate * other.background
