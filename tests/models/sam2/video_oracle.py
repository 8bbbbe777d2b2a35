"""Meta's ``SAM2VideoPredictor`` driven the way our video mode is defined (test-only).

Per object, in its own inference state (Meta tracks every object on its own, batch size one):
add the first keyframe's prompt; propagate in reverse from it when it is not frame 0; then
propagate forward from it up to and including the next keyframe, add that keyframe's prompt
(a correction of a tracked frame), propagate on from it, and so on to the last frame.

The predictor normally loads JPEGs itself; here its frame loader is replaced for the duration
of ``init_state`` so it receives exactly the preprocessed tensors our pipeline encodes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

from segany_video.models.base import ObjectPrompt


@dataclass
class MetaFrame:
    """Meta's result for one object on one frame."""

    logits: torch.Tensor  # (H, W) at video resolution
    object_score: float


def scipy_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A stand-in for Meta's compiled kernel (``sam2.utils.misc.get_connected_components``):
    what it returns for ``(N, 1, H, W)`` 0/1: labels and per-pixel component area,
    8-connected, 0 on background."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    areas = np.zeros(mask.shape, dtype=np.int32)
    for i, plane in enumerate(mask.cpu().numpy()[:, 0]):
        lab, count = ndimage.label(plane, structure=np.ones((3, 3), dtype=int))
        sizes = np.bincount(lab.ravel(), minlength=count + 1)
        sizes[0] = 0
        labels[i, 0], areas[i, 0] = lab, sizes[lab]
    return torch.from_numpy(labels), torch.from_numpy(areas)


@contextlib.contextmanager
def frames_given(module: object, images: torch.Tensor, size: tuple[int, int]) -> Iterator[None]:
    original = module.load_video_frames

    def load(**_: object) -> tuple[torch.Tensor, int, int]:
        return images, size[0], size[1]

    module.load_video_frames = load
    try:
        yield
    finally:
        module.load_video_frames = original


def _stored(state: dict, frame: int) -> dict:
    """The object's latest output on a frame (a new prompt's output waits in the temp dict)."""
    for outputs in (state["temp_output_dict_per_obj"][0], state["output_dict_per_obj"][0]):
        for key in ("cond_frame_outputs", "non_cond_frame_outputs"):
            out = outputs[key].get(frame)
            if out is not None:
                return out
    raise KeyError(f"Meta's predictor has no output on frame {frame}")


def add_prompt(
    predictor: object, state: dict, frame: int, prompt: ObjectPrompt, object_id: int = 1
) -> torch.Tensor:
    """Add one object's keyframe; returns the masks of every object of the state on it."""
    if prompt.mask is not None:
        _, _, masks = predictor.add_new_mask(state, frame, object_id, prompt.mask >= 0.5)
    else:
        _, _, masks = predictor.add_new_points_or_box(
            state,
            frame,
            object_id,
            points=None if prompt.points is None else prompt.points,
            labels=None if prompt.point_labels is None else prompt.point_labels.astype(np.int32),
            box=None if prompt.box is None else prompt.box,
        )
    return masks


def run_meta(
    predictor: object,
    module: object,
    images: torch.Tensor,
    frame_size: tuple[int, int],
    keyframes: Mapping[int, ObjectPrompt],
    *,
    corrections_as_conditioning: bool = True,
) -> dict[int, MetaFrame]:
    """Meta's results for one object with the given keyframes, by frame index."""
    predictor.add_all_frames_to_correct_as_cond = corrections_as_conditioning
    num_frames = images.shape[0]
    frames = sorted(keyframes)
    out: dict[int, MetaFrame] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped hole filling (no compiled extension)
        with frames_given(module, images, frame_size):
            state = predictor.init_state("unused")

        def record(frame: int, logits: torch.Tensor) -> None:
            score = float(_stored(state, frame)["object_score_logits"][0, 0])
            out[frame] = MetaFrame(logits.clone(), score)

        first = frames[0]
        record(first, add_prompt(predictor, state, first, keyframes[first])[0, 0])
        if first > 0:
            for frame, _, masks in predictor.propagate_in_video(
                state, start_frame_idx=first, reverse=True
            ):
                record(frame, masks[0, 0])
        for current, following in zip(frames, [*frames[1:], None], strict=True):
            start = current
            if current != first:
                record(current, add_prompt(predictor, state, current, keyframes[current])[0, 0])
                if not corrections_as_conditioning:
                    start = current + 1  # the correction is not re-run as a tracked frame
            stop = (following if following is not None else num_frames - 1) - start
            if stop < 0:
                continue
            for frame, _, masks in predictor.propagate_in_video(
                state, start_frame_idx=start, max_frame_num_to_track=stop
            ):
                record(frame, masks[0, 0])
    return out
