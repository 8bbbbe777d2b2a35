"""Stub engines and in-memory videos for the runtime tests (no decoding, no weights).

Imported by the test modules as ``engine_stubs`` (a unique name: tests/ has no packages)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.readers.frames import FrameBatch, VideoInfo


@dataclass(frozen=True)
class StubFeatures:
    frame_size: tuple[int, int]
    embedding: torch.Tensor  # (C, h, w) float32


class StubEngine:
    """A deterministic engine whose embedding of a frame depends on that frame only.

    ``embed`` records the batch sizes it saw; ``delay_s`` simulates encoder cost per forward;
    ``fail_on`` raises on the forward containing that frame value; ``oom_above`` raises
    ``torch.OutOfMemoryError`` for batches larger than it.
    """

    info = EngineInfo("stub", "test stub engine")

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        fail_on: int | None = None,
        oom_above: int | None = None,
    ) -> None:
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.oom_above = oom_above
        self.batch_sizes: list[int] = []
        self.grad_enabled: list[bool] = []
        self.threads: set[str] = set()

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def embed(self, frames: torch.Tensor) -> list[StubFeatures]:
        assert frames.dtype == torch.uint8 and frames.ndim == 4 and frames.shape[3] == 3
        self.threads.add(threading.current_thread().name)
        self.grad_enabled.append(torch.is_grad_enabled())
        if self.oom_above is not None and len(frames) > self.oom_above:
            raise torch.OutOfMemoryError(f"stub: {len(frames)} frames do not fit")
        if self.fail_on is not None and bool((frames[:, 0, 0, 0] == self.fail_on).any()):
            raise ValueError(f"stub engine cannot encode frame value {self.fail_on}")
        self.batch_sizes.append(len(frames))
        if self.delay_s:
            time.sleep(self.delay_s)
        x = frames.permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W)
        # Per-frame work only, so batching cannot change the result.
        pooled = torch.nn.functional.avg_pool2d(x, 2)  # (B, 3, H/2, W/2)
        h, w = frames.shape[1:3]
        return [StubFeatures((h, w), pooled[i].clone()) for i in range(len(frames))]

    def decode(
        self, features: StubFeatures, prompts: Sequence[ObjectPrompt], *, multimask: bool = True
    ) -> MaskCandidates:
        h, w = features.frame_size
        up = torch.nn.functional.interpolate(features.embedding[None], size=(h, w))[0]
        logits = torch.stack([up.mean(0) - 0.5 + 0.1 * n for n in range(len(prompts))])
        logits = logits[:, None]  # (N, 1, H, W)
        return MaskCandidates(logits, torch.ones(len(prompts), 1))


def make_frames(count: int, height: int = 8, width: int = 12, seed: int = 0) -> np.ndarray:
    """``(count, H, W, 3)`` uint8 frames; pixel (0, 0, 0) of frame i is i, so frames are
    identifiable from their content."""
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, size=(count, height, width, 3), dtype=np.uint8)
    frames[:, 0, 0, 0] = np.arange(count, dtype=np.uint8)
    return frames


class MemoryVideo:
    """A ``VideoSource`` over frames in memory, counting what it has produced."""

    def __init__(
        self,
        frames: np.ndarray,
        *,
        fail_at: int | None = None,
        read_delay_s: float = 0.0,
    ) -> None:
        self.frames = frames
        self.fail_at = fail_at
        self.read_delay_s = read_delay_s
        self.produced = 0
        self.closed_iterators = 0
        n, h, w, _ = frames.shape
        self.info = VideoInfo("memory://test", w, h, Fraction(25), n, n / 25, 0, "raw", "memory")

    def _batch(self, indices: Sequence[int]) -> FrameBatch:
        idx = np.asarray(indices, dtype=np.int64)
        return FrameBatch(idx, idx / 25.0, self.frames[idx].copy())

    def batches(self, size: int, start: int = 0, end: int | None = None) -> Iterator[FrameBatch]:
        end = len(self.frames) if end is None else end
        try:
            for first in range(start, end, size):
                indices = list(range(first, min(first + size, end)))
                if self.fail_at is not None and self.fail_at in indices:
                    from segany_video.errors import VideoDecodeError

                    raise VideoDecodeError(f"memory://test: frame {self.fail_at} is corrupt")
                if self.read_delay_s:
                    time.sleep(self.read_delay_s)
                self.produced += len(indices)
                yield self._batch(indices)
        finally:
            self.closed_iterators += 1

    def read_frames(self, indices: Sequence[int]) -> FrameBatch:
        self.produced += len(indices)
        return self._batch(list(indices))


def wait_until(predicate, timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` until true or the timeout passes (never an unbounded wait)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
