"""Procedural textures for the synthetic clips: ground seen from above and patterned objects.

Everything is numpy + OpenCV and driven by a ``numpy.random.Generator``, so one seed gives the
same pictures on every machine. Images are float32 RGB in ``[0, 1]`` until the renderer
quantises the final frame. Object hues are chosen away from the ground's hue (and from each
other) so that a colour-based segmenter has a fair chance, as it would on real footage where the
tracked things usually stand out from what they move over.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

# Ground palettes: (name, dark colour, light colour, feature colour), RGB in [0, 1].
GROUNDS = (
    ("meadow", (0.24, 0.36, 0.14), (0.50, 0.56, 0.28), (0.45, 0.37, 0.24)),
    ("sand", (0.55, 0.47, 0.34), (0.80, 0.72, 0.56), (0.42, 0.38, 0.32)),
    ("asphalt", (0.22, 0.23, 0.25), (0.42, 0.42, 0.43), (0.62, 0.60, 0.55)),
    ("soil", (0.30, 0.22, 0.15), (0.55, 0.43, 0.30), (0.35, 0.40, 0.22)),
)

PATTERNS = ("striped", "spotted", "furry", "checkered")


def fractal_noise(
    rng: np.random.Generator, height: int, width: int, cells: int = 4, octaves: int = 5
) -> np.ndarray:
    """Smooth multi-scale noise (value noise summed over octaves).

    Args:
        rng: the random source.
        height, width: output size in pixels.
        cells: random values across the larger side at the coarsest octave.
        octaves: number of scales, each twice as fine and half as strong as the previous.

    Returns:
        ``(height, width)`` float32 in ``[0, 1]``.
    """
    total = np.zeros((height, width), np.float32)
    weight = 1.0
    scale = max(height, width)
    for octave in range(octaves):
        n = cells * 2**octave
        grid = rng.random((max(2, n * height // scale + 2), max(2, n * width // scale + 2)))
        total += weight * cv2.resize(
            grid.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC
        )
        weight *= 0.5
    total -= total.min()
    return total / max(float(total.max()), 1e-6)


def _mix(a: tuple[float, ...], b: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    a_arr = np.asarray(a, np.float32)
    b_arr = np.asarray(b, np.float32)
    return a_arr + (b_arr - a_arr) * t[..., None]


def ground_texture(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, float]:
    """A ground texture: patches of two shades, fine grain, scattered stones/bushes, a path.

    Args:
        rng: the random source.
        height, width: size in pixels (make it larger than the frame for a camera pan).

    Returns:
        ``(height, width, 3)`` float32 RGB in ``[0, 1]`` and the ground's mean hue in ``[0, 1)``.
    """
    _, dark, light, feature = GROUNDS[rng.integers(len(GROUNDS))]
    patches = fractal_noise(rng, height, width, cells=3, octaves=4)
    patches = np.clip((patches - 0.5) * 2.2 + 0.5, 0, 1)
    image = _mix(dark, light, patches)
    # a worn path: a wide smooth curve of the feature colour with soft edges
    ys = np.arange(height, dtype=np.float32)[:, None]
    xs = np.arange(width, dtype=np.float32)[None, :]
    phase, slope = rng.uniform(0, 2 * np.pi), rng.uniform(-0.3, 0.3)
    centre = height * (0.5 + 0.3 * np.sin(xs / width * 2.5 + phase)) + slope * (xs - width / 2)
    path = np.exp(-(((ys - centre) / (0.06 * height)) ** 2)).astype(np.float32)
    image = image * (1 - 0.7 * path[..., None]) + 0.7 * path[..., None] * np.asarray(
        feature, np.float32
    )
    # stones or bushes: small soft blobs, lighter or darker than the ground around them
    blobs = np.zeros((height, width), np.float32)
    for _ in range(int(height * width / 2500)):
        centre_xy = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(rng.integers(2, 9)), int(rng.integers(2, 7)))
        cv2.ellipse(
            blobs,
            centre_xy,
            axes,
            float(rng.uniform(0, 180)),
            0,
            360,
            float(rng.choice([-1, 1])),
            -1,
        )
    blobs = cv2.GaussianBlur(blobs, (0, 0), 1.2)
    image *= 1 + 0.25 * blobs[..., None]
    grain = fractal_noise(rng, height, width, cells=max(height, width) // 6, octaves=2)
    image *= 0.85 + 0.3 * grain[..., None]
    mean = image.reshape(-1, 3).mean(axis=0)
    hue = colorsys.rgb_to_hsv(*(float(c) for c in mean))[0]
    return np.clip(image, 0, 1), hue


def object_hues(rng: np.random.Generator, ground_hue: float, count: int) -> list[float]:
    """Hues at least 60 degrees from the ground's and about 80 degrees from each other."""
    start = ground_hue + rng.uniform(60, 130) / 360
    hues = [(start + k * (80 / 360) + rng.uniform(-0.01, 0.01)) % 1.0 for k in range(count)]
    order = rng.permutation(count)
    return [hues[k] for k in order]


