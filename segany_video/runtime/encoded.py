"""The unit the runtime hands to the tracker: one decoded frame with its encoding."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from segany_video.models.base import FrameFeatures, PromptableSegmenter


@dataclass(frozen=True)
class EncodedFrame:
    """One frame, ready for the tracker.

    Attributes:
        index: frame index in the video (0-based).
        timestamp: seconds from PTS.
        image: ``(H, W, 3)`` uint8 RGB (the tracker uses it for motion and appearance).
        features: the engine's encoding of ``image``.
    """

    index: int
    timestamp: float
    image: np.ndarray
    features: FrameFeatures


# Re-reads earlier frames by index, in the order given (descending for a backward pass).
Rewind = Callable[[Sequence[int]], Iterator[EncodedFrame]]


def encode_sequentially(
    model: PromptableSegmenter,
    frames: Iterable[tuple[int, float, np.ndarray]],
) -> Iterator[EncodedFrame]:
    """Encode ``(index, timestamp, image)`` triples one at a time on the calling thread.

    The reference path the threaded runtime is checked against, and the simplest way to drive
    a model in tests and evaluation.
    """
    with torch.inference_mode():
        for index, timestamp, image in frames:
            batch = torch.from_numpy(np.ascontiguousarray(image)[None]).to(model.device)
            (features,) = model.embed(batch)
            yield EncodedFrame(int(index), float(timestamp), image, features)
