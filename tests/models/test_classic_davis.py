"""Regression floors for the classic engine on the DAVIS confirmation split (issue 16).

Floors come from the confirmation split of ``configs/davis2016_split.yaml`` (sequences nothing
was tuned on) and sit a little under the figures measured when they were set (see BENCHMARKS.md,
"Classic engine on DAVIS 2016"), so that quality cannot silently drop. Frames are sampled to keep
the file near a minute: single-frame prompts on a few frames of each sequence, and tracking over
the first ``TRACK_FRAMES`` frames of each sequence through the same path as ``track``.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from segany_video.benchmarks.classic import load_frame
from segany_video.evaluation.davis_eval import evaluate_davis
from segany_video.evaluation.davis_split import load_split
from segany_video.evaluation.metrics import region_similarity
from segany_video.models.base import ObjectPrompt
from segany_video.models.classic import build_classic
from segany_video.results import mask_box
from segany_video.tracking.prompt_builder import interior_points

CONFIRMATION = load_split("confirmation")
SAMPLED = (10, 20)  # every confirmation sequence has at least 25 frames
TRACK_FRAMES = 15

# A little under the figures measured when set (BENCHMARKS.md, "Regression floors").
FLOORS = {
    "box mean": 0.58,
    "box min": 0.20,
    "prior mean": 0.76,
    "prior min": 0.48,
    "click mean": 0.44,
    "three clicks mean": 0.46,
    "track J&F mean": 0.65,
}

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def engine():
    torch.set_num_threads(1)
    return build_classic("cpu")


@pytest.fixture(scope="module")
def frame_scores(engine, davis_root: Path) -> dict[str, dict[str, float]]:
    """J per sampled frame for a box, a mask prior (the previous frame's truth) and a click."""
    out: dict[str, dict[str, float]] = {"box": {}, "prior": {}, "prior as is": {}, "click": {}}
    for name in CONFIRMATION:
        for index in SAMPLED:
            key = f"{name}/{index}"
            image, gt = load_frame(davis_root / name, index)
            _, previous = load_frame(davis_root / name, index - 1)
            features = engine.embed(torch.from_numpy(image)[None])[0]
            box = engine.decode(features, [ObjectPrompt(box=mask_box(gt))], multimask=False)
            out["box"][key] = region_similarity(box.masks[0, 0].numpy(), gt)
            prior = engine.decode(
                features, [ObjectPrompt(mask=previous.astype(np.float32))], multimask=False
            )
            out["prior"][key] = region_similarity(prior.masks[0, 0].numpy(), gt)
            out["prior as is"][key] = region_similarity(previous, gt)
            # One click where a user would put it: the object pixel farthest from its boundary.
            distance = cv2.distanceTransform(gt.astype(np.uint8), cv2.DIST_L2, 5)
            y, x = np.unravel_index(int(np.argmax(distance)), distance.shape)
            click = ObjectPrompt(points=np.array([[x + 0.5, y + 0.5]]), point_labels=np.array([1]))
            single = engine.decode(features, [click], multimask=False)
            out["click"][key] = region_similarity(single.masks[0, 0].numpy(), gt)
    return out


def test_box_prompt_quality_floor(frame_scores) -> None:
    js = frame_scores["box"]
    assert len(js) == len(CONFIRMATION) * len(SAMPLED)
    assert np.mean(list(js.values())) >= FLOORS["box mean"], js
    assert min(js.values()) >= FLOORS["box min"], js


def test_mask_prior_quality_floor(frame_scores) -> None:
    js = frame_scores["prior"]
    assert np.mean(list(js.values())) >= FLOORS["prior mean"], js
    assert min(js.values()) >= FLOORS["prior min"], js


def test_mask_prior_improves_on_the_prior_itself(frame_scores) -> None:
    # The previous frame's mask as is: what the engine must beat to be worth running.
    prior, as_is = frame_scores["prior"].values(), frame_scores["prior as is"].values()
    assert np.mean(list(prior)) > np.mean(list(as_is)) + 0.02, frame_scores


def test_one_click_quality_floor(frame_scores) -> None:
    js = frame_scores["click"]
    assert np.mean(list(js.values())) >= FLOORS["click mean"], js


def test_three_clicks_quality_floor(engine, davis_root: Path) -> None:
    # Three clicks spread deep inside each sequence's first object, as eval's clicks prompt.
    js = {}
    for name in CONFIRMATION:
        image, gt = load_frame(davis_root / name, 0)
        features = engine.embed(torch.from_numpy(image)[None])[0]
        points = interior_points(gt, 3)
        prompt = ObjectPrompt(points=points, point_labels=np.ones(len(points), np.int64))
        out = engine.decode(features, [prompt], multimask=False)
        js[name] = region_similarity(out.masks[0, 0].numpy(), gt)
    assert np.mean(list(js.values())) >= FLOORS["three clicks mean"], js


@pytest.mark.slow
def test_tracking_quality_floor(engine, davis_root: Path) -> None:
    # The first frames of every confirmation sequence, tracked from the frame-0 mask as
    # `segany-video eval --split confirmation` (and so `track`) runs them.
    report = evaluate_davis(davis_root, engine, sequences=CONFIRMATION, max_frames=TRACK_FRAMES)
    assert [s.name for s in report.sequences] == CONFIRMATION
    scores = {s.name: round(s.jf_mean, 3) for s in report.sequences}
    assert report.mean.jf_mean >= FLOORS["track J&F mean"], scores
