"""SAM 2 video mode: one object's step on one frame, reading and writing its memory.

Three kinds of step, as Meta's ``SAM2VideoPredictor`` runs them:

- ``prompt_first``: the object's first keyframe. Decoded from its prompt alone (points/box through
  the decoder, a mask taken as the output), becomes a conditioning frame.
- ``track``: any other frame. The features attend to the object's memory, the decoder runs
  without prompts (best of three candidates), the result becomes a recent memory.
- ``correct``: a later keyframe of a tracked object. Clicks are decoded on the memory-conditioned
  features together with the tracked mask logits; a mask prompt replaces the output. The result
  becomes a conditioning frame (or a recent memory, see ``VideoSettings``).

Prompted frames enter memory with their binarised mask, tracked frames with the sigmoid of their
logits; the low-res logits have small holes filled first when ``fill_hole_area`` is set (Meta's
order: tracked frames encode memory before filling, prompted frames after).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.prompt_encoder import BOX_BOTTOM_RIGHT, BOX_TOP_LEFT
from segany_video.models.sam2.hole_filling import fill_small_holes
from segany_video.models.sam2.image_engine import Sam2Features
from segany_video.models.sam2.memory_context import (
    FrameQueries,
    condition_on_memory,
    first_frame_features,
)
from segany_video.models.sam2.model import Sam2Model, SamHeadsOutput
from segany_video.models.sam2.object_memory import MemoryEntry, ObjectMemory
from segany_video.models.sam2.video_settings import VideoSettings

# Previous mask logits fed back into the decoder with a correction are clamped to this range.
PREVIOUS_LOGITS_CLAMP = 32.0


@dataclass(frozen=True)
class ObjectStep:
    """One object's result on one frame.

    Attributes:
        low_res: ``(1, 1, 4h, 4w)`` float32 mask logits (holes filled when configured).
        object_score: Object-presence logit; the object is on the frame when > 0.
        iou: Predicted IoU of the mask (1 for mask prompts).
    """

    low_res: torch.Tensor
    object_score: float
    iou: float

    @property
    def present(self) -> bool:
        return self.object_score > 0


@dataclass(frozen=True)
class _PromptInputs:
    coords: torch.Tensor | None  # (1, P, 2) pixels of the square input
    labels: torch.Tensor | None  # (1, P)
    mask: torch.Tensor | None  # (1, 1, S, S) binary


class Sam2Video:
    """Runs video-mode steps of a SAM 2 model.

    Args:
        model: The SAM 2 model (its ``config`` holds the video flags of the weights).
        settings: The run's choices.
        num_frames: Length of the clip when known (bounds pointer look-ups as Meta does).
    """

    def __init__(
        self,
        model: Sam2Model,
        settings: VideoSettings | None = None,
        num_frames: int | None = None,
    ) -> None:
        config = model.config
        if config.max_cond_frames_in_attn != -1 or config.memory_temporal_stride_for_eval != 1:
            raise ValueError(
                f"{config.name}: video mode supports max_cond_frames_in_attn=-1 and "
                "memory_temporal_stride_for_eval=1 (every official config)"
            )
        self.model = model
        self.config = config
        self.settings = settings or VideoSettings()
        self.num_frames = num_frames

    def new_memory(self) -> ObjectMemory:
        c = self.config
        return ObjectMemory(c.num_maskmem - 1, c.max_obj_ptrs_in_encoder - 1)

    # ------------------------------------------------------------------------------ steps

    def prompt_first(
        self, memory: ObjectMemory, frame: Sam2Features, index: int, prompt: ObjectPrompt
    ) -> ObjectStep:
        """Decode the object's first keyframe and store it as a conditioning frame."""
        inputs = self._inputs(prompt, frame.frame_size, index)
        if inputs.mask is not None:
            heads = self.model.mask_as_output(frame.top[None], _high_res(frame), inputs.mask)
        else:
            assert inputs.coords is not None and inputs.labels is not None
            heads = self.model.sam_heads(
                first_frame_features(self.model, frame),
                _high_res(frame),
                inputs.coords,
                inputs.labels,
                multimask=self.model.use_multimask(True, inputs.labels.shape[1]),
            )
        return self._store_prompted(memory, frame, index, heads, conditioning=True)

    def track(
        self,
        memory: ObjectMemory,
        frame: Sam2Features,
        index: int,
        *,
        reverse: bool = False,
        queries: FrameQueries | None = None,
    ) -> ObjectStep:
        """Track the object onto a frame from its memory and remember the result.

        Args:
            queries: The frame's :class:`FrameQueries` when several objects share them.
        """
        memory.evict(index, reverse)
        queries = queries or FrameQueries(self.model, frame)
        features = condition_on_memory(
            self.model, memory, queries, index, reverse=reverse, num_frames=self.num_frames
        )
        heads = self.model.sam_heads(
            features, _high_res(frame), multimask=self.model.use_multimask(False, 0)
        )
        spatial = self._encode(frame, heads.high_res_masks, heads.object_score_logits, False)
        entry = MemoryEntry(spatial, heads.obj_ptr)
        memory.add_recent(index, entry)
        return self._step(heads)

    def correct(
        self,
        memory: ObjectMemory,
        frame: Sam2Features,
        index: int,
        prompt: ObjectPrompt,
        tracked: ObjectStep,
        *,
        reverse: bool = False,
        queries: FrameQueries | None = None,
    ) -> ObjectStep:
        """Apply a later keyframe to an object already tracked onto this frame.

        Args:
            tracked: The :meth:`track` result of this frame (its logits guide the decoder).
            queries: The frame's :class:`FrameQueries` when several objects share them.
        """
        inputs = self._inputs(prompt, frame.frame_size, index)
        if inputs.mask is not None:
            heads = self.model.mask_as_output(frame.top[None], _high_res(frame), inputs.mask)
        else:
            assert inputs.coords is not None and inputs.labels is not None
            features = condition_on_memory(
                self.model,
                memory,
                queries or FrameQueries(self.model, frame),
                index,
                reverse=reverse,
                num_frames=self.num_frames,
            )
            previous = tracked.low_res.clamp(-PREVIOUS_LOGITS_CLAMP, PREVIOUS_LOGITS_CLAMP)
            heads = self.model.sam_heads(
                features,
                _high_res(frame),
                inputs.coords,
                inputs.labels,
                previous,
                multimask=self.model.use_multimask(False, inputs.labels.shape[1]),
            )
        return self._store_prompted(
            memory, frame, index, heads, conditioning=self.settings.corrections_as_conditioning
        )

    # ------------------------------------------------------------------------------ helpers

    def _store_prompted(
        self,
        memory: ObjectMemory,
        frame: Sam2Features,
        index: int,
        heads: SamHeadsOutput,
        *,
        conditioning: bool,
    ) -> ObjectStep:
        step = self._step(heads)
        size = self.config.image_size
        high = F.interpolate(step.low_res, size=(size, size), mode="bilinear", align_corners=False)
        binarize = self.config.binarize_mask_from_pts_for_mem_enc
        spatial = self._encode(frame, high, heads.object_score_logits, binarize)
        entry = MemoryEntry(spatial, heads.obj_ptr)
        if conditioning:
            memory.add_conditioning(index, entry)
        else:
            memory.add_recent(index, entry)
        return step

    def _step(self, heads: SamHeadsOutput) -> ObjectStep:
        low_res = fill_small_holes(heads.low_res_masks, self.settings.fill_hole_area)
        iou = heads.ious[0].max() if heads.ious.shape[-1] > 1 else heads.ious[0, 0]
        return ObjectStep(low_res, float(heads.object_score_logits[0, 0]), float(iou))

    def _encode(
        self,
        frame: Sam2Features,
        high_res_logits: torch.Tensor,
        object_score: torch.Tensor,
        binarize: bool,
    ) -> torch.Tensor:
        """Spatial memory of a frame's mask: ``(1, mem_dim, h, w)`` bfloat16."""
        c = self.config
        mask = (high_res_logits > 0).float() if binarize else torch.sigmoid(high_res_logits)
        mask = mask * c.sigmoid_scale_for_mem_enc + c.sigmoid_bias_for_mem_enc
        features, _ = self.model.memory_encoder(frame.top[None], mask)
        if self.model.no_obj_embed_spatial is not None:
            absent = (object_score <= 0).float()[..., None, None]  # (1, 1, 1, 1)
            features = features + absent * self.model.no_obj_embed_spatial[..., None, None]
        return features.to(torch.bfloat16)

    def _inputs(
        self, prompt: ObjectPrompt, frame_size: tuple[int, int], index: int
    ) -> _PromptInputs:
        """The prompt in model-input pixels: box corners first, then clicks; or a mask."""
        size = self.config.image_size
        device = self.model.device
        if prompt.mask is not None:
            if prompt.points is not None or prompt.box is not None:
                raise PromptError(
                    f"frame {index}: SAM 2 video mode takes either a mask or points/box "
                    "on one keyframe, not both"
                )
            if prompt.mask.shape != tuple(frame_size):
                raise PromptError(
                    f"frame {index}: mask prompt is {prompt.mask.shape} but the frame is "
                    f"{tuple(frame_size)}"
                )
            mask = torch.from_numpy(prompt.mask >= 0.5).to(device)[None, None].float()
            if tuple(mask.shape[-2:]) != (size, size):
                mask = F.interpolate(
                    mask, size=(size, size), mode="bilinear", align_corners=False, antialias=True
                )
                mask = (mask >= 0.5).float()
            return _PromptInputs(None, None, mask)
        coords: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        if prompt.box is not None:
            coords.append(prompt.box.reshape(2, 2))
            labels.append(np.array([BOX_TOP_LEFT, BOX_BOTTOM_RIGHT]))
        if prompt.points is not None:
            coords.append(prompt.points)
            labels.append(prompt.point_labels)
        if not coords:
            raise PromptError(f"frame {index}: SAM 2 video mode needs points, a box or a mask")
        xy = torch.from_numpy(np.concatenate(coords).astype(np.float32))[None]
        height, width = frame_size
        xy = xy / torch.tensor([width, height], dtype=torch.float32) * size
        label_t = torch.from_numpy(np.concatenate(labels).astype(np.int64))[None]
        return _PromptInputs(xy.to(device), label_t.to(device), None)


def _high_res(frame: Sam2Features) -> tuple[torch.Tensor, torch.Tensor]:
    """The frame's projected stride-4/8 levels with a batch axis: ``(1, C/8, ..), (1, C/4, ..)``."""
    return frame.high_res[0][None], frame.high_res[1][None]
