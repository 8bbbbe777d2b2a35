"""Speed-ups applied to an engine's image encoder before the runtime drives it.

Engines expose their neural encoder as an ``image_encoder`` attribute (SAM and MobileSAM, as in
Meta's code); engines without one (the classic engine) have nothing to tune, and the runtime
says so in the log rather than failing a preset that asks for it.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from segany_video.models.base import PromptableSegmenter

log = logging.getLogger(__name__)


def image_encoder_of(model: PromptableSegmenter) -> nn.Module | None:
    """The engine's neural image encoder, or None for engines without one."""
    encoder = getattr(model, "image_encoder", None)
    return encoder if isinstance(encoder, nn.Module) else None


def use_channels_last(model: PromptableSegmenter) -> bool:
    """Store the engine's 4-D weights channels-last (faster convolutions on CUDA tensor cores).

    Returns:
        True when the model is a module and was converted.
    """
    if not isinstance(model, nn.Module):
        return False
    model.to(memory_format=torch.channels_last)
    return True


def compile_encoder(model: PromptableSegmenter) -> bool:
    """Wrap the engine's image encoder in ``torch.compile``, in place.

    Compilation happens lazily on the first forward (tens of seconds to minutes); the encoder
    then runs fused kernels. ``dynamic=False`` because the encoder always sees one input size
    (SAM pads to 1024x1024); a smaller last batch triggers one more compilation.

    Returns:
        True when an encoder was found and wrapped.
    """
    encoder = image_encoder_of(model)
    if encoder is None:
        log.warning(
            "compile was requested but engine %s has no neural image encoder; running it as is",
            getattr(getattr(model, "info", None), "name", type(model).__name__),
        )
        return False
    encoder.compile(dynamic=False)
    return True
