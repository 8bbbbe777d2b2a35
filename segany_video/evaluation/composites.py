"""Two-object composites from one-object DAVIS sequences, with exact truth for both objects.

The *foreground* sequence's object is cut out of each of its frames with its ground-truth mask,
scaled by a fixed factor, and pasted with its box centre on a smooth path over the *background*
sequence's frames. The background object's truth is its own mask minus what the pasted object
hides. Frame ``t`` of the composite uses frame ``t`` of both sequences; the composite is as long
as the shorter one.

The path: from ``start`` to ``end`` with an ease-in/ease-out (cosine) profile, plus a sideways
sine wobble of one period, so speed and direction change smoothly. Everything (pairs, scale,
path) is drawn from a seed, so a composite is the same on every run.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from segany_video.evaluation.davis_data import DavisSequence
from segany_video.results import mask_box

DEFAULT_SEED = 16
TARGET_AREA = (0.03, 0.08)  # the pasted object's median area, as a share of the frame
SCALE_LIMITS = (0.3, 1.2)
_START_CANDIDATES = 24


def composite_pairs(names: Sequence[str], seed: int = DEFAULT_SEED) -> list[tuple[str, str]]:
    """``(foreground, background)`` pairs: each sequence pasted once and used as a scene once.

    The names are shuffled with ``seed`` and each is pasted over the next one (cyclically), so
    no sequence is pasted over itself.

    Raises:
        ValueError: fewer than two names.
    """
    if len(names) < 2:
        raise ValueError(f"composites need at least two sequences, got {list(names)}")
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return [(order[i], order[(i + 1) % len(order)]) for i in range(len(order))]


@dataclass(frozen=True)
class DriftPath:
    """A smooth path of box centres ``(x, y)`` in pixels, sampled at ``t`` in ``[0, 1]``."""

    start: tuple[float, float]
    end: tuple[float, float]
    wobble: float  # sideways amplitude in pixels (perpendicular to start -> end)

    def at(self, t: float) -> tuple[float, float]:
        ease = (1 - math.cos(math.pi * t)) / 2
        (x0, y0), (x1, y1) = self.start, self.end
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy) or 1.0
        side = self.wobble * math.sin(2 * math.pi * t)
        return x0 + ease * dx - side * dy / length, y0 + ease * dy + side * dx / length


@dataclass(frozen=True)
class CompositeFrame:
    """One composite frame.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        background_truth: ``(H, W)`` bool, the scene's object where it is still visible.
        foreground_truth: ``(H, W)`` bool, the pasted object.
    """

    image: np.ndarray
    background_truth: np.ndarray
    foreground_truth: np.ndarray


def paste(
    scene: np.ndarray,
    cutout: np.ndarray,
    cutout_mask: np.ndarray,
    scale: float,
    centre: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Paste the masked part of ``cutout``, scaled, with its mask's box centred at ``centre``.

    Args:
        scene: ``(H, W, 3)`` uint8 image to paste onto (not modified).
        cutout: ``(h, w, 3)`` uint8 image holding the object.
        cutout_mask: ``(h, w)`` bool, the object in ``cutout`` (nothing is pasted when empty).
        scale: size factor.
        centre: ``(x, y)`` where the scaled object's box centre lands (pixels).

    Returns:
        The composite image and the ``(H, W)`` bool mask of the pasted object (clipped at the
        frame's edges).
    """
    frame_h, frame_w = scene.shape[:2]
    image = scene.copy()
    pasted = np.zeros((frame_h, frame_w), dtype=bool)
    box = mask_box(cutout_mask)
    if box is None:  # the object is out of its own frame: nothing to paste
        return image, pasted
    x0, y0, x1, y1 = (int(v) for v in box)
    crop, crop_mask = cutout[y0:y1, x0:x1], cutout_mask[y0:y1, x0:x1]
    width = max(1, round((x1 - x0) * scale))
    height = max(1, round((y1 - y0) * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (width, height), interpolation=interpolation)
    soft = cv2.resize(crop_mask.astype(np.float32), (width, height), interpolation=interpolation)
    crop_mask = soft >= 0.5
    left = round(centre[0] - width / 2)
    top = round(centre[1] - height / 2)
    # The part of the scaled crop that falls inside the frame.
    sx0, sy0 = max(0, -left), max(0, -top)
    sx1, sy1 = min(width, frame_w - left), min(height, frame_h - top)
    if sx1 <= sx0 or sy1 <= sy0:
        return image, pasted
    inside = crop_mask[sy0:sy1, sx0:sx1]
    region = (slice(top + sy0, top + sy1), slice(left + sx0, left + sx1))
    image[region][inside] = crop[sy0:sy1, sx0:sx1][inside]
    pasted[region] = inside
    return image, pasted


class Composite:
    """A foreground sequence's object drifting in front of a background sequence.

    Args:
        foreground: the sequence whose object is pasted.
        background: the scene (its own object stays the background object).
        seed: draws the scale and the path.
    """

    def __init__(
        self, foreground: DavisSequence, background: DavisSequence, seed: int = DEFAULT_SEED
    ) -> None:
        self.foreground, self.background = foreground, background
        self.name = f"{foreground.name}-over-{background.name}"
        self.length = min(len(foreground), len(background))
        first = background.frame(0)
        height, width = first.shape[:2]
        rng = random.Random(f"{seed}:{self.name}")
        areas = [np.count_nonzero(foreground.mask(i)) for i in range(0, self.length, 5)]
        target = rng.uniform(*TARGET_AREA) * height * width
        scale = math.sqrt(target / max(float(np.median(areas)), 1.0))
        self.scale = float(np.clip(scale, *SCALE_LIMITS))
        self.path = self._draw_path(rng, width, height, background.mask(0))

    def _draw_path(
        self, rng: random.Random, width: int, height: int, scene_object: np.ndarray
    ) -> DriftPath:
        """A path inside the middle of the frame whose start hides the least of the scene's
        object (both objects must be visible on frame 0 to be prompted)."""
        margin_x, margin_y = 0.2 * width, 0.2 * height

        def point() -> tuple[float, float]:
            return rng.uniform(margin_x, width - margin_x), rng.uniform(margin_y, height - margin_y)

        end = point()
        wobble = rng.uniform(0.03, 0.08) * min(width, height)
        image0, mask0 = self.foreground.frame(0), self.foreground.mask(0)
        blank = np.zeros((height, width, 3), dtype=np.uint8)
        best: tuple[int, tuple[float, float]] | None = None
        for _ in range(_START_CANDIDATES):
            start = point()
            _, pasted = paste(blank, image0, mask0, self.scale, start)
            hidden = int(np.count_nonzero(pasted & scene_object))
            if best is None or hidden < best[0]:
                best = (hidden, start)
        assert best is not None
        return DriftPath(best[1], end, wobble)

    def __len__(self) -> int:
        return self.length

    def frame(self, index: int) -> CompositeFrame:
        """Composite frame ``index`` with both objects' truth."""
        scene = self.background.frame(index)
        t = index / max(self.length - 1, 1)
        image, pasted = paste(
            scene,
            self.foreground.frame(index),
            self.foreground.mask(index),
            self.scale,
            self.path.at(t),
        )
        return CompositeFrame(image, self.background.mask(index) & ~pasted, pasted)


def holds_other(mask: np.ndarray, own: np.ndarray, other: np.ndarray) -> bool:
    """Whether an id's mask holds the other object: more than half of it lies on the other
    object's visible truth, and more of it lies there than on its own object.

    Args:
        mask: ``(H, W)`` bool, the id's predicted mask.
        own: ``(H, W)`` bool, the id's object (visible part).
        other: ``(H, W)`` bool, the other object (visible part).
    """
    on_other = np.count_nonzero(mask & other)
    return on_other > 0.5 * np.count_nonzero(mask) and on_other > np.count_nonzero(mask & own)
