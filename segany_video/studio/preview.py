"""Instant previews: one object's mask on the shown frame, from that frame's cached features.

The shown frame is encoded once (:class:`FeatureCache`); each click then only runs the engine's
decoder. The preview picks its default candidate the way the tracker seeds a keyframe (a
single click: the best-scored of the engine's candidates; anything more: the engine's single
answer), so what the page shows on a keyframe is what tracking starts from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from segany_video.models.base import FrameFeatures, ObjectPrompt
from segany_video.readers.reader import VideoSource
from segany_video.runtime.runtime import Runtime
from segany_video.studio.objects import Keyframe


@dataclass(frozen=True)
class Candidate:
    """One candidate mask: ``(H, W)`` bool and the engine's score in ``[0, 1]``."""

    mask: np.ndarray
    score: float


@dataclass(frozen=True)
class Preview:
    """The candidates for one object on one frame and the one tracking would start from."""

    candidates: tuple[Candidate, ...]
    chosen: int


class FeatureCache:
    """Encoded frames for previews, the most recently used few kept.

    Args:
        runtime: encodes frames with the session's engine and precision.
        video: the open video to read frames from (shared; reads are serialised by ``lock``).
        lock: guards ``video``.
        size: frames kept.
    """

    def __init__(
        self, runtime: Runtime, video: VideoSource, lock: threading.Lock, size: int = 3
    ) -> None:
        self.runtime = runtime
        self.video = video
        self.lock = lock
        self.size = size
        self._items: OrderedDict[int, FrameFeatures] = OrderedDict()
        self._guard = threading.Lock()

    def get(self, index: int) -> FrameFeatures:
        """The features of frame ``index``, encoding it on a miss."""
        with self._guard:
            if index in self._items:
                self._items.move_to_end(index)
                return self._items[index]
            with self.lock:
                batch = self.video.read_frames([index])
            with self.runtime.inference():
                features = self.runtime.encode_batch(batch)[0].features
            self._items[index] = features
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            return features

    def __contains__(self, index: int) -> bool:
        return index in self._items


def preview_keyframe(
    runtime: Runtime, features: FrameFeatures, keyframe: Keyframe, *, all_candidates: bool
) -> Preview:
    """Decode one object's keyframe on its frame.

    Args:
        runtime: decodes under the session's precision.
        features: the frame's features from :class:`FeatureCache`.
        keyframe: the object's prompts on that frame.
        all_candidates: also decode every candidate the engine offers (for cycling), not only
            the one tracking would use.

    Returns:
        The candidates and the index of the one tracking starts from.
    """
    if keyframe.mask is not None:
        return Preview((Candidate(keyframe.mask, 1.0),), 0)
    points = labels = None
    if keyframe.points:
        arr = np.asarray(keyframe.points, dtype=np.float32)
        points, labels = arr[:, :2], arr[:, 2].astype(np.int64)
    box = None if keyframe.box is None else np.asarray(keyframe.box, dtype=np.float32)
    prompt = ObjectPrompt(points, labels, box)
    ambiguous = box is None and points is not None and len(points) == 1
    if ambiguous or all_candidates:
        many = _candidates(runtime, features, prompt, multimask=True)
    if ambiguous:
        return Preview(many, int(np.argmax([c.score for c in many])))
    (single,) = _candidates(runtime, features, prompt, multimask=False)
    if not all_candidates:
        return Preview((single,), 0)
    for index, candidate in enumerate(many):
        if np.array_equal(candidate.mask, single.mask):
            return Preview(many, index)
    return Preview((single, *many), 0)


def _candidates(
    runtime: Runtime, features: FrameFeatures, prompt: ObjectPrompt, *, multimask: bool
) -> tuple[Candidate, ...]:
    out = runtime.decode(features, [prompt], multimask=multimask)
    masks = out.logits[0].detach().float().cpu().numpy() > 0
    scores = out.scores[0].detach().float().cpu().numpy()
    return tuple(Candidate(masks[k], float(scores[k])) for k in range(masks.shape[0]))
