"""A SAM-family model (ViT or TinyViT encoder) as a :class:`PromptableSegmenter`.

Submodules are named ``image_encoder``, ``prompt_encoder`` and ``mask_decoder`` so official
checkpoints load with ``load_state_dict(strict=True)``. The model holds no non-persistent
buffers, so it can be built on the ``meta`` device and loaded with ``assign=True``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from segany_video.models.base import EngineInfo, MaskCandidates, ObjectPrompt
from segany_video.models.sam.mask_decoder import MaskDecoder
from segany_video.models.sam.preprocess import prepare_images, upscale_logits
from segany_video.models.sam.prompt_batch import PromptBatch, build_prompt_batch
from segany_video.models.sam.prompt_encoder import PromptEncoder

DEFAULT_PIXEL_MEAN = (123.675, 116.28, 103.53)
DEFAULT_PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class SamFeatures:
    """One frame's SAM encoding.

    Attributes:
        embedding: ``(C, h, w)`` image embedding (256, 64, 64 for the official models).
        original_size: ``(H, W)`` of the source frame.
        input_size: ``(h, w)`` of the resized frame inside the square encoder input.
    """

    embedding: torch.Tensor
    original_size: tuple[int, int]
    input_size: tuple[int, int]

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the source frame."""
        return self.original_size