def hue_name(hue: float) -> str:
    """A plain colour word for a hue in ``[0, 1)``."""
    names = ((0.04, "red"), (0.11, "orange"), (0.19, "yellow"), (0.45, "green"), (0.53, "teal"))
    names += ((0.70, "blue"), (0.80, "purple"), (0.93, "pink"), (1.01, "red"))
    return next(name for limit, name in names if hue < limit)


def object_texture(rng: np.random.Generator, side: int, hue: float, pattern: str) -> np.ndarray:
    """A square patterned skin for one object, lit from the upper left.

    Args:
        rng: the random source.
        side: size of the square in pixels (at least the object's diameter).
        hue: base hue in ``[0, 1)``.
        pattern: one of :data:`PATTERNS`.

    Returns:
        ``(side, side, 3)`` float32 RGB in ``[0, 1]``.
    """
    sat = rng.uniform(0.55, 0.8)
    val = rng.uniform(0.7, 0.9)
    base = np.asarray(colorsys.hsv_to_rgb(hue, sat, val), np.float32)
    second = np.asarray(colorsys.hsv_to_rgb((hue + 0.04) % 1, sat * 0.8, val * 0.55), np.float32)
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    if pattern == "striped":
        angle = rng.uniform(0, np.pi)
        period = side / rng.uniform(4, 7)
        wave = np.sin((xs * np.cos(angle) + ys * np.sin(angle)) / period * 2 * np.pi)
        t = np.clip(wave * 2.5, -1, 1) * 0.5 + 0.5
    elif pattern == "spotted":
        t = np.zeros((side, side), np.float32)
        for _ in range(int(rng.integers(8, 16))):
            centre = (int(rng.integers(side)), int(rng.integers(side)))
            cv2.circle(t, centre, int(rng.integers(side // 18 + 2, side // 8 + 3)), 1.0, -1)
        t = cv2.GaussianBlur(t, (0, 0), 1.0)
    elif pattern == "furry":
        noise = fractal_noise(rng, side, side, cells=side // 4, octaves=2)
        # streaks along one direction, like hair or wood grain
        angle = rng.uniform(0, 180)
        kernel = np.zeros((9, 9), np.float32)
        kernel[4, :] = 1 / 9
        rot = cv2.getRotationMatrix2D((4, 4), angle, 1.0)
        kernel = cv2.warpAffine(kernel, rot, (9, 9))
        kernel /= kernel.sum()
        t = cv2.filter2D(noise, -1, kernel)
        t = np.clip((t - t.mean()) * 4 + 0.5, 0, 1)
    elif pattern == "checkered":
        cell = side / rng.uniform(5, 8)
        t = ((np.floor(xs / cell) + np.floor(ys / cell)) % 2).astype(np.float32)
        t = cv2.GaussianBlur(t, (0, 0), 0.8)
    else:
        raise ValueError(f"unknown pattern {pattern!r}; expected one of {PATTERNS}")
    image = _mix(tuple(base), tuple(second), t.astype(np.float32))
    # rounded look: light from the upper left, darker towards the rim
    r = np.hypot(xs - side / 2, ys - side / 2) / (side / 2)
    light = 1.05 - 0.25 * np.clip(r, 0, 1) ** 2 - 0.12 * ((xs + ys) / side - 1)
    image *= light[..., None]
    image *= (0.92 + 0.16 * fractal_noise(rng, side, side, cells=side // 3, octaves=2))[..., None]
    return np.clip(image, 0, 1).astype(np.float32)
