"""Geodesic distance over an image: how hard it is to walk from known background to a pixel.

The length of a path is the sum of the colour differences along it (CIELab, after a light blur)
plus a small cost per pixel travelled. Background inside a box is usually reached from the
background around the box without crossing a strong edge, so its distance stays small; the
object's interior lies behind its outline, so its distance is large (a cue used by salient-
object detection as "boundary connectivity"; Zhu et al., CVPR 2014). Distances are shortest
paths on the 8-connected grid (SciPy's Dijkstra from all sources at once).
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from segany_video.models.classic.min_cut import GRID_OFFSETS, edge_slices

# Cost of moving one pixel through a perfectly flat area, in Lab units: keeps distances growing
# with depth inside a flat object, so its centre is farther than its rim.
_STEP_COST = 1.0


def geodesic_distance(image: np.ndarray, sources: np.ndarray, downscale: int = 1) -> np.ndarray:
    """Distance of every pixel from the nearest source pixel.

    Args:
        image: ``(h, w, 3)`` uint8 RGB.
        sources: ``(h, w)`` bool, at least one True.
        downscale: compute on an image this many times smaller per side (area-averaged) and
            interpolate back; distances are then in units of the smaller grid.

    Returns:
        ``(h, w)`` float32 distances (0 on the sources).
    """
    h, w = sources.shape
    assert image.shape[:2] == (h, w) and sources.any(), (image.shape, sources.shape)
    if downscale > 1:
        size = (max(1, w // downscale), max(1, h // downscale))
        small_sources = cv2.resize(sources.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        if small_sources.any():
            small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            small = _shortest_paths(small_image, small_sources > 0)
            return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return _shortest_paths(image, sources)


def _shortest_paths(image: np.ndarray, sources: np.ndarray) -> np.ndarray:
    h, w = sources.shape
    lab = cv2.cvtColor(cv2.GaussianBlur(image, (3, 3), 0), cv2.COLOR_RGB2LAB).astype(np.float32)
    node = np.arange(h * w).reshape(h, w)
    tails, heads, lengths = [], [], []
    for dy, dx, _ in GRID_OFFSETS:
        src, dst = edge_slices(h, w, dy, dx)
        step = np.sqrt(np.square(lab[src] - lab[dst]).sum(axis=-1)) + _STEP_COST * np.hypot(dy, dx)
        tails.append(node[src].ravel())
        heads.append(node[dst].ravel())
        lengths.append(step.ravel())
    graph = sp.csr_matrix(
        (np.concatenate(lengths), (np.concatenate(tails), np.concatenate(heads))),
        shape=(h * w, h * w),
    )
    distance = dijkstra(graph, directed=False, indices=node[sources], min_only=True)
    return distance.reshape(h, w).astype(np.float32)
