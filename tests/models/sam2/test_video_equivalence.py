"""Video mode against Meta's ``SAM2VideoPredictor``: same random weights, same frames, same prompts.

A generated 24-frame clip with 3 objects (clicks, a box and a mask on frame 0), a 4th object
added at frame 6 (tracked backward to frame 0 and forward from there) and a correction click on
object 1 at frame 12. Every frame, every object: mask logits within 1e-4, identical binary masks,
the same object-score logits. The model is a reduced-size SAM 2.1 (256-pixel input) so the whole
comparison takes seconds.
"""

from __future__ import annotations

import functools
import types
import warnings

import numpy as np
import pytest
import torch
from meta_build import build_meta_sam2, import_meta, random_state_dict
from oracle import import_sam2
from video_oracle import MetaFrame, add_prompt, frames_given, run_meta, scipy_components

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.variants import build_sam2, reduced_config
from segany_video.models.sam2.video import Sam2Video
from segany_video.models.sam2.video_session import VideoSession
from segany_video.models.sam2.video_settings import VideoSettings
from segany_video.synthetic.clips import make_clip

NUM_FRAMES = 24
FRAME_SIZE = (96, 160)  # (H, W)


@functools.cache
def _setup(version: str) -> types.SimpleNamespace:
    """Both models with one random state dict, the clip, its features and the keyframes."""
    torch.manual_seed(0)
    base = "sam2.1_hiera_tiny" if version == "2.1" else "sam2_hiera_tiny"
    config = reduced_config(base)
    oracle = import_meta()
    meta = build_meta_sam2(oracle, config, base_variant=base, reduced=True, predictor="video")
    state = random_state_dict(meta, seed=11)
    # Random weights put every object-score logit near -0.1 (every object absent, every mask
    # empty); a wider, shifted score head gives both present and absent frames.
    head = "sam_mask_decoder.pred_obj_score_head.layers.2"
    state[f"{head}.weight"] *= 20.0
    state[f"{head}.bias"][:] = 1.0
    meta.load_state_dict(state, strict=True)
    ours = build_sam2(config, model_class=Sam2ImageSegmenter)
    ours.load_state_dict(state, strict=True)
    ours.eval()
    clip = make_clip(5, num_frames=NUM_FRAMES, size=(FRAME_SIZE[1], FRAME_SIZE[0]))
    frames = torch.from_numpy(np.stack([clip.frame(i) for i in range(NUM_FRAMES)]))
    with torch.inference_mode():
        images = ours.preprocess(frames)
        features = ours.embed(frames)
    return types.SimpleNamespace(
        meta=meta,
        module=import_sam2("sam2.sam2_video_predictor"),
        ours=ours,
        clip=clip,
        images=images,
        features=features,
        keyframes=_keyframes(clip),
    )


def _centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([[xs.mean(), ys.mean()]], dtype=np.float32)


def _keyframes(clip: object) -> dict[int, dict[int, ObjectPrompt]]:
    masks0, masks6, masks12 = clip.masks(0), clip.masks(6), clip.masks(12)
    one = np.ones(1, dtype=np.int64)
    box = clip.boxes(0)[2]
    fourth = _centre(masks6[1]) + np.array([[3.0, -2.0]], dtype=np.float32)
    return {
        1: {
            0: ObjectPrompt(points=_centre(masks0[1]), point_labels=one),
            12: ObjectPrompt(points=_centre(masks12[1]) + 4, point_labels=one),
        },
        2: {0: ObjectPrompt(box=box)},
        3: {0: ObjectPrompt(mask=masks0[3].astype(np.float32))},
        4: {
            6: ObjectPrompt(
                points=np.concatenate([fourth, _centre(masks6[3])]),
                point_labels=np.array([1, 0]),
            )
        },
    }


def _run_ours(
    setup: types.SimpleNamespace, settings: VideoSettings
) -> dict[int, dict[int, tuple[torch.Tensor, float]]]:
    """Our results per object id and frame: (logits (H, W), object score)."""
    engine = Sam2Video(setup.ours, settings, num_frames=NUM_FRAMES)
    session = VideoSession(engine, setup.keyframes)
    out: dict[int, dict[int, tuple[torch.Tensor, float]]] = {i: {} for i in setup.keyframes}

    def record(index: int, steps: object) -> None:
        if not steps.steps:
            return
        logits = session.frame_logits(steps, FRAME_SIZE)
        for row, (object_id, step) in enumerate(steps.steps.items()):
            out[object_id][index] = (logits[row], step.object_score)

    with torch.inference_mode():
        for index in session.backward_frames(0):
            record(index, session.step_backward(index, setup.features[index], 0))
        for index in range(NUM_FRAMES):
            record(index, session.step_forward(index, setup.features[index]))
    return out


