"""The classic engine's tight-box cut and its parts, each against an independent expectation.

* ``min_cut``: brute-force enumeration of every labelling of tiny grids, the energy written out
  here from its formula; the warm re-solve against a cold solve;
* ``geodesic``: a plain Dijkstra over the same edge lengths;
* ``colour_model`` / ``ring_model``: pixels drawn from known Gaussians, colours placed by side;
* ``tight_box``: counts worked out by hand;
* ``box_cut``: generated scenes whose true masks are known by construction.
"""

from __future__ import annotations

import heapq
import itertools
import math

import cv2
import numpy as np
import pytest
import scipy.stats
import torch
from scipy.special import logsumexp

from segany_video.models.base import ObjectPrompt
from segany_video.models.classic import ClassicEngine, ClassicSettings, candidates
from segany_video.models.classic.box_cut import cut_box
from segany_video.models.classic.colour_cut import cut_with_prior
from segany_video.models.classic.colour_model import ColourMixture
from segany_video.models.classic.geodesic import geodesic_distance
from segany_video.models.classic.graph_cut import CutResult
from segany_video.models.classic.min_cut import (
    FIXED_BACKGROUND,
    FIXED_OBJECT,
    FREE,
    GridCut,
    GridEdges,
    contrast_edges,
    grid_min_cut,
)
from segany_video.models.classic.ring_model import RingBackground
from segany_video.models.classic.tight_box import (
    box_slices,
    lines_crossed,
    pins,
    uncrossed_lines,
)
from segany_video.models.classic.trimap import WorkRegion, build_trimap, plan_region
from segany_video.results import mask_iou as iou

# The forward neighbour offsets (dy, dx) in the order of ``GridEdges.weights``.
OFFSETS = ((0, 1), (1, 0), (1, 1), (1, -1))
# The solver rounds its capacities to multiples of 1/100; on that grid its problem is exactly
# the stated energy, so optimal energies can be compared to float precision.
CAPACITY_STEP = 0.01


@pytest.fixture(autouse=True)
def seeded_opencv() -> None:
    """k-means inside the colour fits seeds from OpenCV's RNG."""
    cv2.setRNGSeed(0)


# ----------------------------------------------------------------------------- min-cut helpers


def edge_list(edges: GridEdges) -> list[tuple[int, int, int, int, float]]:
    """Every in-image 8-neighbour pair ``(y, x, y2, x2, weight)``, read pixel by pixel."""
    h, w = edges.shape
    pairs = []
    for (dy, dx), weights in zip(OFFSETS, edges.weights, strict=True):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    pairs.append((y, x, y + dy, x + dx, float(weights[y, x])))
    return pairs


def energies(labels: np.ndarray, gain: np.ndarray, edges: GridEdges) -> np.ndarray:
    """E(L) = sum_p gain_p [L_p = bg] + sum_pq w_pq [L_p != L_q] of ``(n, h, w)`` labellings."""
    labels = labels.reshape(-1, *gain.shape)
    total = np.where(labels, 0.0, gain.astype(np.float64)).sum(axis=(1, 2))
    for y, x, y2, x2, weight in edge_list(edges):
        total += weight * (labels[:, y, x] != labels[:, y2, x2])
    return total


def energy(labels: np.ndarray, gain: np.ndarray, edges: GridEdges) -> float:
    return float(energies(labels[None], gain, edges)[0])


def brute_force_minimum(gain: np.ndarray, edges: GridEdges, fixed: np.ndarray) -> float:
    """The least energy over every labelling of the free pixels."""
    free = np.flatnonzero(fixed.ravel() == FREE)
    bits = np.array(list(itertools.product((False, True), repeat=len(free))), dtype=bool)
    labels = np.repeat((fixed == FIXED_OBJECT).ravel()[None], len(bits), axis=0)
    labels[:, free] = bits.reshape(len(bits), len(free))
    return float(energies(labels, gain, edges).min())


def brute_force_minimum_around(
    gain: np.ndarray, edges: GridEdges, answer: np.ndarray, centre: tuple[int, int]
) -> float:
    """The least energy over relabellings of the 3x3 window around ``centre``, rest as given.

    Not a global oracle, but one that shares nothing with the solver: no minimum can be beaten
    by relabelling a small window.
    """
    cy, cx = centre
    window = np.where(answer, FIXED_OBJECT, FIXED_BACKGROUND).astype(np.int8)
    window[cy - 1 : cy + 2, cx - 1 : cx + 2] = FREE
    window[centre] = FIXED_OBJECT
    return brute_force_minimum(gain, edges, window)


def on_capacity_grid(values: np.ndarray) -> np.ndarray:
    return (np.round(values / CAPACITY_STEP) * CAPACITY_STEP).astype(np.float32)


def quantised(edges: GridEdges) -> GridEdges:
    return GridEdges(tuple(on_capacity_grid(w) for w in edges.weights))


