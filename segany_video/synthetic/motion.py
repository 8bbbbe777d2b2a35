"""Scripted motion of the synthetic clips: where each role's object is on every frame.

The paths are smooth curves through knots placed in fractions of the frame, so the events of the
scenario (see :mod:`segany_video.synthetic.clips`) happen for every seed; the seed only jitters the
knots a little. The hidden object is pulled onto the occluder's centre for the middle of the clip:
as long as its outline's largest radius plus its offset stays below the occluder's smallest radius,
not one of its pixels can show, whatever the shapes' random wiggles.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator


def _path(knots: list[tuple[float, float, float]], u: np.ndarray) -> np.ndarray:
    """Smooth, overshoot-free path through ``(u, x, y)`` knots, sampled at ``u`` -> ``(N, 2)``."""
    ku = np.array([k[0] for k in knots])
    xy = np.array([k[1:] for k in knots])
    return PchipInterpolator(ku, xy, axis=0)(u)


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0, 1)
    return t * t * (3 - 2 * t)


def trajectories(
    rng: np.random.Generator, u: np.ndarray, w: int, h: int, radii: dict[str, float]
) -> dict[str, np.ndarray]:
    """Scripted centres for the three roles (before mirroring and shake).

    Args:
        rng: the seed's random source (jitter of the knots).
        u: ``(N,)`` clip time in ``[0, 1]``.
        w, h: frame size in pixels.
        radii: mean radius per role in pixels.

    Returns:
        role -> ``(N, 2)`` ``(x, y)`` centres in pixels.
    """

    def jit(scale: float) -> float:
        return float(rng.uniform(-scale, scale))

    bob = rng.uniform(0, 2 * np.pi)
    occluder = _path(
        [
            (0.0, 0.28 + jit(0.03), 0.55),
            (0.5, 0.45 + jit(0.03), 0.56),
            (1.0, 0.62 + jit(0.03), 0.55),
        ],
        u,
    ) * (w, h)
    occluder[:, 1] += 0.015 * h * np.sin(2 * np.pi * 1.3 * u + bob)

    # hidden: its own path, pulled onto the occluder's centre during [t_in, t_out]
    free = _path(
        [
            (0.0, 0.86 + jit(0.02), 0.80 + jit(0.02)),
            (0.24, 0.68 + jit(0.02), 0.76 + jit(0.02)),
            (0.66, 0.28 + jit(0.02), 0.83 + jit(0.02)),
            (1.0, 0.10 + jit(0.02), 0.78 + jit(0.02)),
        ],
        u,
    ) * (w, h)
    t_in, t_out = 0.24 + jit(0.02), 0.56 + jit(0.02)
    pull = _smoothstep((u - t_in) / 0.1) * (1 - _smoothstep((u - t_out) / 0.1))
    wobble = 0.008 * h * np.stack([np.sin(7 * u + bob), np.cos(5 * u + bob)], axis=1)
    hidden = free + pull[:, None] * (occluder + wobble - free)

    # wanderer: crosses over the occluder's top, leaves the frame, comes back
    u_cross = 0.11 + jit(0.01)
    k_cross = int(np.argmin(np.abs(u - u_cross)))
    cross = occluder[k_cross] / (w, h) - (0, 0.17)
    outside = 1 + (radii["wanderer"] * 1.4) / w + 0.04
    exit_y = 0.26 + jit(0.02)
    wanderer = _path(
        [
            (0.0, 0.08 + jit(0.02), 0.20 + jit(0.02)),
            (float(u[k_cross]), *cross),
            (0.30, 0.72 + jit(0.02), 0.30 + jit(0.02)),
            (0.42, outside, exit_y),
            (0.62, outside, exit_y),
            (0.74, 0.80 + jit(0.02), 0.18 + jit(0.01)),
            (1.0, 0.50 + jit(0.03), 0.17 + jit(0.01)),
        ],
        u,
    ) * (w, h)
    return {"occluder": occluder, "hidden": hidden, "wanderer": wanderer}


def outline_harmonics(rng: np.random.Generator, times: np.ndarray, total: float) -> np.ndarray:
    """Slowly deforming outline: harmonics 2..5 of the radius, amplitude and phase per frame.

    Args:
        rng: the seed's random source.
        times: ``(N,)`` seconds of each frame.
        total: bound on the summed amplitudes, so the radius stays within ``1 +- total`` of the
            mean (what keeps the hidden object inside the occluder's outline).

    Returns:
        ``(N, 4, 2)`` float: amplitude and phase per frame and harmonic.
    """
    weights = rng.uniform(0.2, 1.0, 4) * np.array([2.0, 1.0, 0.7, 0.5])
    amp = weights / weights.sum() * total * rng.uniform(0.75, 1.0)
    speed = rng.uniform(0.3, 1.0, 4) * rng.choice([-1, 1], 4)  # rad/s: slow deformation
    phase0 = rng.uniform(0, 2 * np.pi, 4)
    pulse = 0.85 + 0.15 * np.sin(times[:, None] * rng.uniform(0.5, 1.5, 4) + phase0)
    out = np.empty((len(times), 4, 2))
    out[..., 0] = amp * pulse
    out[..., 1] = phase0 + speed * times[:, None]
    return out