class SamModel(nn.Module):
    """Segment Anything: image encoder, prompt encoder and mask decoder.

    Args:
        image_encoder: Maps ``(B, 3, S, S)`` normalised images to ``(B, C, S/16, S/16)``; must
            have an ``img_size`` attribute (``S``).
        prompt_encoder: The prompt encoder.
        mask_decoder: The mask decoder.
        info: How the engine describes itself.
        pixel_mean: Per-channel RGB mean (0..255 units) used for normalisation.
        pixel_std: Per-channel RGB standard deviation (0..255 units).
    """

    def __init__(
        self,
        image_encoder: nn.Module,
        prompt_encoder: PromptEncoder,
        mask_decoder: MaskDecoder,
        *,
        info: EngineInfo,
        pixel_mean: tuple[float, float, float] = DEFAULT_PIXEL_MEAN,
        pixel_std: tuple[float, float, float] = DEFAULT_PIXEL_STD,
    ) -> None:
        super().__init__()
        self.image_encoder = image_encoder
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.info = info
        self.pixel_mean = tuple(pixel_mean)
        self.pixel_std = tuple(pixel_std)
        self._norm_constants: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def device(self) -> torch.device:
        return self.prompt_encoder.no_mask_embed.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.prompt_encoder.no_mask_embed.weight.dtype

    @property
    def img_size(self) -> int:
        """Side of the square encoder input (1024)."""
        return int(self.image_encoder.img_size)

    @property
    def low_res_size(self) -> int:
        """Side of the low-res mask grid and of dense prompts (256)."""
        return self.prompt_encoder.mask_input_size[0]

    # -- encoding -------------------------------------------------------------------------

    def preprocess(self, frames: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Resize (longest side to ``img_size``), normalise and pad a batch of frames.

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB on :attr:`device`.

        Returns:
            ``(B, 3, img_size, img_size)`` images in the model dtype (channels-last layout) and
            the input size ``(h, w)`` of the resized frames.
        """
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(
                f"frames must be (B, H, W, 3) uint8 RGB, got {tuple(frames.shape)} {frames.dtype}"
            )
        constants = self._norm_constants.get(frames.device)
        if constants is None:
            constants = (
                torch.tensor(self.pixel_mean, device=frames.device),
                torch.tensor(self.pixel_std, device=frames.device),
            )
            self._norm_constants[frames.device] = constants
        return prepare_images(frames, self.img_size, *constants, dtype=self.dtype)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` preprocessed images -> ``(B, C, S/16, S/16)`` embeddings."""
        return self.image_encoder(images.to(self.dtype))

    @torch.inference_mode()
    def embed(self, frames: torch.Tensor) -> list[SamFeatures]:
        """Preprocess and encode a batch of frames in one forward pass.

        Args:
            frames: ``(B, H, W, 3)`` uint8 RGB on :attr:`device`, all the same size.

        Returns:
            B :class:`SamFeatures`, in order.
        """
        images, input_size = self.preprocess(frames)
        embeddings = self.encode(images)
        original_size = (int(frames.shape[1]), int(frames.shape[2]))
        return [SamFeatures(e, original_size, input_size) for e in embeddings]

    # -- decoding -------------------------------------------------------------------------

    def prompt_batch(self, features: SamFeatures, prompts: Sequence[ObjectPrompt]) -> PromptBatch:
        """The decoder inputs of ``prompts`` (N objects) for the frame of ``features``."""
        return build_prompt_batch(
            prompts,
            features.original_size,
            features.input_size,
            self.img_size,
            self.low_res_size,
            features.embedding.device,
        )

    def decode_low_res(
        self, embedding: torch.Tensor, batch: PromptBatch, *, multimask: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the prompt encoder and mask decoder for N objects in one batch.

        Args:
            embedding: ``(C, h, w)`` image embedding of one frame.
            batch: The N objects' prompts (see :meth:`prompt_batch`).
            multimask: Three candidates per object (True) or one (False).

        Returns:
            ``(N, K, s, s)`` low-res logits and ``(N, K)`` predicted IoU, K = 3 or 1.
        """
        dtype = embedding.dtype
        pe = self.prompt_encoder
        sparse = pe.embed_sparse(batch.coords, batch.codes).to(dtype)
        # (1, C, h, w): objects without a mask prompt share one image + no-mask embedding.
        src = embedding[None] + pe.no_mask_dense().to(dtype)
        if batch.dense_logits is not None:
            dense = pe.embed_masks(batch.dense_logits.to(dtype))  # (M, C, h, w)
            src = src.expand(batch.num_objects, -1, -1, -1).clone()
            src[batch.dense_index] = embedding[None] + dense
        return self.mask_decoder(
            src,
            pe.get_dense_pe().to(dtype),
            sparse,
            multimask_output=multimask,
            token_valid=batch.token_valid,
        )

    def postprocess(self, low_res: torch.Tensor, features: SamFeatures) -> torch.Tensor:
        """``(N, K, s, s)`` low-res logits -> ``(N, K, H, W)`` float32 logits at frame size."""
        return upscale_logits(
            low_res.to(torch.float32), features.input_size, features.original_size, self.img_size
        )

    @torch.inference_mode()
    def decode(
        self,
        features: SamFeatures,
        prompts: Sequence[ObjectPrompt],
        *,
        multimask: bool = True,
    ) -> MaskCandidates:
        """Decode all N objects of one frame in one batched decoder call.

        Args:
            features: The frame's :class:`SamFeatures` from :meth:`embed`.
            prompts: One prompt per object, coordinates in source-frame pixels.
            multimask: Three candidates per object (True) or SAM's single mask (False).

        Returns:
            Logits ``(N, K, H, W)``, predicted IoU ``(N, K)`` and low-res logits
            ``(N, K, 256, 256)``, all float32.

        Raises:
            PromptError: no prompts, or a dense prompt of the wrong shape.
        """
        if not isinstance(features, SamFeatures):
            raise TypeError(f"{self.info.name} decodes SamFeatures, got {type(features).__name__}")
        batch = self.prompt_batch(features, prompts)
        embedding = features.embedding
        if embedding.dtype != self.dtype and not torch.is_autocast_enabled(embedding.device.type):
            # Embedded under autocast (bf16/fp16), decoded outside it (the runtime's rule, see
            # Runtime.decode): decode in the weights' precision rather than fail on mixed dtypes.
            embedding = embedding.to(self.dtype)
        low_res, iou = self.decode_low_res(embedding, batch, multimask=multimask)
        return MaskCandidates(
            logits=self.postprocess(low_res, features),
            scores=iou.to(torch.float32),
            low_res_logits=low_res.to(torch.float32),
        )
