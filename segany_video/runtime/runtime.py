"""The streaming runtime: frames decoded in a reader thread, encoded in batches in an encoder
thread, handed to the caller as :class:`EncodedFrame` s in frame order.

::

    video.batches(B)   reader thread (the source's own prefetch), prefetch_batches ahead
        -> encoder thread: upload (pinned, non_blocking) -> model.embed(B frames per forward)
        -> [queue_depth encoded batches]
        -> caller (tracker: decode + track; results go on to the writers' own thread)

Encoding does not depend on prompts, so it runs ahead of the tracker while the tracker decodes,
tracks and hands results to the writer thread. Every queue is bounded, so only about
``(prefetch_batches + queue_depth + 2) * batch_size`` frames and embeddings are alive, whatever
the video's length. Earlier frames (backward passes, re-acquisition) are re-read and re-encoded
with :meth:`Runtime.stream_indices` rather than kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from segany_video.errors import DeviceError, OutOfMemoryError, PipelineError
from segany_video.models.base import (
    FrameFeatures,
    MaskCandidates,
    ObjectPrompt,
    PromptableSegmenter,
)
from segany_video.readers.frames import FrameBatch
from segany_video.readers.prefetch import prefetch
from segany_video.runtime.device import (
    DevicePlan,
    auto_batch_size,
    configure_device,
    plan_device,
)
from segany_video.runtime.encoded import EncodedFrame
from segany_video.runtime.encoder_tuning import compile_encoder, use_channels_last
from segany_video.runtime.quantize import quantize_encoder_int8
from segany_video.runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from segany_video.readers.reader import VideoSource

log = logging.getLogger(__name__)


class Runtime:
    """Drives a :class:`PromptableSegmenter` over a video: batched, threaded, memory-bounded.

    Construction prepares the model in place for the device: moves a module engine there,
    channels-last weights on CUDA, optional int8 quantisation (CPU) and ``torch.compile``.

    Args:
        model: the engine (SAM family or classic).
        settings: runtime settings; defaults to ``RuntimeSettings()``.

    Raises:
        DeviceError: the device is absent, the dtype unsupported there, or the model sits on
            another device and cannot be moved.
    """

    def __init__(self, model: PromptableSegmenter, settings: RuntimeSettings | None = None) -> None:
        self.settings = settings or RuntimeSettings()
        self.plan: DevicePlan = plan_device(self.settings)
        configure_device(self.plan, self.settings.num_threads)
        self.model = model
        self._place_model()
        if self.settings.quantize_int8:
            count = quantize_encoder_int8(model)
            log.info("int8 dynamic quantisation of %d encoder Linear layers", count)
        if self.plan.is_cuda:
            use_channels_last(model)
        if self.settings.compile:
            compile_encoder(model)
        # Frames per forward; None until chosen for a frame size (auto batch on CUDA probes
        # memory with a frame of the video's size). Halved after an out-of-memory retry.
        self._batch_size: int | None = self.settings.batch_size

    @property
    def device(self) -> torch.device:
        return self.plan.device

    @property
    def batch_size(self) -> int | None:
        """Frames per encoder forward (None until chosen on the first stream when auto)."""
        return self._batch_size

    def _place_model(self) -> None:
        current = torch.device(self.model.device)
        if _same_device(current, self.plan.device):
            return
        if isinstance(self.model, nn.Module):
            self.model.to(self.plan.device)
            return
        raise DeviceError(
            f"engine {self.model.info.name} was built on {current} but the runtime device is "
            f"{self.plan.device}; build the engine on {self.plan.device}"
        )

    # ----------------------------------------------------------------------------- streams

    def stream(
        self, video: VideoSource, start: int = 0, end: int | None = None
    ) -> Iterator[EncodedFrame]:
        """Encode frames ``start .. end-1`` of ``video`` in order, ahead of the caller.

        The source decodes in its own reader thread (``VideoSource.batches`` prefetches);
        the encoder runs in a second thread, ``queue_depth`` batches ahead of the caller.

        Args:
            video: an open ``VideoSource``.
            start: first frame index.
            end: one past the last frame index; None for the end of the video.

        Yields:
            One :class:`EncodedFrame` per frame, in frame order.

        Raises:
            SegAnyVideoError: a reader or engine error, as raised in its thread.
            PipelineError: any other worker failure, with the original as ``__cause__``.
            OutOfMemoryError: the device ran out of memory even at half the batch size.
        """
        batch_size = self._ensure_batch_size(video)
        return self._pipeline(lambda: iter(video.batches(batch_size, start=start, end=end)))

    def stream_indices(self, video: VideoSource, indices: Sequence[int]) -> Iterator[EncodedFrame]:
        """Re-read and encode the given frames, in the given order (e.g. backwards).

        For backward propagation and re-acquisition: frames are re-read in batches with
        ``video.read_frames`` (in a reader thread) and encoded like :meth:`stream`, so no
        earlier frame or embedding needs to be kept.

        Args:
            video: an open ``VideoSource``.
            indices: frame indices, any order, repeats allowed.

        Yields:
            One :class:`EncodedFrame` per index, in the order of ``indices``.
        """
        wanted = [int(i) for i in indices]
        batch_size = self._ensure_batch_size(video)

        def reread() -> Iterator[FrameBatch]:
            for first in range(0, len(wanted), batch_size):
                yield video.read_frames(wanted[first : first + batch_size])

        depth = self.settings.queue_depth
        return self._pipeline(lambda: prefetch(reread(), depth, name="segany-reread"))

    def encode_batches(self, batches: Iterable[FrameBatch]) -> Iterator[EncodedFrame]:
        """Encode batches from any iterable (iterated in the encoder thread), in order."""
        return self._pipeline(lambda: iter(batches))

    def _pipeline(self, read: Callable[[], Iterator[FrameBatch]]) -> Iterator[EncodedFrame]:
        encoded = prefetch(
            _Deferred(lambda: self._encode_all(read())),
            self.settings.queue_depth,
            name="segany-encoder",
        )
        try:
            for group in encoded:
                yield from group
        finally:
            # Stops the encoder thread, which in turn closes the reader it iterates.
            encoded.close()

    # ------------------------------------------------------------------------------ encode

    def _encode_all(self, batches: Iterator[FrameBatch]) -> Iterator[list[EncodedFrame]]:
        """Runs in the encoder thread (inference mode and autocast are per thread)."""
        try:
            with self.plan.inference():
                for batch in batches:
                    yield self.encode_batch(batch)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # stops the reader thread now rather than at garbage collection

    def encode_batch(self, batch: FrameBatch) -> list[EncodedFrame]:
        """Encode one batch on the calling thread, in chunks of :attr:`batch_size` frames.

        On a device out-of-memory error the chunk is retried once in halves (and later
        chunks stay at the smaller size); a second failure raises :class:`OutOfMemoryError`.
        Call it under :meth:`inference` when calling it directly.
        """
        chunk = self._batch_size or len(batch)
        out: list[EncodedFrame] = []
        first = 0
        while first < len(batch):
            stop = min(first + chunk, len(batch))
            try:
                features = self._embed(batch, first, stop)
            except torch.OutOfMemoryError as exc:
                if stop - first == 1:
                    raise self._oom(batch, first, stop, exc, retried=False) from exc
                chunk = max(1, (stop - first) // 2)
                self._batch_size = chunk
                log.warning(
                    "out of memory encoding %d frames on %s; retrying at batch size %d",
                    stop - first,
                    self.device,
                    chunk,
                )
                self._release_cached()
                try:
                    features = self._embed(batch, first, first + chunk)
                except torch.OutOfMemoryError as again:
                    raise self._oom(batch, first, first + chunk, again, retried=True) from again
                stop = first + chunk
            for offset, item in enumerate(features):
                i = first + offset
                out.append(
                    EncodedFrame(
                        int(batch.indices[i]),
                        float(batch.timestamps[i]),
                        batch.frames[i],
                        item,
                    )
                )
            first = stop
        return out

    def _embed(self, batch: FrameBatch, first: int, stop: int) -> list[FrameFeatures]:
        frames = self.plan.upload(batch.frames[first:stop])
        features = self.model.embed(frames)
        if len(features) != stop - first:
            raise PipelineError(
                f"engine {self.model.info.name} returned {len(features)} features for "
                f"{stop - first} frames (frames {int(batch.indices[first])}.."
                f"{int(batch.indices[stop - 1])})"
            )
        return features

    def _oom(
        self, batch: FrameBatch, first: int, stop: int, exc: BaseException, *, retried: bool
    ) -> OutOfMemoryError:
        span = f"frames {int(batch.indices[first])}..{int(batch.indices[stop - 1])}"
        how = f"even after retrying at batch size {stop - first}" if retried else "at batch size 1"
        return OutOfMemoryError(
            f"{self.device} ran out of memory encoding {span} with engine "
            f"{self.model.info.name} {how}: {exc}. Free the device (other processes), use a "
            f"smaller model, a lower-precision dtype (bfloat16/float16), or a smaller "
            f"batch_size"
        )

    def _release_cached(self) -> None:
        if self.plan.is_cuda:
            torch.cuda.empty_cache()

    def _ensure_batch_size(self, video: VideoSource) -> int:
        if self._batch_size is None:
            info = video.info
            probe = np.zeros((1, info.height, info.width, 3), dtype=np.uint8)

            def encode_one() -> object:
                with self.plan.inference():
                    return self.model.embed(self.plan.upload(probe))

            self._batch_size = auto_batch_size(self.plan, encode_one)
        return self._batch_size

    # ------------------------------------------------------------------------------ decode

    def inference(self) -> AbstractContextManager[None]:
        """The context the model runs in on this runtime (inference mode + autocast).

        Enter it on any thread that calls the engine directly.
        """
        return self.plan.inference()

    def decode(
        self,
        features: FrameFeatures,
        prompts: Sequence[ObjectPrompt],
        *,
        multimask: bool = True,
    ) -> MaskCandidates:
        """``model.decode`` under this runtime's precision (all objects of a frame at once).

        Use it rather than calling the engine directly: under autocast the embeddings are
        bfloat16/float16, and the decoder must run under the same autocast.
        """
        with self.plan.inference():
            return self.model.decode(features, prompts, multimask=multimask)


class _Deferred:
    """An iterable that builds its iterator only when iterated, i.e. in the worker thread
    (so the source opens there and inference mode/autocast are entered there)."""

    def __init__(self, make: Callable[[], Iterator[list[EncodedFrame]]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[list[EncodedFrame]]:
        return self._make()


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.type == "cuda":
        index_a = a.index if a.index is not None else torch.cuda.current_device()
        index_b = b.index if b.index is not None else torch.cuda.current_device()
        return index_a == index_b
    return True
