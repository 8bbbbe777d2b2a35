"""The contract every segmentation engine fulfils (SAM family and the classic engine).

The runtime calls :meth:`PromptableSegmenter.embed` on batches of frames, ahead of the tracker;
the tracker calls :meth:`PromptableSegmenter.decode` once per frame with the prompts of all its
objects. Coordinates are always pixels of the source frame: points ``(x, y)``, boxes ``XYXY``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from segany_video.errors import PromptError


@dataclass(frozen=True)
class ObjectPrompt:
    """The prompts for one object on one frame. At least one field must be set.

    Attributes:
        points: ``(P, 2)`` float32 ``(x, y)`` pixel coordinates, or None.
        point_labels: ``(P,)`` int64, 1 = foreground, 0 = background; required with ``points``.
        box: ``(4,)`` float32 ``XYXY`` in pixels, or None.
        mask: ``(H, W)`` float32 prior in ``[0, 1]`` at source-frame size (e.g. the previous mask
            warped by motion), or None.
        low_res_logits: ``(256, 256)`` float32 logits an engine returned for this object earlier
            (SAM's own mask-prompt format), or None. Engines that accept a dense prompt prefer it
            over ``mask`` when both are given.
    """

    points: np.ndarray | None = None
    point_labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = None
    low_res_logits: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.points is not None:
            pts = np.asarray(self.points, dtype=np.float32)
            if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
                raise PromptError(f"points must have shape (P, 2) with P >= 1, got {pts.shape}")
            labels = self.point_labels
            if labels is None:
                raise PromptError("points were given without point_labels")
            labels = np.asarray(labels, dtype=np.int64)
            if labels.shape != (len(pts),):
                raise PromptError(f"point_labels must have shape ({len(pts)},), got {labels.shape}")
            if not np.isin(labels, (0, 1)).all():
                found = sorted(set(labels.tolist()))
                raise PromptError(f"point labels must be 0 or 1, got {found}")
            object.__setattr__(self, "points", pts)
            object.__setattr__(self, "point_labels", labels)
        elif self.point_labels is not None:
            raise PromptError("point_labels were given without points")
        if self.box is not None:
            box = np.asarray(self.box, dtype=np.float32).reshape(-1)
            if box.shape != (4,):
                raise PromptError(f"box must have 4 values XYXY, got shape {box.shape}")
            if not (box[2] > box[0] and box[3] > box[1]):
                raise PromptError(f"box {box.tolist()} is degenerate: need x1 > x0 and y1 > y0")
            object.__setattr__(self, "box", box)
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=np.float32)
            if mask.ndim != 2:
                raise PromptError(f"mask prompt must be (H, W), got shape {mask.shape}")
            object.__setattr__(self, "mask", mask)
        if self.is_empty:
            raise PromptError("an object prompt needs points, a box, or a mask")

    @property
    def is_empty(self) -> bool:
        return (
            self.points is None
            and self.box is None
            and self.mask is None
            and self.low_res_logits is None
        )


@dataclass(frozen=True)
class MaskCandidates:
    """What :meth:`PromptableSegmenter.decode` returns for N objects of one frame.

    Attributes:
        logits: ``(N, K, H, W)`` float32 mask logits at source-frame size; mask = ``logits > 0``.
            K is 1 for single-mask output, 3 (SAM) or the engine's count for multimask output.
        scores: ``(N, K)`` float32 predicted quality in ``[0, 1]`` (SAM: predicted IoU).
        low_res_logits: ``(N, K, 256, 256)`` float32 logits in the engine's dense-prompt format,
            or None for engines without one.
        object_score_logits: ``(N, 1)`` float32 logits of the object being in the frame at all
            (SAM 2's object-score head; > 0 = present), or None for engines without one.
    """

    logits: torch.Tensor
    scores: torch.Tensor
    low_res_logits: torch.Tensor | None = None
    object_score_logits: torch.Tensor | None = None

    def __post_init__(self) -> None:
        assert self.logits.ndim == 4, self.logits.shape
        assert self.scores.shape == self.logits.shape[:2], (self.scores.shape, self.logits.shape)

    @property
    def masks(self) -> torch.Tensor:
        """``(N, K, H, W)`` bool."""
        return self.logits > 0


@dataclass(frozen=True)
class EngineInfo:
    """How an engine describes itself in summaries and ``run.json``."""

    name: str  # registry name, e.g. "classic", "sam_vit_b", "mobile_sam"
    description: str  # e.g. "classic engine, no learned weights"
    weights: str | None = None  # checkpoint path, None for weight-free engines


class FrameFeatures(Protocol):
    """One frame's encoding; opaque to the runtime and the tracker, read only by its engine."""

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the source frame."""
        ...


@runtime_checkable
class PromptableSegmenter(Protocol):
    """A promptable image segmenter the runtime and tracker can drive."""

    info: EngineInfo

    @property
    def device(self) -> torch.device: ...

    def embed(self, frames: torch.Tensor) -> list[FrameFeatures]:
        """Preprocess and encode a batch of frames in one forward pass.

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB on :attr:`device` (all frames the same size).

        Returns:
            B per-frame features, in order.
        """
        ...

    def decode(
        self,
        features: FrameFeatures,
        prompts: Sequence[ObjectPrompt],
        *,
        multimask: bool = True,
    ) -> MaskCandidates:
        """Decode N objects of one frame in one call (N = ``len(prompts)`` >= 1)."""
        ...
