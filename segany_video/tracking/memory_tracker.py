"""The tracker for SAM 2 video mode: keyframes in, one :class:`FrameResult` per frame out.

The image features come from the runtime (batched, ahead of this loop); each frame's objects
are then tracked through SAM 2's memory (:mod:`segany_video.models.sam2.video_session`), which
keeps only what the model can still attend to. Objects whose first keyframe comes after the
first frame are tracked backward first (frames re-read with ``rewind``); their results are held
run-length coded until the forward stream reaches those frames.

States: PROMPTED on an object's keyframes, TRACKED where the object-score logit is > 0, LOST
(empty mask) where it is not, INACTIVE before the first keyframe without a backward result.
Scores are the decoder's predicted IoU of the chosen mask (0 when lost).

Same surface as :class:`~segany_video.tracking.tracker.Tracker`: ``track``, ``snapshot``,
``restore``, ``last_index``; snapshots hold numpy arrays and JSON values only.
"""

from __future__ import annotations

import numpy as np
import torch

from segany_video.errors import PromptError
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam2.model import Sam2Model
from segany_video.models.sam2.video import Sam2Video
from segany_video.models.sam2.video_session import FrameSteps, VideoSession
from segany_video.models.sam2.video_settings import VideoSettings
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.runtime.encoded import EncodedFrame, Rewind
from segany_video.tracking.backward import BackwardResults
from segany_video.tracking.prompts import ResolvedKeyframe, ResolvedPrompts
from segany_video.tracking.tracker import BackwardFirstLoop, check_snapshot

# 2: backward results hold run-length coded masks (1: bit-packed).
SNAPSHOT_VERSION = 2


def _object_prompt(keyframe: ResolvedKeyframe) -> ObjectPrompt:
    mask = None if keyframe.mask is None else keyframe.mask.astype(np.float32)
    return ObjectPrompt(
        points=keyframe.points, point_labels=keyframe.point_labels, box=keyframe.box, mask=mask
    )


class MemoryTracker(BackwardFirstLoop):
    """Tracks the prompted objects of one video with SAM 2's memory.

    Args:
        model: A SAM 2 model whose ``embed`` produced the frames' features.
        prompts: Resolved prompts.
        settings: Video-mode settings (defaults when None).
        num_frames: The video's frame count when known (SAM 2 bounds its pointer look-ups by it).
    """

    def __init__(
        self,
        model: Sam2Model,
        prompts: ResolvedPrompts,
        settings: VideoSettings | None = None,
        num_frames: int | None = None,
    ) -> None:
        self.prompts = prompts
        self._order = prompts.ids
        for obj in prompts.objects:
            for keyframe in obj.keyframes:
                if keyframe.mask is not None and (
                    keyframe.points is not None or keyframe.box is not None
                ):
                    raise PromptError(
                        f"object {obj.id!r}, frame {keyframe.frame}: SAM 2 video mode takes a "
                        "mask or points/box on one keyframe, not both"
                    )
        keyframes = {
            obj.id: {k.frame: _object_prompt(k) for k in obj.keyframes} for obj in prompts.objects
        }
        self._session = VideoSession(Sam2Video(model, settings, num_frames), keyframes)
        self._backward = BackwardResults(prompts.frame_size)
        self._backward_done = False
        self._last_index: int | None = None

    def step(self, frame: EncodedFrame) -> FrameResult:
        """Track one frame forward and merge in any held backward results for it."""
        with torch.inference_mode():
            steps = self._session.step_forward(frame.index, frame.features)
            forward = self._results(steps, frame.features.frame_size)
        backward = self._backward.pop(frame.index)
        self._last_index = frame.index
        height, width = self.prompts.frame_size
        objects = {}
        for object_id in self._order:
            result = forward.get(object_id) or backward.get(object_id)
            if result is None:
                empty = np.zeros((height, width), dtype=bool)
                result = ObjectResult(object_id, empty, None, 0.0, TrackState.INACTIVE)
            objects[object_id] = result
        return FrameResult(frame.index, frame.timestamp, objects)

    def _results(self, steps: FrameSteps, frame_size: tuple[int, int]) -> dict:
        if not steps.steps:
            return {}
        masks = (self._session.frame_logits(steps, frame_size) > 0).cpu().numpy()
        out = {}
        for mask, (object_id, step) in zip(masks, steps.steps.items(), strict=True):
            if object_id in steps.prompted:
                state = TrackState.PROMPTED
            else:
                state = TrackState.TRACKED if step.present else TrackState.LOST
            if state is TrackState.LOST:
                mask = np.zeros_like(mask)
            score = min(max(step.iou, 0.0), 1.0) if step.present else 0.0
            out[object_id] = ObjectResult(object_id, mask, mask_box(mask), score, state)
        return out

    def _run_backward(self, start: int, rewind: Rewind | None) -> None:
        self._backward_done = True
        indices = self._session.backward_frames(start)
        if not indices or rewind is None:
            return
        for frame in rewind(indices):
            with torch.inference_mode():
                steps = self._session.step_backward(frame.index, frame.features, start)
                results = self._results(steps, frame.features.frame_size)
            for result in results.values():
                self._backward.add(frame.index, result)

    def snapshot(self) -> dict:
        """The complete state after the last processed frame, as numpy arrays and JSON values."""
        return {
            "version": SNAPSHOT_VERSION,
            "kind": "sam2-video",
            "object_ids": list(self._order),
            "last_index": self._last_index,
            "backward_done": self._backward_done,
            "session": self._session.snapshot(),
            "backward": self._backward.snapshot(),
        }

    def restore(self, snapshot: dict) -> None:
        """Load a :meth:`snapshot` taken from a tracker with the same prompts and settings.

        Raises:
            PromptError: when the snapshot belongs to another tracker kind, prompt set or version.
        """
        check_snapshot(snapshot, SNAPSHOT_VERSION, "sam2-video", self._order)
        self._last_index = snapshot["last_index"]
        self._backward_done = bool(snapshot["backward_done"])
        self._session.restore(snapshot["session"])
        self._backward = BackwardResults.restore(snapshot["backward"])
