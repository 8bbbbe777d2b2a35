"""Colour appearance of objects: Lab histograms under masks, their distance, and back-projection.

An object's appearance is a normalised joint Lab histogram of the pixels under its mask,
together with one of a ring of background around it. The distance between two histograms is the
Hellinger distance (0 = identical, 1 = disjoint). Back-projecting the object-versus-background
likelihood ratio gives a per-pixel "looks like this object" map used to search for lost objects.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.boxes import Box, on_grid, tight_box


class ColourIndex:
    """One frame's pixels quantised into joint Lab bins, computed once and shared by all objects.

    Colours are measured at half resolution (each bin covers a 2x2 block): 4x cheaper, and
    colour statistics of objects do not need single-pixel detail.

    Attributes:
        coarse_bins: ``(ceil(H/2), ceil(W/2))`` uint16 bin index in ``[0, n_bins**3)`` (at most
            32 bins per channel).
        n_bins: bins per channel.
        frame_size: ``(H, W)``.
    """

    def __init__(self, image: np.ndarray, n_bins: int, lab: np.ndarray | None = None) -> None:
        if lab is None:
            lab = half_lab(image)
        assert 1 <= n_bins <= 32, f"bin indices are uint16: at most 32 bins, not {n_bins}"
        self.n_bins = n_bins
        self.frame_size = image.shape[:2]
        # Bin (l * n + a) * n + b of channel levels (v * n) >> 8: one table lookup per channel,
        # each giving its level already weighted, and two additions (no int32 planes).
        levels = (np.arange(256) * n_bins) >> 8
        lightness, green_red, blue_yellow = cv2.split(lab)
        self.coarse_bins = cv2.add(
            cv2.add(
                cv2.LUT(lightness, (levels * n_bins * n_bins).astype(np.uint16)),
                cv2.LUT(green_red, (levels * n_bins).astype(np.uint16)),
            ),
            cv2.LUT(blue_yellow, levels.astype(np.uint16)),
        )

    def region(
        self, x0: int, y0: int, x1: int, y1: int, table: np.ndarray | None = None
    ) -> np.ndarray:
        """``(y1 - y0, x1 - x0)`` uint16 bins of a crop, without building the full-size map.

        With a ``(n_bins**3,)`` ``table``, its value at each pixel's bin instead (looked up at
        half resolution: a quarter of the lookups).
        """
        coarse = self.coarse_bins[half_crop(x0, y0, x1, y1)]
        if table is not None:
            coarse = table[coarse]
        return full_crop(coarse, x0, y0, x1, y1)

    def at(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Bins of the pixels ``(ys, xs)`` (integer arrays of equal shape)."""
        return self.coarse_bins[ys // 2, xs // 2]

    @property
    def size(self) -> int:
        return self.n_bins**3

    def histogram(self, mask: np.ndarray, box: Box | None = None) -> np.ndarray:
        """Normalised histogram ``(n_bins**3,)`` float64 of the pixels where ``mask`` is True.

        Args:
            mask: ``(H, W)`` bool at frame size (sampled on every 2nd pixel each way).
            box: a box holding every True pixel of ``mask``: only its crop is read (None: the
                whole frame; the histogram is the same).

        Returns:
            The histogram; an empty mask gives all zeros.
        """
        if box is None:
            values = self.coarse_bins[mask[::2, ::2]]
        else:
            ys, xs = on_grid(box, 2)
            sampled = mask[ys, xs]
            top, left = ys.start // 2, xs.start // 2
            bins = self.coarse_bins[top : top + sampled.shape[0], left : left + sampled.shape[1]]
            values = bins[sampled]
        return self._normalised(values)

    def ring_histogram(self, mask: np.ndarray, width: int, box: Box | None = None) -> np.ndarray:
        """Histogram of a ``width``-pixel band around ``mask`` (its immediate background).

        ``box``, when given, holds every True pixel of ``mask`` (as in :meth:`histogram`).
        """
        coarse = mask[::2, ::2]
        half = max(1, width // 2)
        # Pixel (x, y) of the full mask is sampled when x and y are even: at (x/2, y/2) here.
        within = None if box is None else tuple((v + 1) // 2 for v in box)
        coarse_box = tight_box(coarse, within)
        if coarse_box is None:
            return np.zeros(self.size, dtype=np.float64)
        # The band lies within the mask's box grown by the band width: dilate that crop only.
        height, width_ = coarse.shape
        x0, y0 = max(0, coarse_box[0] - half), max(0, coarse_box[1] - half)
        x1, y1 = min(width_, coarse_box[2] + half), min(height, coarse_box[3] + half)
        crop = coarse[y0:y1, x0:x1]
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * half + 1, 2 * half + 1))
        grown = cv2.dilate(crop.astype(np.uint8), kernel) > 0
        return self._normalised(self.coarse_bins[y0:y1, x0:x1][grown & ~crop])

    def _normalised(self, values: np.ndarray) -> np.ndarray:
        hist = np.bincount(values, minlength=self.size).astype(np.float64)
        total = hist.sum()
        return hist / total if total > 0 else hist


def half_crop(x0: int, y0: int, x1: int, y1: int) -> tuple[slice, slice]:
    """The half-resolution pixels covering the source crop ``(x0, y0, x1, y1)``."""
    return slice(y0 // 2, (y1 + 1) // 2), slice(x0 // 2, (x1 + 1) // 2)


def full_crop(coarse: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """Values over :func:`half_crop`'s pixels brought back to the source crop (each covers
    2x2 source pixels)."""
    full = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)
    return full[y0 % 2 : y0 % 2 + y1 - y0, x0 % 2 : x0 % 2 + x1 - x0]


def half_lab(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(ceil(H/2), ceil(W/2), 3)`` uint8 Lab (OpenCV's scaling)."""
    height, width = image.shape[:2]
    small = cv2.resize(image, ((width + 1) // 2, (height + 1) // 2), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_RGB2LAB)


def colour_odds(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``(D,)`` float32 P(object | colour bin) from object and background histograms.

    A bin empty in both (a colour seen on neither side) gets exactly 0.5: no evidence.
    """
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
    def measure(cls, index: ColourIndex, mask: np.ndarray, box: Box | None = None) -> Appearance:
        """The colours of ``mask`` and of a band around it; ``box`` as in
        :meth:`ColourIndex.histogram`."""
        ring = max(4, int(0.15 * np.sqrt(_area(mask, box))))
        return cls(index.histogram(mask, box), index.ring_histogram(mask, ring, box))

    @staticmethod
    def anchor_odds(index: ColourIndex, mask: np.ndarray, box: Box | None = None) -> np.ndarray:
        """``(D,)`` P(object | colour) against a wide band of surroundings (half its size)."""
        ring = anchor_ring(mask, box)
        return colour_odds(index.histogram(mask, box), index.ring_histogram(mask, ring, box))

    @staticmethod
    def anchor_odds_found_again(
        odds: np.ndarray, index: ColourIndex, mask: np.ndarray, box: Box | None = None
    ) -> np.ndarray:
        """``odds`` from :meth:`anchor_odds` for an object found again at ``mask``.

        The colours they leave undecided (exactly 0.5: seen neither on the object nor around it
        on its keyframe) that the same wide band around ``mask`` shows count as background;
        every colour they decide keeps its odds, so a partly found object cannot teach them
        that its own colours are background.

        Args:
            odds: ``(D,)`` float32 anchor odds.
            index: this frame's colour bins (the binning of ``odds``).
            mask: ``(H, W)`` bool where the object was found.
            box: a box holding every True pixel of ``mask`` (None: the whole frame).

        Returns:
            ``(D,)`` float32, a new array.
        """
        around = index.ring_histogram(mask, anchor_ring(mask, box), box)
        undecided = (odds == 0.5) & (around > 0)
        settled = odds.copy()
        settled[undecided] = colour_odds(np.zeros_like(around), around)[undecided]
        return settled

    def update(self, other: Appearance, rate: float) -> None:
        self.foreground = (1.0 - rate) * self.foreground + rate * other.foreground
        self.background = (1.0 - rate) * self.background + rate * other.background


def anchor_ring(mask: np.ndarray, box: Box | None) -> int:
    """Width in pixels of the band of surroundings the anchor odds are measured against."""
    return max(8, int(0.5 * np.sqrt(_area(mask, box))))


def _area(mask: np.ndarray, box: Box | None) -> int:
    crop = mask if box is None else mask[box[1] : box[3], box[0] : box[2]]
    return int(np.count_nonzero(crop))
