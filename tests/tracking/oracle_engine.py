"""A test-only engine that answers prompts from known ground truth, and tiny scenes for it.

The oracle returns, for each prompt, the ground-truth object that the prompt points at most
(by its dense prior, else its positive points, else its box), plus two distractor candidates
(the mask grown and shrunk), so the tracker's logic is tested without a real segmenter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt


@dataclass(frozen=True)
class OracleFeatures:
    index: int
    size: tuple[int, int]

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.size


class OracleEngine:
    """Knows each frame's true masks ``{object_id: (H, W) bool}``, keyed by the image bytes."""

    info = EngineInfo("oracle", "test oracle")

    def __init__(self, frames: Sequence[np.ndarray], truth: Sequence[dict]) -> None:
        self._index = {self._key(f): i for i, f in enumerate(frames)}
        self.truth = truth
        self.decode_calls = 0

    @classmethod
    def for_clip(cls, clip, *args, **kwargs) -> OracleEngine:
        """The oracle of a generated clip (a :class:`SyntheticClip`): its frames and truth."""
        frames = [clip.frame(i) for i in range(len(clip))]
        return cls(frames, [clip.masks(i) for i in range(len(clip))], *args, **kwargs)

    @staticmethod
    def _key(image: np.ndarray) -> str:
        return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def embed(self, frames: torch.Tensor) -> list[OracleFeatures]:
        return [
            OracleFeatures(self._index[self._key(f.numpy())], tuple(f.shape[:2])) for f in frames
        ]

    def decode(
        self, features: OracleFeatures, prompts: Sequence[ObjectPrompt], *, multimask: bool = True
    ) -> MaskCandidates:
        self.decode_calls += 1
        height, width = features.frame_size
        truth = self.truth[features.index]
        k = 3 if multimask else 1
        logits = np.full((len(prompts), k, height, width), -1.0, dtype=np.float32)
        scores = np.zeros((len(prompts), k), dtype=np.float32)
        for n, prompt in enumerate(prompts):
            target = self._pick(prompt, truth, (height, width))
            if target is None:
                continue
            kernel = np.ones((5, 5), np.uint8)
            variants = [
                target,
                cv2.dilate(target.astype(np.uint8), kernel) > 0,
                cv2.erode(target.astype(np.uint8), kernel) > 0,
            ]
            for j in range(k):
                logits[n, j][variants[j]] = 1.0
                scores[n, j] = (0.95, 0.6, 0.7)[j]
        return MaskCandidates(torch.from_numpy(logits), torch.from_numpy(scores))

    @staticmethod
    def _pick(prompt: ObjectPrompt, truth: dict, size: tuple[int, int]) -> np.ndarray | None:
        best, best_votes = None, 0.0
        for mask in truth.values():
            if prompt.mask is not None:
                votes = float((prompt.mask[mask]).sum())
            elif prompt.points is not None:
                pts = prompt.points[prompt.point_labels == 1].astype(int)
                votes = float(
                    mask[pts[:, 1].clip(0, size[0] - 1), pts[:, 0].clip(0, size[1] - 1)].sum()
                )
            else:
                x0, y0, x1, y1 = prompt.box.astype(int)
                votes = float(mask[y0:y1, x0:x1].sum())
            if votes > best_votes:
                best, best_votes = mask, votes
        return best
