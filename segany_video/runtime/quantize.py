"""Int8 dynamic quantisation of the image encoder on CPU, and how much it changes the masks.

Dynamic quantisation stores the encoder's Linear weights as int8 and quantises activations on
the fly per batch; the ViT encoders spend most of their time in Linear layers (qkv, projections,
MLPs), so this is where CPU time goes down. Attention's own matmuls and the convolutions stay
float32. Because it is lossy, :func:`int8_mask_agreement` measures the IoU between masks decoded
from the int8 and the float32 encoder on given frames and prompts.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicQuantizedLinear

from segany_video.errors import ConfigError
from segany_video.models.base import ObjectPrompt, PromptableSegmenter
from segany_video.runtime.encoded import encode_sequentially
from segany_video.runtime.encoder_tuning import image_encoder_of


class Int8Linear(DynamicQuantizedLinear):
    """torch's dynamic int8 Linear, with ``bias`` readable as a tensor like ``nn.Linear``'s.

    torch's class exposes ``weight()`` and ``bias()`` as methods; encoders that read the
    projection bias directly (SAM's windowed attention fills padded tokens with ``qkv.bias``)
    would break on it. The forward pass is torch's own.
    """

    @property
    def bias(self) -> torch.Tensor | None:  # type: ignore[override]
        return self._weight_bias()[1]


def quantize_encoder_int8(model: PromptableSegmenter) -> int:
    """Replace the Linear layers of ``model.image_encoder`` by int8 dynamic ones, in place.

    Args:
        model: an engine on the CPU with an ``image_encoder`` module.

    Returns:
        How many Linear layers were quantised.

    Raises:
        ConfigError: the engine has no neural image encoder, or it is not on the CPU.
    """
    encoder = image_encoder_of(model)
    name = getattr(getattr(model, "info", None), "name", type(model).__name__)
    if encoder is None:
        raise ConfigError(
            f"quantize_int8 was requested but engine {name} has no neural image encoder to "
            f"quantise; turn quantize_int8 off for this engine"
        )
    if any(p.device.type != "cpu" for p in encoder.parameters()):
        raise ConfigError(f"quantize_int8 needs engine {name} on the CPU; move it there first")
    linear_count = sum(isinstance(m, nn.Linear) for m in encoder.modules())
    with warnings.catch_warnings():
        # torch marks its eager quantisation API as deprecated in favour of torchao, which
        # is not a dependency; the eager API is what ships with every torch we support.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantized = torch.ao.quantization.quantize_dynamic(
            encoder,
            {nn.Linear},
            dtype=torch.qint8,
            mapping={nn.Linear: Int8Linear},
            # In place: no copy of a large encoder, and encoders holding per-thread scratch
            # memory (threading.local) cannot be deep-copied anyway.
            inplace=True,
        )
    assert quantized is encoder
    return linear_count


@dataclass(frozen=True)
class MaskAgreement:
    """IoU between masks decoded by a candidate and a reference encoder.

    Attributes:
        ious: ``(F, N)`` float64, frame by object; 1.0 where both masks are empty.
    """

    ious: np.ndarray

    @property
    def mean(self) -> float:
        return float(self.ious.mean())

    @property
    def worst(self) -> float:
        return float(self.ious.min())


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """IoU of ``(N, H, W)`` bool masks, pairwise by index; 1.0 where both are empty."""
    a = a.reshape(a.shape[0], -1)
    b = b.reshape(b.shape[0], -1)
    inter = (a & b).sum(dim=1).double()
    union = (a | b).sum(dim=1).double()
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    return iou.cpu().numpy()


def decode_masks(
    model: PromptableSegmenter,
    frames: Sequence[np.ndarray],
    prompts: Sequence[ObjectPrompt],
) -> list[torch.Tensor]:
    """Single-mask output of ``model`` for ``prompts`` on each frame: F tensors ``(N, H, W)``
    bool."""
    triples = [(i, 0.0, image) for i, image in enumerate(frames)]
    masks = []
    for encoded in encode_sequentially(model, triples):
        with torch.inference_mode():
            candidates = model.decode(encoded.features, prompts, multimask=False)
        masks.append(candidates.masks[:, 0].cpu())
    return masks


def mask_agreement(
    reference: Sequence[torch.Tensor], candidate: Sequence[torch.Tensor]
) -> MaskAgreement:
    """IoU per frame and object between two lists of ``(N, H, W)`` bool masks."""
    rows = [mask_iou(r, c) for r, c in zip(reference, candidate, strict=True)]
    return MaskAgreement(np.stack(rows))


def int8_mask_agreement(
    model: PromptableSegmenter,
    frames: Sequence[np.ndarray],
    prompts: Sequence[ObjectPrompt],
) -> MaskAgreement:
    """How closely int8 quantisation of ``model``'s encoder reproduces its float32 masks.

    Decodes ``prompts`` on ``frames`` in float32, quantises ``model`` in place (it stays
    quantised, ready for the runtime) and decodes again.

    Args:
        model: a float32 engine on the CPU with an ``image_encoder``.
        frames: F images ``(H, W, 3)`` uint8 RGB.
        prompts: N object prompts applied to every frame (single-mask output is compared).

    Returns:
        Per-frame, per-object IoU of int8 masks against float32 masks.
    """
    reference = decode_masks(model, frames, prompts)
    quantize_encoder_int8(model)
    return mask_agreement(reference, decode_masks(model, frames, prompts))
