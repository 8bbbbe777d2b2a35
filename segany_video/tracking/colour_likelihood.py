"""P(object | colour) learned on a keyframe by boosted trees, read back as a table.

The keyframe's histogram odds (:meth:`Appearance.anchor_odds`) judge each Lab bin, 16 levels a
channel, on the few pixels that fell in it. Boosted trees fitted to the same pixels (the object
against the band around it) split Lab space where object and background part, so a colour
takes the odds of its neighbourhood in colour space rather than those of its bin alone. The
trees are evaluated once, at the centres of a finer Lab grid; a frame then costs one lookup a
pixel. The colour prior uses both answers, averaged in log-odds.
"""

from __future__ import annotations

import cv2
import numpy as np

from segany_video.tracking.appearance import ColourIndex, anchor_ring, full_crop, half_crop
from segany_video.tracking.boxes import Box

# Levels per Lab channel of the table (a power of two): 32 loses detail the trees find.
LEVELS = 64
_SHIFT = 8 - int(np.log2(LEVELS))
# At most this many pixels of each side train the trees: plenty for 60 trees of 15 leaves;
# with fewer than the least on either side there is nothing to learn.
_SAMPLES = 3000
_LEAST = 50
_TREES = 60
_LEAVES = 15
# Neither answer is trusted beyond these odds, as with the histogram's.
_CAP = 0.02


def table_index(lab: np.ndarray) -> np.ndarray:
    """``(h, w)`` int32 table cell of each pixel of an ``(h, w, 3)`` uint8 Lab image."""
    cells = lab >> _SHIFT
    return (cells[..., 0].astype(np.int32) * LEVELS + cells[..., 1]) * LEVELS + cells[..., 2]


