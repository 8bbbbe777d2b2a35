"""The classic engine: a promptable segmenter without learned weights.

It implements :class:`segany_video.models.base.PromptableSegmenter`, so the runtime and the
tracker drive it exactly like a SAM model: ``embed`` turns a batch of frames into per-frame
features (batched torch work), ``decode`` turns the prompts of N objects into K scored
candidate masks each. Decoding runs a colour-model graph cut on a downscaled crop around each
prompt — the engine's own cut, whose object colours come from pixels the prompt vouches for
(``box_cut.py``, ``colour_cut.py``), with OpenCV's grabCut as the fallback — and refines the
boundary at full resolution (see ``candidates.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from segany_video.errors import DeviceError, PromptError
from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.models.classic.candidates import (
    CANDIDATES,
    Candidate,
    object_candidates,
    preferred,
)
from segany_video.models.classic.features import ClassicFeatures, compute_features
from segany_video.models.classic.settings import ClassicSettings
from segany_video.models.classic.trimap import validate_prompt

# Logits are the log-odds of the soft mask, capped: far from any prompt the engine is certain.
LOGIT_CAP = 10.0


class ClassicEngine:
    """Weight-free promptable segmenter (colour models + graph cut + guided refinement).

    Args:
        device: where ``decode`` returns its tensors and ``embed`` does its batched work.
        settings: the engine's settings; defaults when None.

    Raises:
        DeviceError: a CUDA device is requested where none is available.
    """

    info = EngineInfo("classic", "classic engine, no learned weights", None)

    def __init__(
        self, device: str | torch.device = "cpu", settings: ClassicSettings | None = None
    ) -> None:
        self._device = torch.device(device)
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(
                f"device {self._device} was requested for the classic engine but CUDA is not "
                "available; use device='cpu' (the classic engine runs on the CPU anyway)"
            )
        self.settings = settings if settings is not None else ClassicSettings()

    @property
    def device(self) -> torch.device:
        return self._device

    def embed(self, frames: torch.Tensor) -> list[ClassicFeatures]:
        """Compute per-frame features for a batch.

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB.

        Returns:
            B :class:`ClassicFeatures`, in order.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(
                f"frames must be (B, H, W, 3) uint8 RGB, got {tuple(frames.shape)} {frames.dtype}"
            )
        return compute_features(frames)

    def decode(
        self,
        features: ClassicFeatures,
        prompts: Sequence[ObjectPrompt],
        *,
        multimask: bool = True,
    ) -> MaskCandidates:
        """Segment N objects of one frame.

        Args:
            features: this frame's :class:`ClassicFeatures` from :meth:`embed`.
            prompts: N >= 1 prompts, one per object: clicks ``(x, y)``, a box ``XYXY`` and/or a
                mask prior ``(H, W)`` in ``[0, 1]``, all in source-frame pixels.
            multimask: return 3 candidates per object (granularities); else the engine's pick
                (the cut for a box or mask prior, the best-scored for clicks alone).

        Returns:
            :class:`MaskCandidates` with logits ``(N, K, H, W)`` (K = 3 or 1) on :attr:`device`
            and scores ``(N, K)``; ``low_res_logits`` is None (this engine reads ``mask``).

        Raises:
            PromptError: no prompts, clicks outside the frame, a box missing the frame, or a mask
                prior of the wrong size; the message names the object.
        """
        if len(prompts) == 0:
            raise PromptError("decode needs at least one object prompt, got none")
        height, width = features.frame_size
        for index, prompt in enumerate(prompts):
            validate_prompt(prompt, (height, width), index)
        k = CANDIDATES if multimask else 1
        logits = torch.full((len(prompts), k, height, width), -LOGIT_CAP)
        scores = torch.zeros((len(prompts), k))
        for index, prompt in enumerate(prompts):
            candidates = object_candidates(features, prompt, self.settings)
            if not multimask and candidates:
                candidates = [preferred(prompt, candidates)]
            for slot, candidate in enumerate(candidates):
                _paste(logits[index, slot], candidate)
                scores[index, slot] = candidate.score
        return MaskCandidates(
            logits=logits.to(self._device), scores=scores.to(self._device), low_res_logits=None
        )


def _paste(target: torch.Tensor, candidate: Candidate) -> None:
    """Write a candidate's capped log-odds into its crop of an ``(H, W)`` logit map."""
    region = candidate.region
    p = np.clip(candidate.probability, 1e-5, 1 - 1e-5)
    log_odds = np.clip(np.log(p) - np.log1p(-p), -LOGIT_CAP, LOGIT_CAP).astype(np.float32)
    target[region.y0 : region.y1, region.x0 : region.x1] = torch.from_numpy(log_odds)


def build_classic(
    device: str | torch.device = "cpu", settings: ClassicSettings | None = None
) -> ClassicEngine:
    """Build the classic engine (no weights to load)."""
    return ClassicEngine(device=device, settings=settings)
