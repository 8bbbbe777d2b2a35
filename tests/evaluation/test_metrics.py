"""J and F on shapes whose scores are known by hand, and against independent oracles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from scipy import ndimage

from segany_video.evaluation.davis_data import open_sequence
from segany_video.evaluation.metrics import (
    SequenceScores,
    boundary_f_measure,
    boundary_map,
    boundary_tolerance,
    mean_over_sequences,
    region_similarity,
    score_sequence,
)

H, W = 100, 120


def square(x0: int, y0: int, side: int, shape: tuple[int, int] = (H, W)) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[y0 : y0 + side, x0 : x0 + side] = True
    return mask


# ---- J -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (square(10, 10, 20), square(10, 10, 20), 1.0),
        (square(10, 10, 20), square(60, 60, 20), 0.0),
        (np.zeros((H, W), bool), np.zeros((H, W), bool), 1.0),
        (np.zeros((H, W), bool), square(10, 10, 20), 0.0),
        # 20x20 squares overlapping by half: I = 200, U = 600
        (square(10, 10, 20), square(20, 10, 20), 1 / 3),
        # nested: 10x10 inside 20x20
        (square(15, 15, 10), square(10, 10, 20), 100 / 400),
    ],
    ids=["identical", "disjoint", "both-empty", "one-empty", "half-overlap", "nested"],
)
def test_region_similarity_known_values(pred: np.ndarray, gt: np.ndarray, expected: float) -> None:
    assert region_similarity(pred, gt) == pytest.approx(expected)


def test_region_similarity_matches_pycocotools_on_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        # smooth random blobs so the masks look like objects, not salt-and-pepper noise
        a = ndimage.gaussian_filter(rng.random((H, W)), 4) > 0.5
        b = ndimage.gaussian_filter(rng.random((H, W)), 4) > 0.5
        rle_a = mask_utils.encode(np.asfortranarray(a.astype(np.uint8)))
        rle_b = mask_utils.encode(np.asfortranarray(b.astype(np.uint8)))
        expected = mask_utils.iou([rle_a], [rle_b], [0])[0, 0]
        if not a.any() and not b.any():
            expected = 1.0
        assert region_similarity(a, b) == pytest.approx(expected, abs=1e-12)


def test_region_similarity_rejects_size_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in size"):
        region_similarity(np.zeros((4, 5), bool), np.zeros((5, 4), bool))


# ---- boundaries and F ----------------------------------------------------------------------


def test_boundary_map_of_square_is_its_one_pixel_ring() -> None:
    ring = boundary_map(square(10, 20, 30))
    assert ring.sum() == 4 * 30 - 4
    assert ring[20, 10:40].all() and ring[49, 10:40].all()
    assert ring[20:50, 10].all() and ring[20:50, 39].all()
    assert not ring[21:49, 11:39].any()


def test_frame_border_is_not_a_contour() -> None:
    # a square cut by the left edge: its contour has three sides only
    ring = boundary_map(square(0, 20, 30))
    assert not ring[21:49, 0].any()
    assert ring.sum() == 30 + 30 + 28


def test_tolerance_is_diagonal_fraction_rounded_up() -> None:
    assert boundary_tolerance(480, 854) == 8  # DAVIS 480p: 0.008 * 979.7 = 7.84
    assert boundary_tolerance(100, 100, 0.02) == 3  # 2.83
    assert boundary_tolerance(100, 100, 5) == 5  # >= 1 means pixels


@pytest.mark.parametrize(
    ("pred", "gt", "expected"),
    [
        (square(10, 10, 40), square(10, 10, 40), 1.0),
        (square(5, 5, 20), square(70, 60, 20), 0.0),
        (np.zeros((H, W), bool), np.zeros((H, W), bool), 1.0),
        (square(5, 5, 20), np.zeros((H, W), bool), 0.0),
        (np.zeros((H, W), bool), square(5, 5, 20), 0.0),
        (np.ones((H, W), bool), np.ones((H, W), bool), 1.0),
    ],
    ids=["identical", "far-apart", "both-empty", "pred-only", "gt-only", "both-full"],
)
def test_f_known_values(pred: np.ndarray, gt: np.ndarray, expected: float) -> None:
    assert boundary_f_measure(pred, gt, bound_th=3) == pytest.approx(expected)


@pytest.mark.parametrize("shift", [1, 2, 3])
def test_f_shift_within_tolerance_is_perfect(shift: int) -> None:
    # every contour pixel of the shifted square lies within `shift` pixels of the other contour
    gt = square(30, 30, 40)
    pred = square(30 + shift, 30, 40)
    assert boundary_f_measure(pred, gt, bound_th=3) == 1.0
    assert region_similarity(pred, gt) == pytest.approx((40 - shift) / (40 + shift))


@pytest.mark.parametrize(("shift", "tol"), [(8, 3), (6, 2), (10, 4)])
def test_f_shift_beyond_tolerance_matches_hand_count(shift: int, tol: int) -> None:
    # Square of side s shifted right by k > r. Unmatched contour pixels of the shifted square:
    # k - r on each of the top and bottom rows (past the other square's right side), the whole
    # right column (s - 2 between the corners), and the left column except r pixels near each
    # end (s - 2 - 2r). By symmetry recall equals precision, so F equals both.
    s = 40
    gt = square(20, 30, s)
    pred = square(20 + shift, 30, s)
    unmatched = 2 * (shift - tol) + (s - 2) + (s - 2 - 2 * tol)
    expected = 1 - unmatched / (4 * s - 4)
    assert boundary_f_measure(pred, gt, bound_th=tol) == pytest.approx(expected)


@pytest.mark.parametrize(("gap", "expected"), [(2, 1.0), (4, 0.0), (6, 0.0)])
def test_f_nested_squares_all_or_nothing(gap: int, expected: float) -> None:
    # contours of nested squares are `gap` pixels apart along the sides and gap*sqrt(2) at the
    # corners, so with tolerance 3 a gap of 2 matches everywhere (2.83 <= 3) and 4 nowhere
    outer = square(20, 20, 50)
    inner = square(20 + gap, 20 + gap, 50 - 2 * gap)
    assert boundary_f_measure(inner, outer, bound_th=3) == expected


def test_f_nested_squares_gap_at_tolerance_misses_outer_corners() -> None:
    # gap 3 = tolerance: the inner contour is all matched (precision 1); on the outer contour
    # each corner pixel (4.24 away) and its two neighbours on each side (3.61, 3.16 away) are not,
    # 5 per corner, so recall = (196 - 20) / 196.
    outer = square(20, 20, 50)
    inner = square(23, 23, 44)
    recall = (196 - 20) / 196
    assert boundary_f_measure(inner, outer, bound_th=3) == pytest.approx(2 * recall / (1 + recall))


def _f_by_distance_transform(pred: np.ndarray, gt: np.ndarray, tol: int) -> float:
    """Independent oracle: Euclidean distance from each contour pixel to the other contour."""
    pred_b, gt_b = boundary_map(pred), boundary_map(gt)
    dist_to_gt = ndimage.distance_transform_edt(~gt_b)
    dist_to_pred = ndimage.distance_transform_edt(~pred_b)
    precision = (dist_to_gt[pred_b] <= tol).mean()
    recall = (dist_to_pred[gt_b] <= tol).mean()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def test_f_matches_distance_transform_oracle_on_random_blobs() -> None:
    rng = np.random.default_rng(1)
    for _ in range(10):
        gt = ndimage.gaussian_filter(rng.random((H, W)), 6) > 0.5
        noise = ndimage.gaussian_filter(rng.random((H, W)), 3) - 0.5
        pred = ndimage.gaussian_filter(gt.astype(float), 2) + 0.3 * noise > 0.5
        if not gt.any() or not pred.any():
            continue
        tol = boundary_tolerance(H, W)
        assert boundary_f_measure(pred, gt) == pytest.approx(
            _f_by_distance_transform(pred, gt, tol)
        )


# ---- sequences -----------------------------------------------------------------------------


def test_score_sequence_skips_first_and_last_frames() -> None:
    gt = [square(10, 10, 20)] * 5
    # first and last frames are wrong on purpose: they must not count
    preds = [np.zeros((H, W), bool), *gt[1:4], square(70, 70, 20)]
    scores = score_sequence(iter(preds), iter(gt), name="toy")
    assert isinstance(scores, SequenceScores)
    assert scores.num_frames == 5
    assert scores.j_per_frame[0] == 0.0 and scores.j_per_frame[-1] == 0.0
    assert scores.j_mean == 1.0 and scores.f_mean == 1.0 and scores.jf_mean == 1.0


def test_score_sequence_means() -> None:
    gt = [square(10, 10, 20)] * 4
    preds = [gt[0], square(20, 10, 20), gt[2], gt[3]]  # frame 1: J = 1/3, F < 1
    scores = score_sequence(preds, gt, bound_th=3)
    f1 = boundary_f_measure(preds[1], gt[1], bound_th=3)
    assert scores.j_mean == pytest.approx((1 / 3 + 1) / 2)
    assert scores.f_mean == pytest.approx((f1 + 1) / 2)
    assert scores.jf_mean == pytest.approx((scores.j_mean + scores.f_mean) / 2)


@pytest.mark.parametrize(
    ("preds", "gts", "match"),
    [
        ([np.zeros((4, 4), bool)] * 3, [np.zeros((4, 4), bool)] * 4, "predictions ended after 3"),
        ([np.zeros((4, 4), bool)] * 4, [np.zeros((4, 4), bool)] * 3, "ground truth ended"),
        ([np.zeros((4, 4), bool)] * 2, [np.zeros((4, 4), bool)] * 2, "need at least 3"),
        ([np.zeros((4, 4), bool)] * 3, [np.zeros((4, 5), bool)] * 3, "frame 0"),
    ],
    ids=["short-preds", "short-gt", "too-few", "size-mismatch"],
)
def test_score_sequence_rejects_bad_input(preds: list, gts: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        score_sequence(preds, gts, name="bad")


def test_mean_over_sequences_weighs_sequences_equally() -> None:
    gt = square(10, 10, 20)
    good = score_sequence([gt] * 3, [gt] * 3, name="good")
    bad = score_sequence([gt] * 10, [np.zeros((H, W), bool)] * 10, name="bad")
    summary = mean_over_sequences([good, bad])
    assert summary.num_sequences == 2
    assert summary.j_mean == 0.5 and summary.f_mean == 0.5 and summary.jf_mean == 0.5
    with pytest.raises(ValueError):
        mean_over_sequences([])


@pytest.mark.real_data
def test_real_davis_sequence_scores_itself_perfectly_and_nothing_as_zero(davis_root: Path) -> None:
    seq = open_sequence(davis_root, "rollerblade")  # the shortest: 35 frames
    perfect = score_sequence(seq.masks(), seq.masks(), name=seq.name)
    assert perfect.num_frames == 35 and perfect.jf_mean == 1.0
    empty = (np.zeros_like(m) for m in seq.masks())
    nothing = score_sequence(empty, seq.masks(), name=seq.name)
    assert nothing.j_mean == 0.0 and nothing.f_mean == 0.0
