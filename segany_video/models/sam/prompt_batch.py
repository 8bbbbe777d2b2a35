"""Turn the :class:`ObjectPrompt` of N objects into the tensors of one batched decoder call.

Each object's token row is exactly the token list SAM builds for that object alone: its
points, a "not a point" pad when it has points but no box (as ``PromptEncoder`` does), then the
two box corners. Rows are right-padded with filler tokens that the decoder masks out, so a
batch mixing objects with boxes, points, both, or only a mask gives every object the same
answer as a call of its own. Dense prompts use the object's ``low_res_logits`` when given,
else its ``mask`` prior mapped by :func:`~segany_video.models.sam.preprocess.mask_prior_logits`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.preprocess import map_boxes, map_points, mask_prior_logits
from segany_video.models.sam.prompt_encoder import (
    BOX_BOTTOM_RIGHT,
    BOX_TOP_LEFT,
    FILLER,
    NOT_A_POINT,
)


@dataclass(frozen=True)
class PromptBatch:
    """Decoder inputs for N objects of one frame, on the model's device.

    Attributes:
        coords: ``(N, T, 2)`` float32 ``(x, y)`` in pixels of the resized input frame.
        codes: ``(N, T)`` int64 token codes (see ``prompt_encoder``).
        token_valid: ``(N, T)`` bool, False on filler tokens; None when there are none.
        dense_logits: ``(M, 1, s, s)`` float32 mask-prompt logits of M objects, or None.
        dense_index: ``(M,)`` int64 object indices of ``dense_logits`` rows, or None.
    """

    coords: torch.Tensor
    codes: torch.Tensor
    token_valid: torch.Tensor | None
    dense_logits: torch.Tensor | None
    dense_index: torch.Tensor | None

    @property
    def num_objects(self) -> int:
        return self.codes.shape[0]


def _token_row(
    prompt: ObjectPrompt, original_size: tuple[int, int], input_size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    coords: list[np.ndarray] = []
    codes: list[np.ndarray] = []
    if prompt.points is not None:
        coords.append(map_points(prompt.points, original_size, input_size))
        codes.append(prompt.point_labels.astype(np.int64))
        if prompt.box is None:
            coords.append(np.zeros((1, 2)))
            codes.append(np.array([NOT_A_POINT]))
    if prompt.box is not None:
        coords.append(map_boxes(prompt.box, original_size, input_size).reshape(2, 2))
        codes.append(np.array([BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]))
    if not coords:
        return np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    return np.concatenate(coords), np.concatenate(codes)


def build_prompt_batch(
    prompts: Sequence[ObjectPrompt],
    original_size: tuple[int, int],
    input_size: tuple[int, int],
    img_size: int,
    low_res_size: int,
    device: torch.device,
) -> PromptBatch:
    """Assemble the decoder inputs of N objects.

    Args:
        prompts: One prompt per object (N >= 1).
        original_size: ``(H, W)`` of the source frame the prompts refer to.
        input_size: ``(h, w)`` of the resized frame inside the encoder input.
        img_size: Side of the square encoder input.
        low_res_size: Side of the decoder's low-res mask grid (256).
        device: Where the tensors go.

    Raises:
        PromptError: no prompts, or a mask / low-res logits prompt of the wrong shape (the
            message names the object's index in ``prompts``).
    """
    if len(prompts) == 0:
        raise PromptError("decode needs at least one object prompt, got none")
    rows = [_token_row(p, original_size, input_size) for p in prompts]
    n, t = len(rows), max(len(codes) for _, codes in rows)
    coords = np.zeros((n, t, 2), dtype=np.float32)
    codes = np.full((n, t), FILLER, dtype=np.int64)
    for i, (row_coords, row_codes) in enumerate(rows):
        coords[i, : len(row_codes)] = row_coords
        codes[i, : len(row_codes)] = row_codes
    has_filler = bool((codes == FILLER).any())
    codes_t = torch.from_numpy(codes).to(device)

    logits_index = [i for i, p in enumerate(prompts) if p.low_res_logits is not None]
    prior_index = [
        i for i, p in enumerate(prompts) if p.low_res_logits is None and p.mask is not None
    ]
    dense: list[torch.Tensor] = []
    for i in logits_index:
        logits = prompts[i].low_res_logits
        if tuple(logits.shape[-2:]) != (low_res_size, low_res_size) or logits.numel() != (
            low_res_size * low_res_size
        ):
            raise PromptError(
                f"object {i}: low_res_logits must be ({low_res_size}, {low_res_size}), "
                f"got {tuple(logits.shape)}; pass the low_res_logits this engine returned"
            )
        dense.append(logits.reshape(1, 1, low_res_size, low_res_size).to(device, torch.float32))
    if prior_index:
        for i in prior_index:
            if prompts[i].mask.shape != tuple(original_size):
                raise PromptError(
                    f"object {i}: mask prompt is {prompts[i].mask.shape} but the frame is "
                    f"{tuple(original_size)}; give the prior at source-frame size"
                )
        priors = torch.from_numpy(np.stack([prompts[i].mask for i in prior_index])).to(device)
        dense.append(mask_prior_logits(priors, input_size, img_size, low_res_size))
    dense_index = logits_index + prior_index
    return PromptBatch(
        coords=torch.from_numpy(coords).to(device),
        codes=codes_t,
        token_valid=(codes_t != FILLER) if has_filler else None,
        dense_logits=torch.cat(dense) if dense else None,
        dense_index=torch.tensor(dense_index, device=device) if dense_index else None,
    )
