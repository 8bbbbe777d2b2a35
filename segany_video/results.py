"""Per-frame tracking results: the value objects that flow from the tracker to the writers."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


class TrackState(str, enum.Enum):
    """Where a track stands on one frame."""

    PROMPTED = "prompted"  # the user's own prompt decided this frame (a keyframe)
    TRACKED = "tracked"  # followed from earlier (or later) frames
    LOST = "lost"  # not found on this frame; its mask is empty
    INACTIVE = "inactive"  # before the object's first keyframe with no backward result


@dataclass(frozen=True)
class ObjectResult:
    """One object on one frame.

    Attributes:
        object_id: the user's id (int or name), stable for the whole video.
        mask: ``(H, W)`` bool at source-frame size (all False when lost or inactive).
        box: ``(4,)`` float32 ``XYXY`` tight box of the mask in pixels, or None when empty.
        score: quality in ``[0, 1]`` (0 when lost).
        state: the track's state on this frame.
    """

    object_id: int | str
    mask: np.ndarray
    box: np.ndarray | None
    score: float
    state: TrackState


@dataclass(frozen=True)
class FrameResult:
    """All objects on one frame, in the order of the prompts."""

    index: int
    timestamp: float  # seconds from PTS
    objects: Mapping[int | str, ObjectResult]

    def label_map(self) -> np.ndarray:
        """``(H, W)`` uint8, pixel = 1-based position of the object in ``objects``, 0 = none."""
        first = next(iter(self.objects.values()), None)
        if first is None:
            raise ValueError(f"frame {self.index} has no objects to draw a label map from")
        labels = np.zeros(first.mask.shape, dtype=np.uint8)
        for slot, result in enumerate(self.objects.values(), start=1):
            labels[result.mask] = slot
        return labels


Box = tuple[int, int, int, int]  # XYXY pixel edges: the pixels mask[y0:y1, x0:x1]


def tight_box(mask: np.ndarray, within: Box | None = None) -> Box | None:
    """The smallest box holding every True pixel of ``mask``, or None when there is none.

    Args:
        mask: ``(H, W)`` bool.
        within: a box known to hold every True pixel (only it is scanned); None for the frame.

    Returns:
        ``(x0, y0, x1, y1)`` ints in frame pixels, ``XYXY`` edges (a single pixel at (x, y)
        gives ``(x, y, x+1, y+1)``).
    """
    x0, y0 = (0, 0) if within is None else within[:2]
    crop = mask if within is None else mask[within[1] : within[3], within[0] : within[2]]
    rows = np.flatnonzero(crop.any(axis=1))
    if len(rows) == 0:
        return None
    # Columns need scanning only in the rows the mask occupies.
    cols = np.flatnonzero(crop[rows[0] : rows[-1] + 1].any(axis=0))
    return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1


def mask_box(mask: np.ndarray) -> np.ndarray | None:
    """:func:`tight_box` as ``(4,)`` float32 ``XYXY``, the form prompts and outputs carry."""
    box = tight_box(mask)
    return None if box is None else np.array(box, dtype=np.float32)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of masks, pairwise over the leading axes.

    Args:
        a, b: ``(..., H, W)`` masks of the same shape (nonzero is foreground).

    Returns:
        ``(...)`` float64 IoUs in ``[0, 1]`` (0-d for one pair); 1.0 where both masks are empty
        (nothing to find, nothing found).
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    inter = np.count_nonzero(a & b, axis=(-2, -1))
    union = np.count_nonzero(a | b, axis=(-2, -1))
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)
