"""One object's memory bank in SAM 2 video mode, bounded to what the model can attend to.

The model attends to the object's conditioning frames (its keyframes), the spatial memories of
the last ``num_maskmem - 1`` frames and the object pointers of the last
``max_obj_ptrs_in_encoder - 1`` frames (in tracking direction). Meta's predictor keeps every
frame's output for the whole clip; here entries leave as soon as no frame still to be processed
can reach them, so memory stays flat however long the video is. Frames whose entries a later
pass will need (the frames just before an object's first keyframe, which its forward pass reads
after the backward pass) can be pinned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MemoryEntry:
    """What one frame leaves in an object's memory.

    Attributes:
        features: ``(1, mem_dim, h, w)`` bfloat16 spatial memory (Meta stores it in bfloat16),
            or None once it is out of the spatial window (the pointer may still be in reach).
        obj_ptr: ``(1, C)`` float32 object pointer.
    """

    features: torch.Tensor | None
    obj_ptr: torch.Tensor

    def without_features(self) -> MemoryEntry:
        return MemoryEntry(None, self.obj_ptr)


class ObjectMemory:
    """The conditioning and recent memory entries of one object.

    Args:
        memory_window: Frames back whose spatial memory is read (``num_maskmem - 1``).
        pointer_window: Frames back whose object pointer is read.
    """

    def __init__(self, memory_window: int, pointer_window: int) -> None:
        self.memory_window = memory_window
        self.pointer_window = pointer_window
        # Insertion order matters for float summation order; it follows the prompts' order.
        self.conditioning: dict[int, MemoryEntry] = {}
        self.recent: dict[int, MemoryEntry] = {}
        self.pinned: set[int] = set()

    @property
    def started(self) -> bool:
        return bool(self.conditioning)

    def add_conditioning(self, frame: int, entry: MemoryEntry) -> None:
        """A prompted frame; it replaces any recent entry of the same frame."""
        self.conditioning[frame] = entry
        self.recent.pop(frame, None)

    def add_recent(self, frame: int, entry: MemoryEntry) -> None:
        self.recent[frame] = entry

    def pin(self, frames: Iterable[int]) -> None:
        """Keep these frames' entries through eviction (for a pass that still needs them)."""
        self.pinned.update(frames)

    def unpin_all(self) -> None:
        self.pinned.clear()

    def evict(self, next_frame: int, reverse: bool) -> None:
        """Drop what frame ``next_frame`` and those after it (in the direction) cannot reach."""
        for frame in list(self.recent):
            if frame in self.pinned:
                continue
            distance = (frame - next_frame) if reverse else (next_frame - frame)
            if distance > self.pointer_window:
                del self.recent[frame]
            elif distance > self.memory_window and self.recent[frame].features is not None:
                self.recent[frame] = self.recent[frame].without_features()

    # ------------------------------------------------------------------ snapshot / restore

    def snapshot(self) -> dict:
        """The memory as numpy arrays and JSON values (bfloat16 kept bit-exact as uint16)."""

        def pack(entries: dict[int, MemoryEntry]) -> list:
            out = []
            for frame, entry in entries.items():
                features = None
                if entry.features is not None:
                    features = entry.features.contiguous().view(torch.int16).cpu().numpy()
                out.append([frame, features, entry.obj_ptr.cpu().numpy()])
            return out

        return {
            "conditioning": pack(self.conditioning),
            "recent": pack(self.recent),
            "pinned": sorted(self.pinned),
        }

    def restore(self, state: dict, device: torch.device) -> None:
        """Load a :meth:`snapshot` (replacing everything held)."""

        def unpack(items: list) -> dict[int, MemoryEntry]:
            out = {}
            for frame, features, pointer in items:
                tensor = None
                if features is not None:
                    raw = torch.from_numpy(np.ascontiguousarray(features))
                    tensor = raw.view(torch.bfloat16).to(device)
                out[int(frame)] = MemoryEntry(tensor, torch.from_numpy(pointer).to(device))
            return out

        self.conditioning = unpack(state["conditioning"])
        self.recent = unpack(state["recent"])
        self.pinned = {int(f) for f in state["pinned"]}
