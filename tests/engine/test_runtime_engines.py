"""The runtime driving the real engines: batched results equal the batch-size-1 reference."""

from __future__ import annotations

import numpy as np
import torch
from engine_stubs import MemoryVideo, make_frames

from segany_video.engine.encoded import encode_sequentially
from segany_video.engine.runtime import Runtime
from segany_video.engine.settings import RuntimeSettings
from segany_video.models.base import ObjectPrompt

COUNT = 7  # not a multiple of 3


def textured_frames(height: int, width: int) -> np.ndarray:
    frames = make_frames(COUNT, height, width, seed=3)
    frames[:, height // 4 : 3 * height // 4, width // 4 : width // 2] = 230  # an "object"
    return frames


def reference_frames(model, frames: np.ndarray) -> list:
    return list(encode_sequentially(model, [(i, i / 25.0, f) for i, f in enumerate(frames)]))


def test_classic_engine_batched_equals_reference():
    from segany_video.models.classic import build_classic

    frames = textured_frames(48, 64)
    model = build_classic("cpu")
    expected = reference_frames(model, frames)
    runtime = Runtime(model, RuntimeSettings(device="cpu", batch_size=3))
    got = list(runtime.stream(MemoryVideo(frames)))
    assert [f.index for f in got] == list(range(COUNT))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g.features.image, e.features.image)
        np.testing.assert_array_equal(g.features.guide, e.features.guide)
        np.testing.assert_array_equal(g.features.gradient, e.features.gradient)
    # Decoding from runtime features gives the reference masks.
    prompts = [ObjectPrompt(box=np.array([14, 10, 34, 38], np.float32))]
    for g, e in zip(got[:2], expected[:2], strict=True):
        torch.testing.assert_close(
            runtime.decode(g.features, prompts).logits, model.decode(e.features, prompts).logits
        )