def random_problem(
    shape: tuple[int, int], seed: int, gain_scale: float, fixed_share: float
) -> tuple[np.ndarray, GridEdges, np.ndarray]:
    """A blocky noisy image's contrast edges, random gains, some random hard constraints."""
    rng = np.random.default_rng(seed)
    h, w = shape
    blocks = rng.integers(0, 4, (h // 3 + 1, w // 3 + 1, 3)) * 60
    image = blocks.repeat(3, axis=0).repeat(3, axis=1)[:h, :w] + rng.normal(0, 10, (h, w, 3))
    edges = contrast_edges(np.clip(image, 0, 255).astype(np.uint8), smoothness=2.0)
    gain = rng.normal(0, gain_scale, (h, w)).astype(np.float32)
    fixed = np.full((h, w), FREE, dtype=np.int8)
    chosen = rng.random((h, w)) < fixed_share
    fixed[chosen] = rng.choice([FIXED_OBJECT, FIXED_BACKGROUND], int(chosen.sum()))
    return gain, edges, fixed


# ----------------------------------------------------------------------------- min cut


@pytest.mark.parametrize("exact", [True, False], ids=["on-capacity-grid", "raw-floats"])
@pytest.mark.parametrize("gain_scale", [0.3, 3.0, 30.0])
@pytest.mark.parametrize("shape", [(3, 4), (4, 4)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_grid_min_cut_attains_the_brute_force_minimum(
    seed: int, shape: tuple[int, int], gain_scale: float, exact: bool
) -> None:
    gain, edges, fixed = random_problem(shape, seed, gain_scale, fixed_share=0.25)
    if exact:
        gain, edges = on_capacity_grid(gain), quantised(edges)
        tolerance = 1e-6
    else:
        # Each rounded capacity is off by at most half a step, and a labelling's energy sums
        # fewer capacities than 2 per pixel plus 1 per edge; the solver's optimum of the rounded
        # problem is then within twice that of the true optimum.
        tolerance = 2 * (CAPACITY_STEP / 2) * (2 * gain.size + len(edge_list(edges)))
    labels = grid_min_cut(gain, edges, fixed)
    assert labels.shape == shape and labels.dtype == bool
    assert labels[fixed == FIXED_OBJECT].all()
    assert not labels[fixed == FIXED_BACKGROUND].any()
    best = brute_force_minimum(gain, edges, fixed)
    assert energy(labels, gain, edges) <= best + tolerance


def test_grid_min_cut_without_free_pixels_returns_the_constraints() -> None:
    fixed = np.array([[FIXED_OBJECT, FIXED_BACKGROUND], [FIXED_BACKGROUND, FIXED_OBJECT]], np.int8)
    edges = contrast_edges(np.zeros((2, 2, 3), np.uint8), smoothness=5.0)
    labels = grid_min_cut(np.full((2, 2), -100.0, np.float32), edges, fixed)
    np.testing.assert_array_equal(labels, fixed == FIXED_OBJECT)


def contrast_oracle(image: np.ndarray, smoothness: float) -> list[np.ndarray]:
    """grabCut's smoothness weights, pixel by pixel, from the formula."""
    h, w = image.shape[:2]
    f = image.astype(np.float64)
    squared = {}
    for k, (dy, dx) in enumerate(OFFSETS):
        for y in range(h):
            for x in range(w):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    squared[k, y, x] = float(np.sum((f[y, x] - f[y + dy, x + dx]) ** 2))
    mean = sum(squared.values()) / len(squared)
    beta = 1 / (2 * mean) if mean > 0 else 0.0
    weights = [np.zeros((h, w)) for _ in OFFSETS]
    for (k, y, x), d2 in squared.items():
        length = 1.0 if k < 2 else 1 / math.sqrt(2)
        weights[k][y, x] = smoothness * length * math.exp(-beta * d2)
    return weights


CONTRAST_IMAGES = [
    pytest.param(np.random.default_rng(0).integers(0, 256, (3, 4, 3)), id="random"),
    pytest.param(np.full((4, 3, 3), 77), id="flat"),
    pytest.param(np.repeat([[[0, 0, 0]] * 2 + [[255, 200, 100]] * 2], 3, axis=0), id="two-tone"),
]


@pytest.mark.parametrize("image", CONTRAST_IMAGES)
@pytest.mark.parametrize("smoothness", [1.0, 25.0])
def test_contrast_edges_follow_the_formula(image: np.ndarray, smoothness: float) -> None:
    image = image.astype(np.uint8)
    edges = contrast_edges(image, smoothness)
    assert edges.shape == image.shape[:2]
    expected = contrast_oracle(image, smoothness)
    for got, want in zip(edges.weights, expected, strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warm_require_object_equals_a_cold_solve(seed: int) -> None:
    gain, edges, fixed = random_problem((20, 30), seed, gain_scale=4.0, fixed_share=0.05)
    gain, edges = on_capacity_grid(gain - 1.0), quantised(edges)
    cut = GridCut(gain, edges, fixed)
    rng = np.random.default_rng(100 + seed)
    required = fixed.copy()
    # Three rounds, each requiring pixels the current answer calls background although their
    # gain favours object (so no persistency test settled them: the re-solve stays warm), and
    # one pixel it already calls object; every round changes the answer.
    for _ in range(3):
        candidates = np.argwhere(~cut.foreground & (required == FREE) & (gain > 0))
        assert len(candidates) >= 4
        picks = candidates[rng.choice(len(candidates), 4, replace=False)]
        kept = np.argwhere(cut.foreground)[0]
        ys, xs = np.append(picks[:, 0], kept[0]), np.append(picks[:, 1], kept[1])
        before = cut.foreground
        cut.require_object(ys, xs)
        required[ys, xs] = FIXED_OBJECT
        warm = cut.foreground
        assert warm[ys, xs].all() and not np.array_equal(warm, before)
        assert not warm[fixed == FIXED_BACKGROUND].any()
        cold = grid_min_cut(gain, edges, required)
        assert energy(warm, gain, edges) == pytest.approx(energy(cold, gain, edges), abs=1e-6)


def test_require_object_on_a_settled_background_pixel() -> None:
    gain, edges, fixed = random_problem((20, 30), 7, gain_scale=2.0, fixed_share=0.0)
    gain, edges = on_capacity_grid(gain), quantised(edges)
    # Far more negative than all its edge weights together: background in every minimum, so the
    # persistency reduction takes it (and, in turn, neighbours it settles) out of the graph.
    gain[10, 15] = -1000.0
    cut = GridCut(gain, edges, fixed)
    assert not cut.foreground[10, 15]
    cut.require_object(np.array([10]), np.array([15]))
    required = fixed.copy()
    required[10, 15] = FIXED_OBJECT
    cold = grid_min_cut(gain, edges, required)
    assert cut.foreground[10, 15]
    assert energy(cut.foreground, gain, edges) == pytest.approx(energy(cold, gain, edges), abs=1e-6)
    assert energy(cut.foreground, gain, edges) == pytest.approx(
        brute_force_minimum_around(gain, edges, cut.foreground, (10, 15)), abs=1e-6
    )


def test_require_object_on_sure_background_raises_and_changes_nothing() -> None:
    gain, edges, fixed = random_problem((6, 7), 3, gain_scale=2.0, fixed_share=0.0)
    fixed[2, 3] = FIXED_BACKGROUND
    cut = GridCut(gain, edges, fixed)
    before = cut.foreground
    with pytest.raises(ValueError, match="sure-background"):
        cut.require_object(np.array([0, 2]), np.array([0, 3]))
    np.testing.assert_array_equal(cut.foreground, before)
    cut.require_object(np.array([0]), np.array([0]))
    assert cut.foreground[0, 0] and not cut.foreground[2, 3]


# ----------------------------------------------------------------------------- geodesic distance


def dijkstra_oracle(image: np.ndarray, sources: np.ndarray) -> np.ndarray:
    """Shortest 8-connected paths, each step |Lab difference of the blurred image| + length."""
    h, w = sources.shape
    blurred = cv2.GaussianBlur(image, (3, 3), 0)
    lab = cv2.cvtColor(blurred, cv2.COLOR_RGB2LAB).astype(np.float64)
    distance = np.full((h, w), np.inf)
    queue = [(0.0, int(y), int(x)) for y, x in np.argwhere(sources)]
    for _, y, x in queue:
        distance[y, x] = 0.0
    heapq.heapify(queue)
    while queue:
        d, y, x = heapq.heappop(queue)
        if d > distance[y, x]:
            continue
        for dy, dx in itertools.product((-1, 0, 1), repeat=2):
            y2, x2 = y + dy, x + dx
            if (dy, dx) == (0, 0) or not (0 <= y2 < h and 0 <= x2 < w):
                continue
            step = float(np.linalg.norm(lab[y, x] - lab[y2, x2])) + math.hypot(dy, dx)
            if d + step < distance[y2, x2]:
                distance[y2, x2] = d + step
                heapq.heappush(queue, (d + step, y2, x2))
    return distance


def top_row(h: int, w: int) -> np.ndarray:
    sources = np.zeros((h, w), bool)
    sources[0] = True
    return sources


def top_row_and_a_point(h: int, w: int) -> np.ndarray:
    sources = top_row(h, w)
    sources[h // 2, w // 2] = True
    return sources


def one_corner(h: int, w: int) -> np.ndarray:
    sources = np.zeros((h, w), bool)
    sources[-1, -1] = True
    return sources


@pytest.mark.parametrize("make_sources", [top_row, top_row_and_a_point, one_corner])
@pytest.mark.parametrize("seed", [0, 1])
def test_geodesic_distance_matches_dijkstra(make_sources, seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (12, 15, 3)).astype(np.uint8)
    sources = make_sources(12, 15)
    got = geodesic_distance(image, sources)
    assert got.shape == sources.shape and got.dtype == np.float32
    assert (got[sources] == 0).all()
    np.testing.assert_allclose(got, dijkstra_oracle(image, sources), rtol=1e-5, atol=1e-3)


def test_geodesic_distance_is_long_behind_an_edge_and_steps_across_a_flat_area() -> None:
    image = np.full((21, 31, 3), 40, np.uint8)
    image[:, 20:22] = 250  # a bright wall right of the source
    sources = np.zeros((21, 31), bool)
    sources[10, 15] = True
    distance = geodesic_distance(image, sources)
    flat, behind = distance[10, 7], distance[10, 23]  # both 8 steps from the source
    assert flat == pytest.approx(8.0, abs=1e-4)  # a flat walk costs its steps alone
    assert behind > flat + 100  # crossing the wall costs its contrast, twice


def test_geodesic_downscale_keeps_the_ranking() -> None:
    image = np.full((40, 48, 3), 30, np.uint8)
    image[12:28, 16:32] = 230  # a bright square inside a dark ring
    sources = np.ones((40, 48), bool)
    sources[4:-4, 4:-4] = False
    full, half = geodesic_distance(image, sources), geodesic_distance(image, sources, downscale=2)
    assert half.shape == full.shape
    centre, ring_side = (20, 24), (20, 10)
    for distance in (full, half):
        assert distance[centre] > distance[ring_side] + 50
    inside = ~sources
    rho = scipy.stats.spearmanr(full[inside], half[inside]).statistic
    assert rho > 0.9


# ----------------------------------------------------------------------------- colour mixture

TRUE_MEANS = np.array([[200, 40, 40], [40, 180, 60], [50, 60, 210]], np.float64)


def gaussian_pixels(
    proportions: tuple[float, ...], count: int, order: str, seed: int = 0
) -> np.ndarray:
    """``count`` pixels from isotropic Gaussians (sd 8) around the first ``TRUE_MEANS``."""
    rng = np.random.default_rng(seed)
    sizes = np.round(np.array(proportions) * count).astype(int)
    pixels = np.concatenate(
        [rng.normal(mean, 8, (size, 3)) for mean, size in zip(TRUE_MEANS, sizes, strict=False)]
    )
    if order == "shuffled":
        rng.shuffle(pixels)
    return pixels


MIXTURE_CASES = [
    pytest.param((0.6, 0.4), 2, 400, "shuffled", id="two-exact"),
    pytest.param((0.5, 0.3, 0.2), 3, 3000, "shuffled", id="three-exact"),
    pytest.param((0.5, 0.3, 0.2), 5, 3000, "shuffled", id="three-in-five"),
    pytest.param((0.5, 0.3, 0.2), 3, 20000, "shuffled", id="subsampled"),
    pytest.param((0.5, 0.3, 0.2), 5, 20000, "grouped", id="subsampled-grouped"),
]


@pytest.mark.parametrize(("proportions", "components", "count", "order"), MIXTURE_CASES)
def test_colour_mixture_fit_recovers_the_clusters(
    proportions: tuple[float, ...], components: int, count: int, order: str
) -> None:
    mixture = ColourMixture.fit(gaussian_pixels(proportions, count, order), components)
    true = TRUE_MEANS[: len(proportions)]
    k = len(mixture.weights)
    assert len(proportions) <= k <= components
    assert mixture.means.shape == (k, 3) and mixture.covariances.shape == (k, 3, 3)
    assert mixture.weights.sum() == pytest.approx(1.0)
    # Every fitted component belongs to one true cluster; a cluster split over several
    # components still has their weights summing to its share and their weighted mean on it.
    owner = np.linalg.norm(mixture.means[:, None] - true[None], axis=-1).argmin(axis=1)
    for cluster, (mean, share) in enumerate(zip(true, proportions, strict=True)):
        mine = owner == cluster
        assert mixture.weights[mine].sum() == pytest.approx(share, abs=0.03)
        pooled = np.average(mixture.means[mine], axis=0, weights=mixture.weights[mine])
        np.testing.assert_allclose(pooled, mean, atol=2.0)
        if k == len(proportions):
            assert mine.sum() == 1
            np.testing.assert_allclose(np.diag(mixture.covariances[mine][0]), 64, rtol=0.3)


def test_colour_mixture_likes_colours_near_its_means() -> None:
    mixture = ColourMixture.fit(gaussian_pixels((0.5, 0.3, 0.2), 3000, "shuffled"), 3)
    near = TRUE_MEANS + 3
    far = np.array([[128, 128, 128], [255, 255, 255], [0, 0, 0]], np.float64)
    assert mixture.log_likelihood(near).min() > mixture.log_likelihood(far).max() + 10


def test_components_log_likelihood_is_each_weighted_gaussian() -> None:
    mixture = ColourMixture.fit(gaussian_pixels((0.5, 0.3, 0.2), 3000, "shuffled"), 3)
    pixels = np.random.default_rng(5).uniform(0, 255, (40, 3))
    rows = mixture.components_log_likelihood(pixels)
    assert rows.shape == (3, 40)
    ridge = 1e-2 * np.eye(3)  # the engine's regulariser, as in test_classic
    for row, weight, mean, cov in zip(
        rows, mixture.weights, mixture.means, mixture.covariances, strict=True
    ):
        expected = np.log(weight) + scipy.stats.multivariate_normal(mean, cov + ridge).logpdf(
            pixels
        )
        np.testing.assert_allclose(row, expected, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(
        mixture.log_likelihood(pixels), logsumexp(rows, axis=0), rtol=1e-5, atol=1e-3
    )
    silenced = ColourMixture(
        np.array([0.0, 1.0]), mixture.means[:2], mixture.covariances[:2]
    ).components_log_likelihood(pixels)
    assert np.isneginf(silenced[0]).all() and np.isfinite(silenced[1]).all()


@pytest.mark.parametrize("count", [25, 15, 5, 1])
def test_colour_mixture_with_fewer_pixels_than_components(count: int) -> None:
    pixels = np.random.default_rng(2).normal((100, 150, 200), 5, (count, 3))
    mixture = ColourMixture.fit(pixels, 5)
    k = len(mixture.weights)
    assert 1 <= k <= max(1, count // 10)  # at least ten pixels per fitted component
    assert mixture.weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(
        np.average(mixture.means, axis=0, weights=mixture.weights), pixels.mean(axis=0), atol=1e-6
    )
    assert np.isfinite(mixture.log_likelihood(np.array([[0, 0, 0], [255, 255, 255]]))).all()


def test_colour_mixture_of_no_pixels_is_one_broad_component() -> None:
    mixture = ColourMixture.fit(np.zeros((0, 3)), 5)
    assert len(mixture.weights) == 1 and mixture.weights[0] == 1.0
    np.testing.assert_allclose(mixture.means[0], 127.5)
    assert (np.sqrt(np.linalg.eigvalsh(mixture.covariances[0])) >= 32).all()
    spread = mixture.log_likelihood(np.array([[127, 127, 127], [0, 0, 0], [255, 0, 255]]))
    assert np.isfinite(spread).all() and np.ptp(spread) < 15  # likes no colour much


# ----------------------------------------------------------------------------- ring background

RED, GREEN = (200, 40, 40), (40, 170, 60)


def top_red_crop(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An 80x100 crop: red above the box ``[20, 20, 80, 60]``, green on its other sides."""
    rng = np.random.default_rng(seed)
    image = np.empty((80, 100, 3))
    image[:] = GREEN
    image[:20] = RED
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    box = np.array([20, 20, 80, 60])
    ring = np.ones((80, 100), bool)
    ring[box_slices(box)] = False
    return image, box, ring


def test_ring_background_follows_the_nearest_side() -> None:
    image, box, ring = top_red_crop()
    image[22, 50] = image[57, 50] = RED  # near the box's top and near its bottom
    image[24, 50] = image[55, 50] = GREEN
    model = RingBackground.fit(image, box, ring)
    assert model is not None
    ll = model.log_likelihood
    assert ll.shape == ring.shape and ll.dtype == np.float32
    assert ll[22, 50] > ll[57, 50] + 0.5
    assert ll[55, 50] > ll[24, 50]
    assert ll[57, 50] < ll[55, 50]  # near the bottom, green is the background's colour


def test_ring_background_without_a_side_of_its_own() -> None:
    image, _, ring = top_red_crop()
    # The box flush with the crop's top: no top side, the others still model the ring.
    flush = np.array([20, 0, 80, 60])
    ring_flush = np.ones_like(ring)
    ring_flush[box_slices(flush)] = False
    assert RingBackground.fit(image, flush, ring_flush) is not None
    whole = np.array([0, 0, 100, 80])
    assert RingBackground.fit(image, whole, np.zeros_like(ring)) is None


# ----------------------------------------------------------------------------- tight-box helpers

LINES_CROSSED = [
    pytest.param((slice(4, 9), slice(10, 20)), 0.5 * (5 / 10 + 10 / 20), id="block"),
    pytest.param((slice(2, 12), slice(5, 25)), 1.0, id="full-box"),
    pytest.param((slice(7, 8), slice(24, 25)), 0.5 * (1 / 10 + 1 / 20), id="one-pixel"),
    pytest.param((slice(0, 0), slice(0, 0)), 0.0, id="nothing-inside"),
]


@pytest.mark.parametrize(("inside", "expected"), LINES_CROSSED)
def test_lines_crossed_counts_rows_and_columns_with_foreground(
    inside: tuple[slice, slice], expected: float
) -> None:
    foreground = np.zeros((20, 30), bool)
    box = np.array([5, 2, 25, 12])  # 10 rows, 20 columns
    foreground[15, :] = True  # outside the box: never counted
    foreground[:, 27] = True
    foreground[inside] = True
    assert lines_crossed(foreground, box) == pytest.approx(expected)


def test_lines_crossed_of_an_empty_box() -> None:
    assert lines_crossed(np.ones((10, 10), bool), np.array([4, 4, 4, 8])) == 0.0


UNCROSSED = [
    # Box (h, w); 3% slack rounds to (3, 6) rows/columns at each end for 100x200, (0, 1) for 10x20.
    pytest.param((100, 200), None, np.arange(3, 97), np.arange(6, 194), id="empty-100x200"),
    pytest.param((10, 20), None, np.arange(10), np.arange(1, 19), id="empty-10x20"),
    pytest.param(
        (100, 200),
        (slice(20, 30), slice(50, 60)),
        np.r_[3:20, 30:97],
        np.r_[6:50, 60:194],
        id="block-100x200",
    ),
    pytest.param((100, 200), (slice(0, 100), slice(0, 200)), [], [], id="full-100x200"),
]


@pytest.mark.parametrize(("size", "inside", "rows", "cols"), UNCROSSED)
def test_uncrossed_lines_leave_out_the_slack(
    size: tuple[int, int], inside: tuple[slice, slice] | None, rows, cols
) -> None:
    h, w = size
    foreground = np.zeros((h + 10, w + 20), bool)
    foreground[:4] = True  # above the box: never counted
    box = np.array([7, 5, 7 + w, 5 + h])
    if inside is not None:
        foreground[5:, 7:][inside] = True
    got_rows, got_cols = uncrossed_lines(foreground, box)
    np.testing.assert_array_equal(got_rows, rows)
    np.testing.assert_array_equal(got_cols, cols)


def test_pins_take_each_lines_best_allowed_pixel() -> None:
    score = np.array(
        [
            [0.0, 5.0, 1.0, 2.0, 3.0],
            [-np.inf, -np.inf, -np.inf, -np.inf, -np.inf],
            [9.0, -np.inf, 4.0, -1.0, 8.0],
            [1.0, 7.0, -np.inf, -np.inf, 6.0],
        ]
    )
    score[:, 3] = -np.inf
    ys, xs = pins(score, rows=np.array([0, 1, 2]), cols=np.array([1, 3, 4]))
    # Row 1 and column 3 allow nothing: no pin there.
    assert list(zip(ys.tolist(), xs.tolist(), strict=True)) == [
        (0, 1),
        (2, 0),
        (3, 1),
        (2, 4),
    ]
    assert ys.dtype == np.int64 and xs.dtype == np.int64
    none_y, none_x = pins(score, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert none_y.shape == none_x.shape == (0,)


def test_box_slices_are_rows_then_columns() -> None:
    assert box_slices(np.array([5.0, 2.0, 25.0, 12.0])) == (slice(2, 12), slice(5, 25))


# ----------------------------------------------------------------------------- tight-box cut

H, W = 120, 160
BOX = np.array([50, 20, 110, 100], np.float32)  # XYXY: 60 wide, 80 tall, split by the bands
OBJECT_COLOUR = (220, 60, 60)
BACKGROUNDS = {
    # Sky over ground, the horizon crossing the box: the background inside the box continues
    # the two sides.
    "bands": ((90, 140, 220), (120, 90, 50), "rows"),
    "halves": ((90, 140, 220), (60, 150, 70), "cols"),
}


def person(box: np.ndarray) -> np.ndarray:
    """Head, arms spanning the box, torso and two legs: about 37% of its tight box."""
    x0, y0, x1, y1 = (int(v) for v in box)
    bw, bh, cx = x1 - x0, y1 - y0, (x0 + x1) // 2
    mask = np.zeros((H, W), np.uint8)
    cv2.circle(mask, (cx, y0 + bh // 8), bh // 8, 1, -1)
    cv2.rectangle(mask, (cx - bw // 5, y0 + bh // 4), (cx + bw // 5, y0 + int(0.6 * bh)), 1, -1)
    cv2.rectangle(mask, (x0, y0 + bh // 4), (x1 - 1, y0 + bh // 4 + bh // 12), 1, -1)
    leg_top = y0 + int(0.6 * bh)
    cv2.rectangle(mask, (cx - bw // 5, leg_top), (cx - bw // 5 + bw // 8, y1 - 1), 1, -1)
    cv2.rectangle(mask, (cx + bw // 5 - bw // 8, leg_top), (cx + bw // 5, y1 - 1), 1, -1)
    return mask.astype(bool)


def letter_l(box: np.ndarray) -> np.ndarray:
    """An L: a bar down the box's left fifth, a bar along its bottom fifth (36%)."""
    x0, y0, x1, y1 = (int(v) for v in box)
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0 : x0 + (x1 - x0) // 5] = True
    mask[y1 - (y1 - y0) // 5 : y1, x0:x1] = True
    return mask


def textured(rng: np.random.Generator, colour: tuple[int, int, int], period: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    stripes = 12 * np.sin(2 * np.pi * (xx + 0.5 * yy) / period)[..., None]
    return np.asarray(colour, np.float64) + stripes + rng.normal(0, 8, (H, W, 3))


def paint(
    background: str, layers: list[tuple[np.ndarray, tuple[int, int, int]]], seed: int = 0
) -> np.ndarray:
    """A two-part textured background with textured layers over it; uint8 RGB."""
    rng = np.random.default_rng(seed)
    first, second, split = BACKGROUNDS[background]
    image = textured(rng, first, 23)
    rest = np.zeros((H, W), bool)
    if split == "rows":
        rest[H // 2 :] = True
    else:
        rest[:, W // 2 :] = True
    image[rest] = textured(rng, second, 17)[rest]
    for mask, colour in layers:
        image[mask] = textured(rng, colour, 11)[mask]
    return np.clip(image, 0, 255).astype(np.uint8)


def window(rows: slice, cols: slice) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[rows, cols] = True
    return mask


def cut_on_work_region(
    image: np.ndarray, prompt: ObjectPrompt, truths: list[np.ndarray]
) -> tuple[CutResult | None, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Plan the region and build the trimap as the engine does, then cut.

    Returns:
        The cut, the trimap, the box in work pixels and ``truths`` cropped to the region.
    """
    settings = ClassicSettings()
    region = plan_region(prompt, (H, W), settings)
    assert region is not None and region.scale == 1.0  # work pixels are source pixels here
    work = region.crop(image)
    trimap, box = build_trimap(prompt, region, settings, work)
    assert box is not None
    result = cut_box(work, trimap, box, settings.box_smoothness, tight=True)
    cropped = [region.crop(t.astype(np.uint8), cv2.INTER_NEAREST) > 0 for t in truths]
    return result, trimap, box, cropped


@pytest.mark.parametrize("background", sorted(BACKGROUNDS))
@pytest.mark.parametrize("shape", [person, letter_l], ids=["person", "L"])
def test_tight_box_cut_recovers_a_sparse_object(shape, background: str) -> None:
    obj = shape(BOX)
    assert 0.3 <= obj[box_slices(BOX)].mean() <= 0.4
    image = paint(background, [(obj, OBJECT_COLOUR)])
    result, _, _, (truth,) = cut_on_work_region(image, ObjectPrompt(box=BOX), [obj])
    assert result is not None
    assert iou(result.foreground, truth) >= 0.9


# A window through the torso (rows 40..68, columns 68..92) and a bag on it.
TORSO_HOLE = window(slice(44, 54), slice(74, 86))
NEGATIVE_CLICK_IN_TORSO = ObjectPrompt(
    box=BOX, points=np.array([[80, 49]], np.float32), point_labels=np.array([0])
)


def test_enclosed_background_is_filled() -> None:
    obj = person(BOX) & ~TORSO_HOLE
    image = paint("bands", [(obj, OBJECT_COLOUR)])
    result, _, _, (truth, hole) = cut_on_work_region(
        image, ObjectPrompt(box=BOX), [obj, TORSO_HOLE]
    )
    assert result is not None
    foreground = result.foreground
    assert foreground[hole].all()
    assert iou(foreground, truth | hole) >= 0.9


def test_enclosed_background_holding_a_negative_click_stays_a_hole() -> None:
    obj = person(BOX) & ~TORSO_HOLE
    image = paint("bands", [(obj, OBJECT_COLOUR)])
    result, trimap, _, (truth, hole) = cut_on_work_region(
        image, NEGATIVE_CLICK_IN_TORSO, [obj, TORSO_HOLE]
    )
    assert result is not None
    foreground = result.foreground
    # The click's similar-colour patch lies in the hole and does not leak into the object.
    assert (trimap[hole] == cv2.GC_BGD).any() and not (trimap[truth] == cv2.GC_BGD).any()
    inner = cv2.erode(hole.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert not foreground[inner].any()
    assert iou(foreground, truth) >= 0.9


def test_negative_click_patch_inside_the_box_stays_background() -> None:
    obj = person(BOX)
    bag_colour = (230, 210, 60)
    image = paint("bands", [(obj, OBJECT_COLOUR), (TORSO_HOLE, bag_colour)])
    result, trimap, _, (truth, bag) = cut_on_work_region(
        image, NEGATIVE_CLICK_IN_TORSO, [obj, TORSO_HOLE]
    )
    assert result is not None
    foreground = result.foreground
    patch = (trimap == cv2.GC_BGD) & (cv2.erode(bag.astype(np.uint8), np.ones((3, 3))) > 0)
    assert patch.sum() >= 0.5 * bag.sum()  # the click's patch covers the bag
    assert not foreground[trimap == cv2.GC_BGD].any()
    assert iou(foreground, truth & ~bag) >= 0.9


@pytest.mark.parametrize(("side", "expected_none"), [(50, True), (51, False), (80, False)])
def test_tight_box_cut_needs_a_ring_of_200_pixels(side: int, expected_none: bool) -> None:
    # A side x (side + 1) crop with a one-pixel ring around its box: 4 * side - 2 ring pixels
    # (198 and 202); the 80 crop gets a wide ring.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (side, side + 1, 3)).astype(np.uint8)
    box = np.array([1, 1, side, side - 1]) if side < 80 else np.array([20, 20, 60, 60])
    trimap = np.full((side, side + 1), cv2.GC_BGD, np.uint8)
    trimap[box_slices(box)] = cv2.GC_PR_FGD
    ring = int((trimap == cv2.GC_BGD).sum())
    assert (ring < 200) == expected_none, ring
    result = cut_box(image, trimap, box, smoothness=25.0, tight=True)
    assert (result is None) == expected_none


def test_pins_make_the_cut_cross_every_line_of_the_box() -> None:
    # Legs coloured like the ground they stand on: the first cut drops them, leaving the box's
    # lower rows uncrossed; the tight-box constraint pins a pixel on each.
    obj = person(BOX)
    legs = obj & window(slice(68, 100), slice(0, W))
    image = paint("bands", [(obj & ~legs, OBJECT_COLOUR), (legs, (125, 92, 55))])
    result, _, box, _ = cut_on_work_region(image, ObjectPrompt(box=BOX), [])
    assert result is not None
    assert result.box_crossed is not None and result.box_crossed < 0.9  # before the pins
    rows, cols = uncrossed_lines(result.foreground, box)
    assert len(rows) == 0 and len(cols) == 0


def record_cuts(monkeypatch: pytest.MonkeyPatch, name: str) -> list[CutResult | None]:
    """Make ``candidates.<name>`` record what each of its calls returned."""
    original = getattr(candidates, name)
    results: list[CutResult | None] = []

    def recorded(*args, **kwargs) -> CutResult | None:
        results.append(original(*args, **kwargs))
        return results[-1]

    monkeypatch.setattr(candidates, name, recorded)
    return results


def decode_single(image: np.ndarray, prompt: ObjectPrompt) -> np.ndarray:
    engine = ClassicEngine()
    features = engine.embed(torch.from_numpy(image)[None])[0]
    return engine.decode(features, [prompt], multimask=False).masks[0, 0].numpy()


def test_engine_decodes_a_box_through_the_tight_box_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    cuts = record_cuts(monkeypatch, "cut_box")
    obj = person(BOX)
    mask = decode_single(paint("bands", [(obj, OBJECT_COLOUR)], seed=3), ObjectPrompt(box=BOX))
    assert iou(mask, obj) >= 0.9
    # The engine kept the tight-box cut: it crossed enough of the box not to fall back to grabCut.
    assert len(cuts) == 1 and cuts[0] is not None and cuts[0].box_crossed >= 0.5


# ---------------------------------------------------------------------------------------------
# The cut from a mask prior (the tracker's previous mask, carried forward by motion)


def prior_trimap(image: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, np.ndarray, WorkRegion]:
    """The work crop and trimap the engine builds for a mask prompt, and its region."""
    settings = ClassicSettings()
    prompt = ObjectPrompt(mask=prior.astype(np.float32))
    region = plan_region(prompt, (H, W), settings)
    assert region is not None and region.scale == 1.0
    work = region.crop(image)
    trimap, _ = build_trimap(prompt, region, settings, work)
    return work, trimap, region


# Shifts up to the core's erosion (a tenth of the object's radius, ~2.4 px here): beyond it the
# core takes in background beside the limbs and the object model learns its colour.
@pytest.mark.parametrize("shift", [(0, 0), (4, 0), (0, -2), (2, 2)])
@pytest.mark.parametrize("background", sorted(BACKGROUNDS))
def test_cut_with_prior_snaps_a_moved_prior_to_the_object(
    shift: tuple[int, int], background: str
) -> None:
    # The object moved a few pixels since the prior was made (the tracker's motion estimate is
    # off by that much): its core still lies on the object, and the cut follows the object.
    obj = person(BOX)
    prior = np.roll(obj, shift, axis=(0, 1))
    image = paint(background, [(obj, OBJECT_COLOUR)])
    work, trimap, region = prior_trimap(image, prior)
    result = cut_with_prior(work, trimap, smoothness=15.0)
    assert result is not None
    truth = region.crop(obj.astype(np.uint8), cv2.INTER_NEAREST) > 0
    moved = region.crop(prior.astype(np.uint8), cv2.INTER_NEAREST) > 0
    assert iou(result.foreground, truth) >= 0.9
    if shift != (0, 0):
        assert iou(result.foreground, truth) > iou(moved, truth)


def test_cut_with_prior_needs_a_core_and_a_ring() -> None:
    image = paint("bands", [(person(BOX), OBJECT_COLOUR)])
    trimap = np.full((H, W), cv2.GC_BGD, np.uint8)
    trimap[box_slices(BOX)] = cv2.GC_PR_FGD  # a body but no sure core
    assert cut_with_prior(image, trimap, smoothness=15.0) is None
    trimap[50:60, 70:80] = cv2.GC_FGD
    assert cut_with_prior(image, trimap, smoothness=15.0) is not None
    everything = np.full((H, W), cv2.GC_PR_FGD, np.uint8)  # no ring at all
    everything[50:60, 70:80] = cv2.GC_FGD
    assert cut_with_prior(image, everything, smoothness=15.0) is None


def test_engine_decodes_a_mask_prompt_through_the_prior_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cuts = record_cuts(monkeypatch, "cut_with_prior")
    obj = person(BOX)
    prompt = ObjectPrompt(mask=np.roll(obj, (3, 2), axis=(0, 1)).astype(np.float32))
    mask = decode_single(paint("halves", [(obj, OBJECT_COLOUR)], seed=5), prompt)
    assert len(cuts) == 1 and cuts[0] is not None
    assert iou(mask, obj) >= 0.9
