"""Tiny generated scenes with exact per-object visible masks, for the tracker's logic tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from segany_video.io.frames import VideoInfo


@dataclass
class Mover:
    """A textured rectangle; ``path(t)`` gives its top-left ``(x, y)``; lower depth is in front."""

    object_id: int | str
    size: tuple[int, int]  # (w, h)
    colour: tuple[int, int, int]
    path: Callable[[int], tuple[float, float]]
    depth: int = 0


@dataclass
class Scene:
    frames: list[np.ndarray] = field(default_factory=list)
    truth: list[dict] = field(default_factory=list)  # per frame: id -> visible (H, W) bool

    @property
    def info(self) -> VideoInfo:
        h, w = self.frames[0].shape[:2]
        return VideoInfo("scene", w, h, Fraction(25), len(self.frames), None, 0, "png", "images")

    def triples(self, indices=None):
        indices = range(len(self.frames)) if indices is None else indices
        return ((i, i / 25.0, self.frames[i]) for i in indices)


def render(movers: list[Mover], n: int, size=(96, 128), pan: float = 1.0, seed: int = 0) -> Scene:
    """Draw ``n`` frames; the background pans ``pan`` pixels per frame; far objects first."""
    rng = np.random.default_rng(seed)
    h, w = size
    ground = rng.integers(90, 140, (h, w + int(abs(pan) * n) + 2, 3)).astype(np.uint8)
    textures = {
        m.object_id: (np.array(m.colour) + rng.integers(-25, 25, (m.size[1], m.size[0], 3)))
        .clip(0, 255)
        .astype(np.uint8)
        for m in movers
    }
    scene = Scene()
    for t in range(n):
        offset = int(round(pan * t))
        image = ground[:, offset : offset + w].copy()
        owner = np.full((h, w), -1)
        for slot, m in sorted(enumerate(movers), key=lambda item: -item[1].depth):
            x, y = (int(round(v)) for v in m.path(t))
            mw, mh = m.size
            xa, ya, xb, yb = max(0, x), max(0, y), min(w, x + mw), min(h, y + mh)
            if xa >= xb or ya >= yb:
                continue
            image[ya:yb, xa:xb] = textures[m.object_id][ya - y : yb - y, xa - x : xb - x]
            owner[ya:yb, xa:xb] = slot
        scene.frames.append(image)
        scene.truth.append({m.object_id: owner == slot for slot, m in enumerate(movers)})
    return scene


def tight_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0