def mean_log_odds(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The probability whose log-odds are the mean of those of ``p`` and ``q`` (in (0, 1))."""
    return 1.0 / (1.0 + np.sqrt((1.0 - p) / p * (1.0 - q) / q))


class ColourLikelihood:
    """One object's P(object | colour), learned on its keyframe.

    Attributes:
        table: ``(LEVELS**3,)`` float32 the trees' P(object) at each cell's centre colour.
        seen: ``(D,)`` bool bins of the histogram's binning that the keyframe showed on the
            object or in the band around it.
    """

    def __init__(self, table: np.ndarray, seen: np.ndarray) -> None:
        self.table = table
        self.seen = seen

    def snapshot(self) -> dict:
        """Plain arrays that :meth:`restore` rebuilds exactly: the table's cells other than
        0.5 (only those the trees were read on, a few per cent of it) and the seen bins."""
        cells = np.flatnonzero(self.table != 0.5).astype(np.int32)
        return {"cells": cells, "values": self.table[cells], "seen": self.seen.copy()}

    @classmethod
    def restore(cls, data: dict) -> ColourLikelihood:
        table = np.full(LEVELS**3, 0.5, dtype=np.float32)
        table[data["cells"]] = data["values"]
        return cls(table, data["seen"].copy())

    @classmethod
    def fit(
        cls, lab: np.ndarray, colours: ColourIndex, mask: np.ndarray, box: Box
    ) -> ColourLikelihood | None:
        """Learn the colours of ``mask`` against a band around it as wide as the histogram
        odds' (:func:`anchor_ring`; round, where the histogram's band is square).

        Args:
            lab: ``(ceil(H/2), ceil(W/2), 3)`` uint8 half-resolution Lab of the keyframe (the
                pixels :class:`ColourIndex` bins).
            colours: the keyframe's bins in the histogram's binning.
            mask: ``(H, W)`` bool keyframe mask.
            box: a box holding every True pixel of ``mask``.

        Returns:
            None when the object or its band holds too few pixels to learn from.
        """
        # Imported here: scikit-learn takes a while to import, and only keyframes need it.
        from sklearn.ensemble import HistGradientBoostingClassifier

        half = mask[::2, ::2]
        radius = max(1, anchor_ring(mask, box) // 2)
        x0, y0 = max(0, box[0] // 2 - radius), max(0, box[1] // 2 - radius)
        x1 = min(half.shape[1], (box[2] + 1) // 2 + radius)
        y1 = min(half.shape[0], (box[3] + 1) // 2 + radius)
        inside = half[y0:y1, x0:x1]
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        band = (cv2.dilate(inside.astype(np.uint8), kernel) > 0) & ~inside
        crop = lab[y0:y1, x0:x1]
        sides = [crop[inside], crop[band]]
        if min(len(values) for values in sides) < _LEAST:
            return None
        # Seeded by the object's size: the same keyframe always trains the same trees.
        rng = np.random.default_rng(len(sides[0]))
        samples = [
            values[rng.choice(len(values), min(_SAMPLES, len(values)), replace=False)]
            for values in sides
        ]
        x = np.concatenate(samples).astype(np.float32)
        y = np.repeat([1, 0], [len(samples[0]), len(samples[1])])
        # Each side weighs the same in all, as the histograms are each normalised.
        weight = np.where(y == 1, 0.5 / len(samples[0]), 0.5 / len(samples[1])) * len(y)
        trees = HistGradientBoostingClassifier(
            max_iter=_TREES, max_leaf_nodes=_LEAVES, early_stopping=False, random_state=0
        )
        trees.fit(x, y, sample_weight=weight)
        seen = np.zeros(colours.size, dtype=bool)
        seen[colours.coarse_bins[y0:y1, x0:x1][inside | band]] = True
        # Only cells that can hold a seen colour are ever read (see region): the trees are
        # evaluated there alone (a few per cent of the table on DAVIS keyframes).
        needed = np.flatnonzero(_cells_of_bins(seen, colours.n_bins))
        centres = (np.stack(np.unravel_index(needed, (LEVELS,) * 3), axis=1) + 0.5) * (
            256 // LEVELS
        )
        table = np.full(LEVELS**3, 0.5, dtype=np.float32)
        table[needed] = trees.predict_proba(centres.astype(np.float32))[:, 1]
        return cls(table, seen)

    def region(
        self,
        cells: np.ndarray,
        colours: ColourIndex,
        odds: np.ndarray,
        x0: int,
        y0: int,
        x1: int,
        y1: int,
    ) -> np.ndarray:
        """``(y1 - y0, x1 - x0)`` float32 P(object | colour) over a source-frame crop.

        The table's answer and the histogram's ``odds`` are averaged in log-odds. A colour the
        keyframe never showed keeps the histogram's answer alone (0.5, or background once seen
        around the object found again): trees answer confidently where they saw nothing.

        Args:
            cells: this frame's :func:`table_index` of the half-resolution Lab ``colours`` binned.
            colours: this frame's bins in the histogram's binning.
            odds: ``(D,)`` the object's histogram odds.
            x0, y0, x1, y1: the crop, in source pixels.
        """
        crop = half_crop(x0, y0, x1, y1)
        bins = colours.coarse_bins[crop]
        counted = np.clip(odds, _CAP, 1.0 - _CAP)[bins]
        learned = np.clip(self.table[cells[crop]], _CAP, 1.0 - _CAP)
        coarse = np.where(self.seen[bins], mean_log_odds(learned, counted), counted)
        return full_crop(coarse.astype(np.float32), x0, y0, x1, y1)


def _cells_of_bins(bins: np.ndarray, n_bins: int) -> np.ndarray:
    """``(LEVELS**3,)`` bool: the table cells some colour of a True histogram bin falls in.

    ``bins`` is ``(n_bins**3,)`` bool in :class:`ColourIndex`'s order (lightness first).
    """
    values = np.arange(256)
    # cover[c, b]: a channel value of table level c falls in histogram level b.
    cover = np.zeros((LEVELS, n_bins), dtype=np.int64)
    cover[values >> _SHIFT, (values * n_bins) >> 8] = 1
    held = bins.reshape(n_bins, n_bins, n_bins).astype(np.int64)
    held = np.einsum("xi,ijk->xjk", cover, held) > 0
    held = np.einsum("yj,xjk->xyk", cover, held.astype(np.int64)) > 0
    held = np.einsum("zk,xyk->xyz", cover, held.astype(np.int64)) > 0
    return held.reshape(-1)
