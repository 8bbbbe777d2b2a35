"""The tracker with the classic engine: generated clips (exact truth), the bundled sample and
real DAVIS footage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from clip_checks import check_run, clip_info, clip_triples, iou

from segany_video import VideoSegmenter
from segany_video.evaluation.davis_eval import evaluate_davis
from segany_video.models.classic import build_classic
from segany_video.runtime.encoded import encode_sequentially
from segany_video.synthetic.clips import make_clip
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.tracker import Tracker
from segany_video.writers.davis_png import read_davis_png


@pytest.fixture(scope="module")
def classic():
    torch.set_num_threads(1)
    return build_classic()


# Seed 1's wanderer is striped: DIS reads it as moving about 2.4 px a frame where it moves 6,
# and only the similarity fitted to its corners (tracking/rigid.py) keeps the mask on it.
# Seed 2 is a known failure since the learned keyframe colours (colour_likelihood.py): the
# hidden ball is found again at frame 42 as a 62 px sliver at the edge of the blob that hid it,
# a frame earlier than before; a sliver's flow is mostly its occluder's, so by frame 44 the
# carried mask lies beside the ball (both colour models call it background there), no candidate
# passes the gates, and the ball is lost for that frame, 3 frames after it came back, and
# found again at 45. Pinned, so a change either way is seen.
KNOWN_STATE_ERRORS = {2: [(2, 44)]}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.slow
def test_generated_clip_ids_iou_and_lost_states(classic, seed):
    clip = make_clip(seed, num_frames=70, size=(192, 128))
    for object_id in (2, 3):  # the scenario really hides them for 10+ frames
        assert max(len(r) for r in clip.hidden_ranges(object_id)) >= 10
    tracker = Tracker(classic, PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip)))
    results = list(tracker.track(encode_sequentially(classic, clip_triples(clip))))
    report = check_run(clip, results)
    assert report.switches == 0
    # Lost exactly while hidden, within 2 frames, but for the known failures.
    assert report.state_errors == KNOWN_STATE_ERRORS.get(seed, [])
    assert report.mean_iou >= 0.9


SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="bundled sample not in this checkout")
@pytest.mark.slow
def test_bundled_sample_small_object_is_followed_again_after_hiding():
    """The demo clip: object 2 hides behind object 1 (frames 47-88) and is fully out again from
    frame 94. Its mask once slid onto the ground just before it hid and taught the colour model
    ground, so the search found it only at frame 120; found earlier, it trailed a wake over the
    ground it now stood on (1960 -> 6090 px in 6 frames for a 1920 px object) and slid off.
    Frames up to 110 hold both: measured 2 visibility mismatches (frames 45 and 89, as it goes and
    comes) and IoU 0.88 over the frames it shows, against 23 and 0.61 before."""
    ground_truth = sorted((SAMPLE / "ground_truth").glob("*.png"))
    mismatches, ious = 0, []
    segmenter = VideoSegmenter()
    for frame in segmenter.track(SAMPLE / "clip.mp4", SAMPLE / "prompts.json", end=110):
        truth = read_davis_png(ground_truth[frame.index]) == 2
        mask = frame.objects[2].mask
        mismatches += int(mask.any() != truth.any())
        if truth.any():
            ious.append(iou(mask, truth))
    assert len(ious) == 68  # frames 0-46 and 89-109
    assert mismatches <= 4
    assert np.mean(ious) >= 0.85


@pytest.mark.real_data
def test_davis_look_alike_background_stays_out(classic, davis_root):
    """Tennis: a red banner far above the player shares his colours; colour alone must not add
    such far pixels to the mask (it did within 3 frames, scoring J&F under 0.6 here). The
    quality floors themselves are on the confirmation split (tests/models/test_classic_davis.py);
    this one guards a failure mode."""
    report = evaluate_davis(davis_root, classic, sequences=["tennis"], max_frames=20)
    assert report.sequences[0].jf_mean >= 0.69
