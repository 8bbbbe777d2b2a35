"""SAM 2 video mode through the whole pipeline: runtime, tracker, segmenter, run.json, bounds.

The model-level steps equal Meta's predictor (``tests/models/sam2``); here the pipeline must
give exactly what the model-level session gives on the same decoded frames, keep its memory
bounded, and report the mode.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from api_clips import decode_frames
from sam2_video_clips import lively_sam2, write_prompted_clip

from segany_video.config import load_config
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam2.video import Sam2Video
from segany_video.models.sam2.video_session import VideoSession
from segany_video.models.sam2.video_settings import VideoSettings
from segany_video.readers.reader import open_video
from segany_video.results import TrackState
from segany_video.runtime.encoded import EncodedFrame
from segany_video.segmenter import VideoSegmenter
from segany_video.tracking.memory_tracker import MemoryTracker
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.selection import make_tracker
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker

FRAMES = 20


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_prompted_clip(tmp_path_factory.mktemp("sam2_video_clip"), FRAMES)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return lively_sam2(3)


def _expected(model, frames: np.ndarray, prompts: dict) -> dict[int, dict[int, np.ndarray]]:
    """Masks straight from the model-level session on the same decoded frames."""
    keyframes = {}
    for obj in prompts["objects"]:
        per = {}
        for kf in obj["keyframes"]:
            if "points" in kf:
                pts = np.array(kf["points"], dtype=np.float32)
                per[kf["frame"]] = ObjectPrompt(points=pts[:, :2], point_labels=pts[:, 2])
            else:
                per[kf["frame"]] = ObjectPrompt(box=np.array(kf["box"], dtype=np.float32))
        keyframes[obj["id"]] = per
    session = VideoSession(Sam2Video(model, VideoSettings(), num_frames=FRAMES), keyframes)
    size = frames.shape[1:3]
    out: dict[int, dict[int, np.ndarray]] = {i: {} for i in keyframes}
    model.frame_resize = "pil_bicubic"  # what video mode sets (see make_tracker)
    with torch.inference_mode():
        features = model.embed(torch.from_numpy(frames))

        def record(index, steps):
            if steps.steps:
                logits = session.frame_logits(steps, size)
                for row, (oid, step) in enumerate(steps.steps.items()):
                    mask = (logits[row] > 0).numpy()
                    present = step.present or oid in steps.prompted
                    out[oid][index] = mask if present else np.zeros_like(mask)

        for index in session.backward_frames(0):
            record(index, session.step_backward(index, features[index], 0))
        for index in range(FRAMES):
            record(index, session.step_forward(index, features[index]))
    return out


@pytest.mark.slow
def test_pipeline_equals_the_model_level_session(clip, model) -> None:
    _, paths, prompts = clip
    frames = decode_frames(paths.video, "rgb24")
    expected = _expected(model, frames, prompts)
    config = load_config(overrides={"runtime": {"device": "cpu", "batch_size": 3}})
    results = list(VideoSegmenter(model, config=config).track(paths.video, prompts))
    assert [r.index for r in results] == list(range(FRAMES))
    states = {state: 0 for state in TrackState}
    for result in results:
        for object_id, obj in result.objects.items():
            states[obj.state] += 1
            assert np.array_equal(obj.mask, expected[object_id][result.index]), (
                f"object {object_id}, frame {result.index}"
            )
    # object 3 starts at frame 6 and has results before it (the backward pass)
    assert all(r.objects[3].state is not TrackState.INACTIVE for r in results)
    prompted = [
        (r.index, oid)
        for r in results
        for oid, o in r.objects.items()
        if o.state is TrackState.PROMPTED
    ]
    assert sorted(prompted) == [(0, 1), (0, 2), (6, 3), (12, 1)]
    assert states[TrackState.TRACKED] > 0 and states[TrackState.LOST] > 0


@pytest.mark.slow
def test_memory_stays_within_the_attention_window(clip, model) -> None:
    _, paths, prompts = clip
    frames = decode_frames(paths.video, "rgb24")
    with open_video(paths.video) as video:
        resolved = PromptSet.from_dict(prompts).resolve(video.info)
    tracker = MemoryTracker(model, resolved, VideoSettings(), num_frames=FRAMES)
    config = model.config
    largest = 0
    with torch.inference_mode():
        features = model.embed(torch.from_numpy(frames))
    encoded = [EncodedFrame(i, i / 30, frames[i], features[i]) for i in range(FRAMES)]
    for _ in tracker.track(encoded, lambda idx: iter([encoded[i] for i in idx])):
        for track in tracker._session._tracks.values():
            spatial = sum(e.features is not None for e in track.memory.recent.values())
            assert len(track.memory.recent) <= config.max_obj_ptrs_in_encoder + len(
                track.memory.pinned
            )
            assert spatial <= config.num_maskmem + len(track.memory.pinned)
            largest = max(largest, len(track.memory.recent))
    assert largest > 0


@pytest.mark.slow
def test_mode_selection_and_run_json(clip, model, tmp_path) -> None:
    _, paths, prompts = clip
    with open_video(paths.video) as video:
        resolved = PromptSet.from_dict(prompts).resolve(video.info)
    assert isinstance(make_tracker(model, resolved, TrackerSettings(mode="image")), Tracker)
    assert model.frame_resize == "bilinear"
    assert isinstance(make_tracker(model, resolved, TrackerSettings()), MemoryTracker)
    assert model.frame_resize == "pil_bicubic"
    config = load_config(overrides={"runtime": {"device": "cpu"}, "writers": {"formats": ["json"]}})
    summary = VideoSegmenter(model, config=config).run(
        paths.video, prompts, tmp_path / "out", end=8
    )
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["mode"] == summary.mode == "video"
    assert run["engine"] == "sam2.1_hiera_tiny_reduced"
