"""SAM 2's prompts: the prompt encoder and how points, boxes and masks become its inputs.

SAM 2's prompt encoder has SAM's parameters and computes SAM's embeddings (random Fourier
features of pixel centres plus a learned embedding per token type), so
:class:`~segany_video.models.sam.prompt_encoder.PromptEncoder` serves both. What differs is the
token row each prompt becomes, and the geometry:

- SAM 2 resizes a frame to a square ``S x S`` input without keeping its aspect ratio, so a
  point ``(x, y)`` maps to ``(x * S / W, y * S / H)``.
- ``SAM2ImagePredictor`` sends a box as two corner points *before* the clicks, and the encoder
  always appends one "not a point" pad token (SAM 1 pads only when there is no box). A prompt
  with a mask only has no sparse tokens at all.
- The video model (``_forward_sam_heads``) gives an object without clicks one pad point, to
  which the encoder again appends its pad: two pad tokens.

Rows of N objects are right-padded with filler tokens the decoder masks out, so one batched
call gives every object the answer of a call of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.preprocess import MASK_PRIOR_LOGIT_BIAS, MASK_PRIOR_LOGIT_SCALE
from segany_video.models.sam.prompt_batch import PromptBatch
from segany_video.models.sam.prompt_encoder import (
    BOX_BOTTOM_RIGHT,
    BOX_TOP_LEFT,
    FILLER,
    NOT_A_POINT,
    PromptEncoder,
)

__all__ = [
    "PromptEncoder",
    "append_pad_token",
    "build_image_prompt_batch",
    "scale_to_input",
]


def scale_to_input(
    xy: torch.Tensor, original_size: tuple[int, int], image_size: int
) -> torch.Tensor:
    """``(..., 2)`` ``(x, y)`` source pixels -> pixels of the square ``image_size`` input.

    Computed in float32 in the reference's order (divide by the frame size, then scale).
    """
    height, width = original_size
    out = xy.to(torch.float32).clone()
    out[..., 0] = out[..., 0] / width
    out[..., 1] = out[..., 1] / height
    return out * image_size


def append_pad_token(
    coords: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append the encoder's "not a point" token: ``(B, P, 2), (B, P) -> (B, P+1, 2), (B, P+1)``."""
    b = coords.shape[0]
    coords = torch.cat([coords, coords.new_zeros(b, 1, 2)], dim=1)
    labels = torch.cat([labels, labels.new_full((b, 1), NOT_A_POINT)], dim=1)
    return coords, labels


def _token_row(prompt: ObjectPrompt) -> tuple[np.ndarray, np.ndarray]:
    """Source-pixel coordinates and codes of one object's tokens, in the predictor's order."""
    coords: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    if prompt.box is not None:
        coords.append(prompt.box.reshape(2, 2))
        codes.append(np.array([BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]))
    if prompt.points is not None:
        coords.append(prompt.points)
        codes.append(prompt.point_labels.astype(np.int64))
    if not coords:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int64)
    coords.append(np.zeros((1, 2), np.float32))
    codes.append(np.array([NOT_A_POINT]))
    return np.concatenate(coords).astype(np.float32), np.concatenate(codes)


def _dense_prompts(
    prompts: Sequence[ObjectPrompt],
    original_size: tuple[int, int],
    low_res_size: int,
    device: torch.device,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Mask-prompt logits ``(M, 1, s, s)`` and the object index of each row."""
    rows: list[torch.Tensor] = []
    index: list[int] = []
    for i, prompt in enumerate(prompts):
        if prompt.low_res_logits is not None:
            logits = prompt.low_res_logits
            if logits.numel() != low_res_size * low_res_size or tuple(logits.shape[-2:]) != (
                low_res_size,
                low_res_size,
            ):
                raise PromptError(
                    f"object {i}: low_res_logits must be ({low_res_size}, {low_res_size}), "
                    f"got {tuple(logits.shape)}; pass the low_res_logits this engine returned"
                )
            rows.append(logits.reshape(1, 1, low_res_size, low_res_size).to(device, torch.float32))
        elif prompt.mask is not None:
            if prompt.mask.shape != tuple(original_size):
                raise PromptError(
                    f"object {i}: mask prompt is {prompt.mask.shape} but the frame is "
                    f"{tuple(original_size)}; give the prior at source-frame size"
                )
            prior = torch.from_numpy(prompt.mask).to(device, torch.float32)[None, None]
            # The frame is stretched to the square input, so the prior is stretched alike.
            prior = F.interpolate(
                prior.clamp(0.0, 1.0),
                (low_res_size, low_res_size),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
            rows.append(prior * MASK_PRIOR_LOGIT_SCALE + MASK_PRIOR_LOGIT_BIAS)
        else:
            continue
        index.append(i)
    if not rows:
        return None, None
    return torch.cat(rows), torch.tensor(index, device=device)


def build_image_prompt_batch(
    prompts: Sequence[ObjectPrompt],
    original_size: tuple[int, int],
    image_size: int,
    low_res_size: int,
    device: torch.device,
) -> PromptBatch:
    """The decoder inputs of N objects on one frame, as ``SAM2ImagePredictor`` builds them.

    Args:
        prompts: One prompt per object (N >= 1); points ``(x, y)`` and boxes ``XYXY`` in
            source-frame pixels.
        original_size: ``(H, W)`` of the source frame.
        image_size: Side of the square model input (1024).
        low_res_size: Side of the decoder's low-res mask grid (256).
        device: Where the tensors go.

    Returns:
        A :class:`~segany_video.models.sam.prompt_batch.PromptBatch` whose coordinates are
        pixels of the square input.

    Raises:
        PromptError: no prompts, or a dense prompt of the wrong shape (naming the object's index).
    """
    if len(prompts) == 0:
        raise PromptError("decode needs at least one object prompt, got none")
    rows = [_token_row(p) for p in prompts]
    n, t = len(rows), max(len(codes) for _, codes in rows)
    coords = np.zeros((n, t, 2), dtype=np.float32)
    codes = np.full((n, t), FILLER, dtype=np.int64)
    for i, (row_coords, row_codes) in enumerate(rows):
        coords[i, : len(row_codes)] = row_coords
        codes[i, : len(row_codes)] = row_codes
    codes_t = torch.from_numpy(codes).to(device)
    dense, dense_index = _dense_prompts(prompts, original_size, low_res_size, device)
    return PromptBatch(
        coords=scale_to_input(torch.from_numpy(coords).to(device), original_size, image_size),
        codes=codes_t,
        token_valid=(codes_t != FILLER) if (codes == FILLER).any() else None,
        dense_logits=dense,
        dense_index=dense_index,
    )
