"""SAM 2 video mode for a set of objects with keyframes, one frame at a time.

Each object is tracked on its own (as Meta's predictor does: batch size one per object):

- backward pass (objects whose first keyframe lies after the first frame to process): from the
  first keyframe down to the first frame, tracking in reverse;
- forward pass: the first keyframe is decoded from its prompt and becomes a conditioning frame;
  every later frame is tracked from memory; a later keyframe corrects the tracked result on its
  frame and is remembered from there on.

The results equal those of Meta's ``SAM2VideoPredictor`` driven per object as: add the first
keyframe's prompt; ``propagate_in_video(reverse=True)`` from it (if it is not the first frame);
``propagate_in_video`` forward from it up to and including the next keyframe; add that
keyframe's prompt (a correction of a tracked frame); propagate on from it; and so on.

The backward pass runs before the forward pass. Meta's forward pass also reads the backward
pass's memories of the frames just before the first keyframe, so those are pinned until the
forward pass no longer reaches them. Nothing else outlives the model's attention window.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam2.image_engine import Sam2Features
from segany_video.models.sam2.memory_context import FrameQueries
from segany_video.models.sam2.object_memory import ObjectMemory
from segany_video.models.sam2.video import ObjectStep, Sam2Video

ObjectId = Hashable


@dataclass
class _Track:
    keyframes: dict[int, ObjectPrompt]
    memory: ObjectMemory
    first_step: ObjectStep | None = None  # the first keyframe's result until forward uses it
    backward_done: bool = False
    pinned_until: int | None = None

    @property
    def first(self) -> int:
        return min(self.keyframes)


@dataclass
class FrameSteps:
    """What video mode produced for the objects on one frame.

    Attributes:
        steps: Per object id, its step, for objects with a result on this frame.
        prompted: Ids whose result came from a keyframe prompt on this frame.
    """

    steps: dict[ObjectId, ObjectStep] = field(default_factory=dict)
    prompted: set[ObjectId] = field(default_factory=set)


class VideoSession:
    """Keyframes of several objects, tracked through a clip with SAM 2's memory.

    Args:
        engine: The video-mode engine.
        keyframes: Per object id (in output order), its prompts by frame index.
    """

    def __init__(
        self, engine: Sam2Video, keyframes: Mapping[ObjectId, Mapping[int, ObjectPrompt]]
    ) -> None:
        self.engine = engine
        self._tracks: dict[ObjectId, _Track] = {}
        for object_id, frames in keyframes.items():
            if not frames:
                raise ValueError(f"object {object_id!r} has no keyframe")
            self._tracks[object_id] = _Track(dict(sorted(frames.items())), engine.new_memory())

    @property
    def object_ids(self) -> list[ObjectId]:
        return list(self._tracks)

    def first_frame(self, object_id: ObjectId) -> int:
        return self._tracks[object_id].first

    # ------------------------------------------------------------------------ backward pass

    def backward_frames(self, start: int) -> list[int]:
        """Frames the backward pass needs, descending, for a forward pass beginning at
        ``start`` (empty when every object starts there)."""
        late = [t.first for t in self._tracks.values() if t.first > start and not t.backward_done]
        return list(range(max(late), start - 1, -1)) if late else []

    def step_backward(self, index: int, features: Sam2Features, start: int) -> FrameSteps:
        """One frame of the backward pass (frames must come in descending order).

        Only objects whose first keyframe is later than ``start`` take part; each yields a
        result on frames before its first keyframe.
        """
        out = FrameSteps()
        engine = self.engine
        queries = FrameQueries(engine.model, features)  # computed once, if any object tracks
        for object_id, track in self._tracks.items():
            if track.first <= start or track.backward_done or index > track.first:
                continue
            if index == track.first:
                track.first_step = engine.prompt_first(
                    track.memory, features, index, track.keyframes[index]
                )
                # The forward pass reads these frames' memories; keep them through eviction.
                window = engine.config.max_obj_ptrs_in_encoder - 1
                track.memory.pin(range(index - window, index))
                track.pinned_until = index + window
                continue
            out.steps[object_id] = engine.track(
                track.memory, features, index, reverse=True, queries=queries
            )
            if index == start:
                track.backward_done = True
        return out

    # ------------------------------------------------------------------------- forward pass

    def step_forward(self, index: int, features: Sam2Features) -> FrameSteps:
        """One frame of the forward pass (frames must come in ascending order)."""
        out = FrameSteps()
        engine = self.engine
        queries = FrameQueries(engine.model, features)  # computed once, if any object tracks
        for object_id, track in self._tracks.items():
            if index < track.first:
                continue
            prompt = track.keyframes.get(index)
            if index == track.first:
                step = track.first_step
                if step is None:
                    step = engine.prompt_first(track.memory, features, index, prompt)
                track.first_step = None
                out.prompted.add(object_id)
            else:
                step = engine.track(track.memory, features, index, queries=queries)
                if prompt is not None:
                    step = engine.correct(
                        track.memory, features, index, prompt, step, queries=queries
                    )
                    out.prompted.add(object_id)
            if track.pinned_until is not None and index >= track.pinned_until:
                track.memory.unpin_all()
                track.pinned_until = None
            out.steps[object_id] = step
        return out

    # ------------------------------------------------------------------------------ outputs

    def frame_logits(self, steps: FrameSteps, frame_size: tuple[int, int]) -> torch.Tensor:
        """The objects' mask logits at source-frame size, ``(N, H, W)`` in ``steps`` order.

        With ``non_overlap`` set, each pixel keeps only its highest-scoring object's logit;
        the others are clamped to at most -10 there.
        """
        low = torch.cat([s.low_res for s in steps.steps.values()])  # (N, 1, h, w)
        logits = F.interpolate(low, size=frame_size, mode="bilinear", align_corners=False)
        if self.engine.settings.non_overlap and logits.shape[0] > 1:
            winner = logits.argmax(dim=0, keepdim=True)
            slots = torch.arange(logits.shape[0], device=logits.device)[:, None, None, None]
            logits = torch.where(winner == slots, logits, logits.clamp(max=-10.0))
        return logits[:, 0]

    # --------------------------------------------------------------------- snapshot/restore

    def snapshot(self) -> dict:
        """Every object's memory and pass state as numpy arrays and JSON values."""
        objects = []
        for track in self._tracks.values():
            first = track.first_step
            objects.append(
                {
                    "memory": track.memory.snapshot(),
                    "backward_done": track.backward_done,
                    "pinned_until": track.pinned_until,
                    "first_step": None
                    if first is None
                    else {
                        "low_res": first.low_res.cpu().numpy(),
                        "object_score": first.object_score,
                        "iou": first.iou,
                    },
                }
            )
        return {"objects": objects}

    def restore(self, state: dict) -> None:
        """Load a :meth:`snapshot` from a session with the same objects and keyframes."""
        if len(state["objects"]) != len(self._tracks):
            raise ValueError(
                f"snapshot holds {len(state['objects'])} objects, the session {len(self._tracks)}"
            )
        device = self.engine.model.device
        for track, saved in zip(self._tracks.values(), state["objects"], strict=True):
            track.memory.restore(saved["memory"], device)
            track.backward_done = bool(saved["backward_done"])
            track.pinned_until = saved["pinned_until"]
            first = saved["first_step"]
            track.first_step = None
            if first is not None:
                track.first_step = ObjectStep(
                    torch.from_numpy(first["low_res"]).to(device),
                    float(first["object_score"]),
                    float(first["iou"]),
                )
