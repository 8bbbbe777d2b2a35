"""Motion as evidence of where an object is: pixels moving with it versus with its surroundings.

Colour cannot tell an object from background that shares its colours (a horse in front of a
wooden fence), but where the two move differently — a moving object before a still or panning
camera — the optical flow can. Around a tracked object, the flow inside its warped mask gives
the object's motion and the flow in the ring around it the background's. When the two differ
clearly, a pixel whose own flow matches the background's is likely background. The cue is
one-sided: limbs and spinning parts move in every other way, and the flow smears the object's
motion over the background right around it, so moving otherwise proves nothing. Where the two
motions are alike (a still object, a camera following it exactly) the cue says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from segany_video.tracking.boxes import Box, intersection
from segany_video.tracking.motion import FlowField

# The ring must hold this many low-res flow pixels for the background motion to be measured.
_MIN_RING = 20
# The object's own flow must come from at least this many low-res pixels.
_MIN_OBJECT = 4
# Low-res cells of surroundings read around a mask's parts.
_MARGIN = 4


class MotionCue:
    """Per-pixel likelihood of being the object, from one frame's flow.

    Args:
        flow: backward flow of the current frame.
        confidence: how sure a pixel moving exactly as the background does is background:
            likelihoods stay within ``[1 - confidence, 0.5]`` (0.5 = the cue is off).
        sigma: flow noise in source pixels; motions closer than about this are not told apart.
        others: other followed objects, each its motion (``(2,)`` source pixels) and a box
            holding it: where one of them meets the crop, a pixel moving as it does, against
            this object, is likely that object (a duck's wing before a walker).
    """

    def __init__(
        self,
        flow: FlowField,
        confidence: float,
        sigma: float,
        others: Sequence[tuple[np.ndarray, Box]] = (),
    ) -> None:
        self.flow = flow
        self.confidence = confidence
        self.sigma = sigma
        self.others = list(others)

    def region(self, x0: int, y0: int, x1: int, y1: int, inside: np.ndarray) -> np.ndarray | None:
        """Likelihood over the crop ``[y0:y1, x0:x1]`` of source pixels.

        Args:
            inside: ``(y1 - y0, x1 - x0)`` bool, where the object is expected on this frame.

        Returns:
            ``(y1 - y0, x1 - x0)`` float32 in ``[1 - confidence, 0.5]``, or None when the crop
            holds too little of the object or of its surroundings to compare motions, or the
            object moves clearly against neither its surroundings nor a nearby object.
        """
        vectors, (lx0, ly0, lx1, ly1), (sx, sy) = flow_cells(self.flow, (x0, y0, x1, y1))
        low_inside = cv2.resize(
            inside.astype(np.uint8), (lx1 - lx0, ly1 - ly0), interpolation=cv2.INTER_AREA
        )
        # The flow blurs across the object's outline: the ring starts a few pixels out.
        grown = cv2.dilate(low_inside, np.ones((5, 5), np.uint8))
        motions = median_motions(vectors[low_inside > 0], vectors[grown == 0])
        if motions is None:
            return None
        moving, still, _ = motions
        # Only an object clearly moving against its surroundings (or a nearby object) lets
        # motion speak; then a pixel moving as they do is likely theirs. Parts of the object
        # may move in any other way (limbs, spin), so moving otherwise is no evidence.
        drop = np.zeros(vectors.shape[:2], dtype=np.float32)
        nearby = [m for m, box in self.others if intersection(box, (x0, y0, x1, y1))]
        for reference in [still, *nearby]:
            separation = float(np.hypot(*(moving - reference)))
            strength = float(np.clip(separation / (2.0 * self.sigma) - 1.0, 0.0, 1.0))
            if strength == 0.0:
                continue
            spread = max(self.sigma, 0.25 * separation)
            alike = np.exp(-np.square(vectors - reference).sum(axis=-1) / (2.0 * spread * spread))
            drop = np.maximum(drop, (self.confidence - 0.5) * strength * alike)
        if not drop.any():
            return None
        likelihood = (0.5 - drop).astype(np.float32)
        # Back to source pixels of the crop (the low-res cells cover a slightly larger area).
        up = cv2.resize(
            likelihood,
            (round((lx1 - lx0) / sx), round((ly1 - ly0) / sy)),
            interpolation=cv2.INTER_LINEAR,
        )
        ox, oy = x0 - round(lx0 / sx), y0 - round(ly0 / sy)
        out = np.full((y1 - y0, x1 - x0), 0.5, dtype=np.float32)
        patch = up[oy : oy + (y1 - y0), ox : ox + (x1 - x0)]
        out[: patch.shape[0], : patch.shape[1]] = patch
        return out


class PartMotion:
    """Which parts of a mask move as its largest part (the body) does, and which as its
    surroundings do.

    A part cut off from the body by a thin occluder (a post in front of a walker, the lines of a
    paraglider) moves with the body; a blob broken off a leak rides on the background's flow.
    Only when the body clearly moves against its surroundings (more than ``2 * sigma``) can the
    two be told apart; a part then moves with one of them when its flow is nearer that one's
    than half the gap between the two.

    Args:
        flow: backward flow of the current frame.
        sigma: flow noise in source pixels (as :class:`MotionCue`).
    """

    WITH_BODY = 1
    WITH_SURROUNDINGS = -1

    def __init__(self, flow: FlowField, sigma: float) -> None:
        self.flow = flow
        self.sigma = sigma

    def __call__(self, labels: np.ndarray, body: int, box: tuple[int, int, int, int]) -> np.ndarray:
        """``(count,)`` int8: per label of ``labels`` (parts of a mask, 0 = not the mask, a crop
        of the frame at ``box``), :data:`WITH_BODY` when it moves with part ``body``,
        :data:`WITH_SURROUNDINGS` when it moves as the surroundings do, 0 when motion cannot
        tell (and for the body and label 0)."""
        count = int(labels.max()) + 1
        verdict = np.zeros(count, dtype=np.int8)
        # The crop's low-res cells, grown by a margin of surroundings.
        vectors, cell_box, scales = flow_cells(self.flow, box, _MARGIN)
        cells = labels_on_cells(labels, box, cell_box, scales)
        motions = body_against_surroundings(vectors, cells, body)
        if motions is None or motions[2] < 2.0 * self.sigma:
            return verdict
        moving, still, separation = motions
        for label in range(1, count):
            part = vectors[cells == label]
            if label == body or len(part) < _MIN_OBJECT:
                continue
            median = np.median(part, axis=0)
            if float(np.hypot(*(median - moving))) < 0.5 * separation:
                verdict[label] = self.WITH_BODY
            elif float(np.hypot(*(median - still))) < 0.5 * separation:
                verdict[label] = self.WITH_SURROUNDINGS
        return verdict


def object_motion(flow: FlowField, mask: np.ndarray, box: Box | None) -> np.ndarray | None:
    """Median flow (source pixels) over the cells of ``mask`` (its tight ``box``), or None
    when it covers too few cells."""
    if box is None:
        return None
    vectors, cell_box, scales = flow_cells(flow, box)
    cells = labels_on_cells(mask[box[1] : box[3], box[0] : box[2]], box, cell_box, scales)
    own = vectors[cells > 0]
    return np.median(own, axis=0) if len(own) >= _MIN_OBJECT else None


def motion_against_ring(flow: FlowField, mask: np.ndarray, box: Box | None) -> float | None:
    """How far the object's flow strays from its surroundings' median motion: the 98th
    percentile over the cells of ``mask`` (tight ``box``), in source pixels. None when the
    object or its surroundings cover too few cells to tell."""
    if box is None:
        return None
    vectors, cell_box, scales = flow_cells(flow, box, _MARGIN)
    cells = labels_on_cells(mask[box[1] : box[3], box[0] : box[2]], box, cell_box, scales)
    own, ring = _own_and_ring(vectors, cells, 1)
    if len(own) < _MIN_OBJECT or len(ring) < _MIN_RING:
        return None
    return float(np.percentile(np.hypot(*(own - np.median(ring, axis=0)).T), 98))


def flow_cells(
    flow: FlowField, box: tuple[int, int, int, int], margin: int = 0
) -> tuple[np.ndarray, tuple[int, int, int, int], tuple[float, float]]:
    """The flow's low-res cells covering the source crop ``box`` grown by ``margin`` cells
    (clipped to the field): their displacements in source pixels (so sigma means the same at
    any flow scale), the cells' box, and the source-to-low-res scales ``(sx, sy)``."""
    full_h, full_w = flow.frame_size
    low_h, low_w = flow.flow.shape[:2]
    sx, sy = low_w / full_w, low_h / full_h
    x0, y0, x1, y1 = box
    lx0, ly0 = max(0, int(np.floor(x0 * sx)) - margin), max(0, int(np.floor(y0 * sy)) - margin)
    lx1 = max(lx0 + 1, min(low_w, int(np.ceil(x1 * sx)) + margin))
    ly1 = max(ly0 + 1, min(low_h, int(np.ceil(y1 * sy)) + margin))
    vectors = flow.flow[ly0:ly1, lx0:lx1] * np.array([1 / sx, 1 / sy], np.float32)
    return vectors, (lx0, ly0, lx1, ly1), (sx, sy)


def labels_on_cells(
    labels: np.ndarray,
    box: tuple[int, int, int, int],
    cell_box: tuple[int, int, int, int],
    scales: tuple[float, float],
) -> np.ndarray:
    """The labels of a crop of source pixels at ``box`` (0 = none) on the flow cells of
    ``cell_box`` (from :func:`flow_cells`): each cell takes the label of a pixel inside it."""
    x0, y0 = box[:2]
    lx0, ly0, lx1, ly1 = cell_box
    sx, sy = scales
    cells = np.zeros((ly1 - ly0, lx1 - lx0), dtype=labels.dtype)
    ys, xs = np.nonzero(labels)
    cy = np.clip(((ys + y0 + 0.5) * sy).astype(np.int64) - ly0, 0, ly1 - ly0 - 1)
    cx = np.clip(((xs + x0 + 0.5) * sx).astype(np.int64) - lx0, 0, lx1 - lx0 - 1)
    cells[cy, cx] = labels[ys, xs]
    return cells


def body_against_surroundings(
    vectors: np.ndarray, cells: np.ndarray, body: int
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """:func:`median_motions` of the cells labelled ``body`` and of the unlabelled cells a few
    cells away from any label (the flow blurs across an outline)."""
    return median_motions(*_own_and_ring(vectors, cells, body))


def _own_and_ring(
    vectors: np.ndarray, cells: np.ndarray, label: int
) -> tuple[np.ndarray, np.ndarray]:
    """The flow vectors of the cells labelled ``label``, and of the unlabelled cells a few cells
    away from any label (the flow blurs across an outline: the surroundings start there)."""
    near = cv2.dilate((cells > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    return vectors[cells == label], vectors[~near]


def median_motions(
    own: np.ndarray, ring: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Median flow of an object and of its surroundings, and the distance between them; None
    when either has too few flow vectors to tell."""
    if len(own) < _MIN_OBJECT or len(ring) < _MIN_RING:
        return None
    moving, still = np.median(own, axis=0), np.median(ring, axis=0)
    return moving, still, float(np.hypot(*(moving - still)))
