"""Exact binary segmentation by a minimum s-t cut on the pixel grid.

The energy is the one grabCut minimises, with the unary terms left to the caller:

    E(L) = sum_p gain_p * [L_p = background] + sum_(p,q) w_pq * [L_p != L_q]

where ``gain_p`` is how much more likely pixel p is object than background (a log-likelihood
ratio, positive for object) and ``w_pq`` is a contrast-sensitive smoothness weight between
8-connected neighbours (Boykov and Jolly, ICCV 2001; Rother et al., SIGGRAPH 2004): large in
flat areas, small across colour edges, so the cut follows edges.

OpenCV's grabCut keeps its own colour models and smoothness fixed, so this module solves the
cut itself with SciPy's max-flow (Dinic's algorithm). Two exact reductions keep the graph small:
pixels whose label is given (hard constraints) leave the graph, their edges folded into the
terminal capacities of their free neighbours; and a pixel whose |gain| exceeds the sum of its
edge weights takes its preferred label in every minimum (relabelling it alone could never pay
for itself), so it leaves the graph too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

# The four forward neighbour offsets (dy, dx) of the 8-connected grid, with the factor grabCut
# gives their edges (1 / distance between the pixels): each undirected edge appears once.
# The geodesic distance walks the same grid.
GRID_OFFSETS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, 2**-0.5), (1, -1, 2**-0.5))
# SciPy's max-flow takes int32 capacities: energies are scaled by this and rounded. With
# smoothness weights <= ~50 and |gain| capped by the persistency test, a free pixel's
# capacities stay far below 2**31 / (number of pixels).
_CAPACITY_SCALE = 100.0

# Rounds of the persistency test before the max-flow (each round is a few array passes; most
# pixels that can be settled are settled within the first few).
_PERSISTENCY_ROUNDS = 6

FIXED_OBJECT = 1
FIXED_BACKGROUND = -1
FREE = 0


@dataclass(frozen=True)
class GridEdges:
    """Smoothness weights of the 8-connected grid of an ``(h, w)`` image.

    Attributes:
        weights: one ``(h, w)`` float32 map per offset in :data:`GRID_OFFSETS`; entry ``[y, x]`` is
            the weight of the edge from ``(y, x)`` to ``(y + dy, x + dx)`` (0 where that
            neighbour lies outside the image).
    """

    weights: tuple[np.ndarray, ...]

    @property
    def shape(self) -> tuple[int, int]:
        return self.weights[0].shape  # type: ignore[return-value]


def contrast_edges(image: np.ndarray, smoothness: float) -> GridEdges:
    """GrabCut's contrast-sensitive weights ``smoothness / dist(p, q) * exp(-beta |I_p - I_q|^2)``.

    Args:
        image: ``(h, w, 3)`` uint8 (any colour space; distances are Euclidean in it).
        smoothness: weight of an edge in a perfectly flat area (grabCut's gamma).

    Returns:
        The grid's edges; ``beta`` is the inverse of twice the mean squared neighbour difference,
        so the weights adapt to the image's overall contrast.
    """
    f = image.astype(np.float32)
    h, w = f.shape[:2]
    squared = []
    for dy, dx, _ in GRID_OFFSETS:
        src, dst = edge_slices(h, w, dy, dx)
        squared.append(np.square(f[src] - f[dst]).sum(axis=-1))
    count = sum(d.size for d in squared)
    mean = sum(float(d.sum()) for d in squared) / max(count, 1)
    beta = 1.0 / (2.0 * mean) if mean > 0 else 0.0
    weights = []
    for (dy, dx, inverse_distance), d2 in zip(GRID_OFFSETS, squared, strict=True):
        src, _ = edge_slices(h, w, dy, dx)
        weight = np.zeros((h, w), dtype=np.float32)
        weight[src] = smoothness * inverse_distance * np.exp(-beta * d2)
        weights.append(weight)
    return GridEdges(tuple(weights))


def grid_min_cut(gain: np.ndarray, edges: GridEdges, fixed: np.ndarray) -> np.ndarray:
    """The labelling of least energy (see the module docstring).

    Args:
        gain: ``(h, w)`` float, cost of labelling a pixel background minus that of object.
        edges: smoothness weights of the same grid.
        fixed: ``(h, w)`` int8 :data:`FIXED_OBJECT` / :data:`FIXED_BACKGROUND` for hard
            constraints, :data:`FREE` elsewhere.

    Returns:
        ``(h, w)`` bool, True for object. Ties resolve to background.
    """
    return GridCut(gain, edges, fixed).foreground


class GridCut:
    """A solved minimum cut that can take more object constraints and be solved again.

    Adding sure-object pixels only adds capacity from the source, so the flow found so far stays
    valid: the next solve continues from its residual graph instead of starting over, and only
    pushes the extra flow the new constraints call for.

    Args:
        gain, edges, fixed: as for :func:`grid_min_cut`.
    """

    def __init__(self, gain: np.ndarray, edges: GridEdges, fixed: np.ndarray) -> None:
        h, w = gain.shape
        assert edges.shape == (h, w) and fixed.shape == (h, w), (
            gain.shape,
            edges.shape,
            fixed.shape,
        )
        # Copies: a later rebuild (see require_object) must see the problem as it was given.
        self._gain = np.array(gain, dtype=np.float64)
        self._edges, self._fixed = edges, fixed.astype(np.int8, copy=True)
        self._solve_from_scratch()

    @property
    def foreground(self) -> np.ndarray:
        """``(h, w)`` bool, True for object."""
        return self._foreground.copy()

    def require_object(self, ys: np.ndarray, xs: np.ndarray) -> None:
        """Make the pixels ``(ys, xs)`` sure object and solve again.

        Raises:
            ValueError: one of the pixels is a hard background constraint.
        """
        if (self._fixed[ys, xs] == FIXED_BACKGROUND).any():
            raise ValueError("a sure-background pixel cannot also be sure object")
        self._fixed[ys, xs] = FIXED_OBJECT
        nodes = self._node[ys, xs]
        if (self._label[ys, xs] == FIXED_BACKGROUND).any():
            # The persistency test settled one of them as background under the old constraints:
            # that no longer holds, so the graph is built again.
            self._solve_from_scratch()
            return
        nodes = np.unique(nodes[nodes >= 0])
        if len(nodes) == 0:
            return
        count = self._residual.shape[0] - 2
        # "Infinite" source capacity for a new sure-object node: more than all of its other
        # capacities together, which bound any flow through it.
        bound = np.asarray(abs(self._residual[nodes]).sum(axis=1)).ravel()
        bound += np.asarray(abs(self._residual[:, nodes]).sum(axis=0)).ravel() + 1
        extra = sp.csr_matrix(
            (np.minimum(bound, 2**30).astype(np.int32), (np.full(len(nodes), count), nodes)),
            shape=self._residual.shape,
        )
        self._run(self._residual + extra)

    def _solve_from_scratch(self) -> None:
        h, w = self._gain.shape
        label = self._fixed.copy()
        gain = np.where(label == FREE, self._gain, 0.0).astype(np.float64)
        _fix_persistent(label, gain, self._edges)
        self._label = label
        free = label == FREE
        count = int(free.sum())
        self._node = np.full((h, w), -1, dtype=np.int64)
        self._node[free] = np.arange(count)
        self._run(_flow_graph(gain, self._edges, label, self._node, count))

    def _run(self, graph: sp.csr_matrix) -> None:
        count = graph.shape[0] - 2
        source, sink = count, count + 1
        if count > 0:
            flow = maximum_flow(graph, source, sink, method="dinic").flow
            # The object side of the minimum cut: what the source still reaches in the residual.
            residual = (graph - flow).tocsr()
            residual.data = np.maximum(residual.data, 0)
            residual.eliminate_zeros()
            reached = breadth_first_order(
                residual, source, directed=True, return_predecessors=False
            )
        else:
            residual, reached = graph, np.zeros(0, dtype=np.int64)
        self._residual = residual
        on_source = np.zeros(count + 2, dtype=bool)
        on_source[reached] = True
        foreground = self._label == FIXED_OBJECT
        free = self._node >= 0
        foreground[free] = on_source[self._node[free]]
        self._foreground = foreground


def _flow_graph(
    gain: np.ndarray, edges: GridEdges, label: np.ndarray, node: np.ndarray, count: int
) -> sp.csr_matrix:
    """The flow network of the free pixels, with fixed neighbours folded into the terminals.

    Node ``count`` is the source (object side), ``count + 1`` the sink.
    """
    h, w = gain.shape
    free = node >= 0
    # Cutting source->p (p background) costs to_source; cutting p->sink (p object) to_sink.
    to_source = np.where(free, np.maximum(gain, 0.0), 0.0)
    to_sink = np.where(free, np.maximum(-gain, 0.0), 0.0)
    tails, heads, caps = [], [], []
    for (dy, dx, _), weights in zip(GRID_OFFSETS, edges.weights, strict=True):
        src, dst = edge_slices(h, w, dy, dx)
        weight = weights[src]
        a_label, b_label = label[src], label[dst]
        both = (a_label == FREE) & (b_label == FREE)
        a, b = node[src][both], node[dst][both]
        tails += [a, b]
        heads += [b, a]
        caps += [weight[both], weight[both]]
        # An edge to a fixed neighbour is paid when the free pixel takes the other label.
        for here, there, free_here in ((src, dst, a_label), (dst, src, b_label)):
            other = label[there]
            from_object = (free_here == FREE) & (other == FIXED_OBJECT)
            from_background = (free_here == FREE) & (other == FIXED_BACKGROUND)
            to_source[here] += np.where(from_object, weight, 0.0)
            to_sink[here] += np.where(from_background, weight, 0.0)
    source, sink = count, count + 1
    ids = node[free]
    tails += [np.full(count, source), ids]
    heads += [ids, np.full(count, sink)]
    caps += [to_source[free], to_sink[free]]
    scaled = np.rint(np.concatenate(caps) * _CAPACITY_SCALE)
    assert scaled.max(initial=0) < 2**31, "capacities overflow int32: smoothness too large"
    capacity = scaled.astype(np.int32)
    keep = capacity > 0
    return sp.csr_matrix(
        (capacity[keep], (np.concatenate(tails)[keep], np.concatenate(heads)[keep])),
        shape=(count + 2, count + 2),
    )


def _fix_persistent(label: np.ndarray, gain: np.ndarray, edges: GridEdges) -> None:
    """Fix, in place, free pixels whose label is the same in every minimum.

    A free pixel preferring object (gain > 0) is object in every minimum when its gain exceeds
    the total weight of its edges to neighbours not already fixed to object: flipping it to
    background could never pay (the same holds the other way round). Each pixel fixed this way
    can settle its neighbours in the next round; rounds stop when none is fixed.
    """
    h, w = label.shape
    for _ in range(_PERSISTENCY_ROUNDS):
        not_object = np.zeros((h, w), dtype=np.float64)
        not_background = np.zeros((h, w), dtype=np.float64)
        for (dy, dx, _), weights in zip(GRID_OFFSETS, edges.weights, strict=True):
            src, dst = edge_slices(h, w, dy, dx)
            weight = weights[src]
            not_object[src] += np.where(label[dst] != FIXED_OBJECT, weight, 0.0)
            not_object[dst] += np.where(label[src] != FIXED_OBJECT, weight, 0.0)
            not_background[src] += np.where(label[dst] != FIXED_BACKGROUND, weight, 0.0)
            not_background[dst] += np.where(label[src] != FIXED_BACKGROUND, weight, 0.0)
        free = label == FREE
        to_object = free & (gain > not_object)
        to_background = free & (-gain > not_background)
        if not (to_object.any() or to_background.any()):
            return
        label[to_object] = FIXED_OBJECT
        label[to_background] = FIXED_BACKGROUND


def edge_slices(h: int, w: int, dy: int, dx: int) -> tuple[tuple[slice, slice], ...]:
    """Index pairs ``(src, dst)`` so ``a[src]`` and ``a[dst]`` are the two ends of each edge."""
    if dx >= 0:
        src_x, dst_x = slice(0, w - dx), slice(dx, w)
    else:
        src_x, dst_x = slice(-dx, w), slice(0, w + dx)
    return (slice(0, h - dy), src_x), (slice(dy, h), dst_x)
