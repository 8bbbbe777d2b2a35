"""Conditioning a frame's features on one object's memory (SAM 2's memory read-out).

The memory tokens of a frame, in order: every conditioning frame's spatial memory (temporal
slot 0), then the recent frames' spatial memories from the oldest (slot 1) to the previous frame
(slot ``num_maskmem - 1``), then the object pointers (conditioning frames not in the future,
then recent frames, nearest first), each pointer split into ``C / mem_dim`` tokens. Spatial
tokens carry the memory encoder's sine encoding plus a learned per-slot embedding; pointers carry
a sine encoding of their (signed) frame distance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from segany_video.models.sam2.object_memory import MemoryEntry, ObjectMemory
from segany_video.models.sam2.position_encoding import sine_1d

if TYPE_CHECKING:
    from segany_video.models.sam2.image_engine import Sam2Features
    from segany_video.models.sam2.model import Sam2Model
    from segany_video.models.sam2.variants import Sam2Config


def first_frame_features(model: Sam2Model, frame: Sam2Features) -> torch.Tensor:
    """Features of an object's first prompted frame: there is no memory yet, so the learned
    no-memory embedding is added directly. ``-> (1, C, h, w)``."""
    return frame.top[None] + model.no_mem_embed.reshape(1, -1, 1, 1)


class FrameQueries:
    """A frame's memory-attention queries, computed on first use and shared by its objects.

    The frame's tokens pass the first layer's self-attention before any memory is read
    (:meth:`~segany_video.models.sam2.memory_attention.MemoryAttention.frame_queries`), so
    every object tracked on the frame can start from one computation of it.

    Args:
        model: The SAM 2 model.
        features: The frame's image features.
    """

    def __init__(self, model: Sam2Model, features: Sam2Features) -> None:
        self.model = model
        self.features = features
        self._tokens: torch.Tensor | None = None

    @property
    def grid(self) -> tuple[int, int]:
        """``(h, w)`` of the frame's stride-16 grid."""
        _, h, w = self.features.top.shape
        return h, w

    def tokens(self) -> torch.Tensor:
        """``(1, h*w, C)`` queries."""
        if self._tokens is None:
            h, w = self.grid
            top = self.features.top
            top_pos = self.model.image_encoder.neck.position_encoding.grid(h, w, top.device)
            curr = top.flatten(1).transpose(0, 1)[None]  # (C, h, w) -> (1, h*w, C)
            curr_pos = top_pos.flatten(1).transpose(0, 1)[None].to(curr.dtype)
            self._tokens = self.model.memory_attention.frame_queries(curr, curr_pos, (h, w))
        return self._tokens


def _spatial_tokens(
    memory: ObjectMemory, frame: int, reverse: bool, rules: Sam2Config
) -> list[tuple[int, MemoryEntry]]:
    """``(temporal slot, entry)`` of every spatial memory the frame attends to, in order."""
    slots = [(0, entry) for entry in memory.conditioning.values()]
    step = 1 if reverse else -1
    for slot in range(1, rules.num_maskmem):
        distance = rules.num_maskmem - slot
        entry = memory.recent.get(frame + step * distance)
        if entry is not None:
            assert entry.features is not None, "spatial memory evicted while still in reach"
            slots.append((slot, entry))
    return slots


def _pointers(
    memory: ObjectMemory, frame: int, reverse: bool, num_frames: int | None, rules: Sam2Config
) -> list[tuple[int, torch.Tensor]]:
    """``(temporal position, pointer)`` of every object pointer the frame attends to."""
    window = rules.max_obj_ptrs_in_encoder
    if num_frames is not None:
        window = min(num_frames, window)
    sign = -1 if reverse else 1
    out = []
    for t, entry in memory.conditioning.items():
        past = (t >= frame) if reverse else (t <= frame)
        if past or not rules.only_obj_ptrs_in_the_past_for_eval:
            distance = (
                (frame - t) * sign if rules.use_signed_tpos_enc_to_obj_ptrs else abs(frame - t)
            )
            out.append((distance, entry.obj_ptr))
    for distance in range(1, window):
        t = frame + distance if reverse else frame - distance
        if t < 0 or (num_frames is not None and t >= num_frames):
            break
        entry = memory.recent.get(t)
        if entry is not None:
            out.append((distance, entry.obj_ptr))
    return out


def condition_on_memory(
    model: Sam2Model,
    memory: ObjectMemory,
    queries: FrameQueries,
    frame: int,
    *,
    reverse: bool,
    num_frames: int | None,
) -> torch.Tensor:
    """The frame's stride-16 features after attending to the object's memory.

    Args:
        memory: The object's memory; must hold at least one conditioning frame.
        queries: The frame's queries (shared by the objects on the frame).
        frame: The frame's index (distances to memories are in frames).
        reverse: Tracking backward in time.
        num_frames: The clip's length when known (Meta bounds pointer look-ups by it).

    Returns:
        ``(1, C, h, w)``.
    """
    if not memory.started:
        raise ValueError(f"frame {frame}: the object has no conditioning frame to attend to")
    rules = model.config
    h, w = queries.grid
    device = queries.features.top.device
    spatial_pos = model.memory_encoder.position_encoding.grid(h, w, device)
    spatial_pos = spatial_pos.flatten(1).transpose(0, 1)  # (mem_dim, h, w) -> (h*w, mem_dim)
    tokens: list[torch.Tensor] = []
    positions: list[torch.Tensor] = []
    for slot, entry in _spatial_tokens(memory, frame, reverse, rules):
        assert entry.features is not None
        tokens.append(entry.features[0].float().flatten(1).transpose(0, 1))
        positions.append(spatial_pos + model.maskmem_tpos_enc[rules.num_maskmem - slot - 1, 0])
    pointers = []
    if rules.use_obj_ptrs_in_encoder:
        pointers = _pointers(memory, frame, reverse, num_frames, rules)
    num_pointer_tokens = 0
    if pointers:
        distances, ptrs = zip(*pointers, strict=True)
        stacked = torch.cat(ptrs, dim=0)  # (P, C)
        mem_dim = rules.mem_dim
        if rules.add_tpos_enc_to_obj_ptrs:
            window = rules.max_obj_ptrs_in_encoder
            if num_frames is not None:
                window = min(num_frames, window)
            dim = stacked.shape[-1] if rules.proj_tpos_enc_in_obj_ptrs else mem_dim
            rel = torch.tensor(distances, dtype=torch.float32, device=device) / (window - 1)
            ptr_pos = sine_1d(rel, dim)
            if model.obj_ptr_tpos_proj is not None:
                ptr_pos = model.obj_ptr_tpos_proj(ptr_pos)  # (P, C) -> (P, mem_dim)
        else:
            ptr_pos = stacked.new_zeros(len(ptrs), mem_dim)
        split = stacked.shape[-1] // mem_dim
        # (P, C) -> (P * split, mem_dim): each pointer becomes `split` consecutive tokens
        tokens.append(stacked.reshape(-1, mem_dim))
        positions.append(ptr_pos.repeat_interleave(split, dim=0))
        num_pointer_tokens = len(ptrs) * split
    conditioned = model.memory_attention.read_memory(
        queries.tokens(),
        torch.cat(tokens)[None],
        torch.cat(positions)[None],
        (h, w),
        num_pointer_tokens,
    )
    return conditioned.transpose(1, 2).reshape(1, -1, h, w)  # (1, h*w, C) -> (1, C, h, w)