def _compare(ours: dict[int, tuple[torch.Tensor, float]], theirs: dict[int, MetaFrame]) -> None:
    assert sorted(ours) == sorted(theirs) == list(range(NUM_FRAMES))
    for frame, expected in theirs.items():
        logits, score = ours[frame]
        torch.testing.assert_close(logits, expected.logits, atol=1e-4, rtol=1e-4)
        assert torch.equal(logits > 0, expected.logits > 0), f"frame {frame}: masks differ"
        assert score == pytest.approx(expected.object_score, abs=1e-4), f"frame {frame}"


@pytest.mark.parametrize(
    ("version", "as_conditioning"),
    [
        ("2.1", True),
        pytest.param("2.1", False, marks=pytest.mark.slow),
        pytest.param("2", True, marks=pytest.mark.slow),
        pytest.param("2", False, marks=pytest.mark.slow),
    ],
    ids=[
        "sam2.1-cond-correction",
        "sam2.1-memory-correction",
        "sam2-cond-correction",
        "sam2-memory-correction",
    ],
)
def test_video_mode_equals_meta_predictor(version: str, as_conditioning: bool) -> None:
    setup = _setup(version)
    settings = VideoSettings(fill_hole_area=0, corrections_as_conditioning=as_conditioning)
    ours = _run_ours(setup, settings)
    for object_id, keyframes in setup.keyframes.items():
        theirs = run_meta(
            setup.meta,
            setup.module,
            setup.images,
            FRAME_SIZE,
            keyframes,
            corrections_as_conditioning=as_conditioning,
        )
        _compare(ours[object_id], theirs)
    # The comparison means something only when objects are found on some frames, lost on others.
    scores = [score for frames in ours.values() for _, score in frames.values()]
    assert 0 < sum(score > 0 for score in scores) < len(scores)


@pytest.mark.slow
def test_hole_filling_equals_meta_with_its_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Meta fills holes only with its compiled kernel; given a scipy stand-in for the kernel,
    its predictor must agree with ours (OpenCV) with filling on."""
    setup = _setup("2.1")
    monkeypatch.setattr(
        import_sam2("sam2.utils.misc"), "get_connected_components", scipy_components
    )
    filled = _run_ours(setup, VideoSettings(fill_hole_area=8))
    plain = _run_ours(setup, VideoSettings(fill_hole_area=0))
    changed = sum(
        not torch.equal(filled[i][f][0], plain[i][f][0]) for i in filled for f in filled[i]
    )
    assert changed > 0, "no hole was filled anywhere: the comparison would prove nothing"
    for object_id, keyframes in setup.keyframes.items():
        assert setup.meta.fill_hole_area == 8
        _compare(
            filled[object_id],
            run_meta(setup.meta, setup.module, setup.images, FRAME_SIZE, keyframes),
        )


@pytest.mark.slow
def test_non_overlap_equals_meta_with_all_objects_in_one_state() -> None:
    """Meta's ``non_overlap_masks`` keeps each pixel for its highest-scoring object among all
    objects of the state; three objects prompted on frame 0, tracked forward together."""
    setup = _setup("2.1")
    keyframes = {i: {0: setup.keyframes[i][0]} for i in (1, 2, 3)}
    three = types.SimpleNamespace(**{**vars(setup), "keyframes": keyframes})
    ours = _run_ours(three, VideoSettings(fill_hole_area=0, non_overlap=True))
    free = _run_ours(three, VideoSettings(fill_hole_area=0))
    predictor, module = setup.meta, setup.module
    predictor.non_overlap_masks = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with frames_given(module, setup.images, FRAME_SIZE):
                state = predictor.init_state("unused")
            for object_id, per_frame in keyframes.items():
                add_prompt(predictor, state, 0, per_frame[0], object_id)
            theirs = {f: masks[:, 0] for f, _, masks in predictor.propagate_in_video(state)}
    finally:
        predictor.non_overlap_masks = False
    overlaps = contested = 0
    for frame, logits in theirs.items():
        # Where two objects' logits tie within float noise (the random weights make objects
        # look alike, and absent objects all sit at -1024), either may win: left out.
        before = torch.stack([free[i][frame][0] for i in keyframes])
        top2 = before.topk(2, dim=0).values
        decided = (top2[0] - top2[1]) > 1e-3
        contested += int((decided & ((before > 0).sum(0) > 1)).sum())
        for row, object_id in enumerate(keyframes):
            mine = ours[object_id][frame][0]
            torch.testing.assert_close(mine[decided], logits[row][decided], atol=1e-4, rtol=1e-4)
            assert torch.equal(mine[decided] > 0, logits[row][decided] > 0), (frame, object_id)
        overlaps += int(((logits > 0).sum(0) > 1).sum())
    assert overlaps == 0
    assert contested > 0, "no pixel was claimed by two objects: the constraint was not exercised"
