"""SAM 2 in image mode: the per-frame tracker drives ``Sam2ImageSegmenter`` like any engine.

On the keyframe, each object's mask must come from the candidate the engine itself decodes for
that object's prompt on that frame (the tracker hands the runtime's features and the keyframe
prompt to ``decode``, keeps the best-scored candidate and may only trim it); every frame must
come back with a mask for every object, and run.json must name the mode.
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
from segany_video.results import TrackState
from segany_video.segmenter import VideoSegmenter

FRAMES = 20


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_prompted_clip(tmp_path_factory.mktemp("sam2_image_clip"), FRAMES)


@pytest.fixture(scope="module")
def model():
    return lively_sam2(5)


def _frame0_prompt(keyframes: list[dict]) -> ObjectPrompt | None:
    first = next((kf for kf in keyframes if kf["frame"] == 0), None)
    if first is None:
        return None
    if "points" in first:
        pts = np.array(first["points"], dtype=np.float32)
        return ObjectPrompt(points=pts[:, :2], point_labels=pts[:, 2])
    return ObjectPrompt(box=np.array(first["box"], dtype=np.float32))


@pytest.mark.slow
def test_image_mode_tracks_every_frame_and_keyframes_are_the_engines_own_masks(
    clip, model, tmp_path
) -> None:
    _, paths, prompts = clip
    config = load_config(
        overrides={
            "runtime": {"device": "cpu", "batch_size": 4},
            "tracker": {"mode": "image"},
            "writers": {"formats": ["json"]},
        }
    )
    results = list(VideoSegmenter(model, config=config).track(paths.video, prompts))
    assert [r.index for r in results] == list(range(FRAMES))
    frame0 = decode_frames(paths.video, "rgb24")[0]
    with torch.inference_mode():
        features = model.embed(torch.from_numpy(frame0)[None])[0]
    for obj in prompts["objects"]:
        prompt = _frame0_prompt(obj["keyframes"])
        if prompt is None:
            continue
        got = results[0].objects[obj["id"]]
        assert got.state is TrackState.PROMPTED
        # The tracker's rule: three candidates for a lone click, else the single mask; the best.
        ambiguous = prompt.box is None and len(prompt.points) == 1
        candidates = model.decode(features, [prompt], multimask=ambiguous)
        best = candidates.masks[0, int(candidates.scores[0].argmax())].numpy()
        # The tracker trims a keyframe mask (to the object's region), never grows it.
        assert got.mask.any() and not (got.mask & ~best).any(), f"object {obj['id']}"
    for result in results:
        for object_id, obj in result.objects.items():
            assert obj.mask.shape == frame0.shape[:2], (result.index, object_id)

    summary = VideoSegmenter(model, config=config).run(
        paths.video, prompts, tmp_path / "out", end=8
    )
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["mode"] == summary.mode == "image"
