"""The tracker's logic driven by an oracle engine on generated clips (fast, exact truth)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clip_checks import check_run, clip_info, clip_triples, iou

from segany_video.errors import PromptError
from segany_video.results import TrackState
from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.tracker import Tracker


def run(clip, engine, prompts, *, rewind=True, tracker=None, indices=None):
    tracker = tracker or Tracker(engine, prompts)
    frames = encode_sequentially(engine, clip_triples(clip, indices))
    back = (lambda idx: encode_sequentially(engine, clip_triples(clip, idx))) if rewind else None
    return list(tracker.track(frames, back)), tracker


def test_identities_survive_crossing_occlusion_and_leaving(clip, oracle):
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    results, _ = run(clip, oracle, prompts)
    assert [r.index for r in results] == list(range(len(clip)))
    assert all(list(r.objects) == [1, 2, 3] for r in results)
    report = check_run(clip, results)
    assert report.switches == 0
    assert report.state_errors == []
    assert report.mean_iou > 0.95
    # the hidden object and the wanderer really were lost and found again, under their ids
    for object_id in (2, 3):
        (hidden,) = clip.hidden_ranges(object_id)
        states = [results[i].objects[object_id].state for i in range(len(clip))]
        assert states[hidden.start + 3] is TrackState.LOST
        assert hidden.stop + 3 < len(clip)
        assert states[hidden.stop + 3] is TrackState.TRACKED


def test_masks_are_disjoint_and_boxes_tight(clip, oracle):
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    results, _ = run(clip, oracle, prompts, indices=range(20))
    for result in results:
        stack = np.stack([o.mask for o in result.objects.values()])
        assert stack.sum(axis=0).max() <= 1
        for obj in result.objects.values():
            if obj.mask.any():
                ys, xs = np.nonzero(obj.mask)
                assert obj.box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
                assert 0.0 < obj.score <= 1.0
            else:
                assert obj.box is None and obj.score == 0.0


def late_prompts(clip, start: int):
    """Object 1 from frame 0; object 3 only from a box on frame ``start``."""
    data = clip.prompts()
    box3 = clip.boxes(start)[3]
    data["objects"] = [data["objects"][0], data["objects"][2]]
    data["objects"][1]["keyframes"] = [{"frame": start, "box": [int(v) for v in box3]}]
    return PromptSet.from_dict(data).resolve(clip_info(clip))


def test_backward_pass_fills_frames_before_a_late_keyframe(clip, oracle):
    start = 12
    prompts = late_prompts(clip, start)
    results, _ = run(clip, oracle, prompts, indices=range(20))
    states = [r.objects[3].state for r in results]
    assert states[start] is TrackState.PROMPTED
    assert all(s is TrackState.TRACKED for s in states[:start])
    for i in range(start):
        assert iou(results[i].objects[3].mask, clip.masks(i)[3]) > 0.9
    # without rewind the frames before the keyframe are inactive and empty
    results, _ = run(clip, oracle, prompts, rewind=False, indices=range(20))
    assert all(results[i].objects[3].state is TrackState.INACTIVE for i in range(start))
    assert not any(results[i].objects[3].mask.any() for i in range(start))
    assert results[start].objects[3].state is TrackState.PROMPTED


def test_result_does_not_depend_on_the_direction_that_came_first(clip, oracle):
    """Object 3's frames before its keyframe come from the backward pass whether or not the
    forward objects exist, and the forward object's frames do not change because of it."""
    start = 12
    both, _ = run(clip, oracle, late_prompts(clip, start), indices=range(20))
    alone_back = PromptSet.from_dict(
        {
            "objects": [
                {
                    "id": 3,
                    "keyframes": [{"frame": start, "box": [int(v) for v in clip.boxes(start)[3]]}],
                }
            ]
        }
    ).resolve(clip_info(clip))
    only3, _ = run(clip, oracle, alone_back, indices=range(20))
    only1 = PromptSet.from_dict({"objects": [clip.prompts()["objects"][0]]}).resolve(
        clip_info(clip)
    )
    only1_results, _ = run(clip, oracle, only1, indices=range(20))
    for i in range(start):
        assert np.array_equal(both[i].objects[3].mask, only3[i].objects[3].mask)
        # pixels object 3 does not claim are object 1's, exactly as when tracked alone
        free = ~both[i].objects[3].mask
        assert np.array_equal(
            both[i].objects[1].mask & free, only1_results[i].objects[1].mask & free
        )


def test_single_click_seeds_from_the_best_multimask_candidate(clip, oracle):
    mask = clip.masks(0)[1]
    ys, xs = np.nonzero(mask)
    k = len(ys) // 2
    data = {
        "objects": [{"id": 1, "keyframes": [{"frame": 0, "points": [[int(xs[k]), int(ys[k]), 1]]}]}]
    }
    prompts = PromptSet.from_dict(data).resolve(clip_info(clip))
    results, _ = run(clip, oracle, prompts, indices=range(3))
    # the oracle scores its exact mask 0.95, a grown one 0.6, a shrunk one 0.7
    assert np.array_equal(results[0].objects[1].mask, mask)
    assert results[0].objects[1].score == pytest.approx(0.95)


def test_a_later_keyframe_corrects_the_track(clip, oracle):
    data = clip.prompts()
    data["objects"] = [data["objects"][0]]
    corrected = np.zeros_like(clip.masks(5)[1])
    corrected[10:30, 10:40] = True  # deliberately different from the truth
    data["objects"][0]["keyframes"].append({"frame": 5, "mask": corrected})
    prompts = PromptSet.from_dict(data).resolve(clip_info(clip))
    results, _ = run(clip, oracle, prompts, indices=range(7))
    assert results[5].objects[1].state is TrackState.PROMPTED
    assert np.array_equal(results[5].objects[1].mask, corrected)
    assert results[4].objects[1].state is TrackState.TRACKED


def test_empty_engine_answer_to_a_user_prompt_is_an_error(clip, oracle):
    data = {"objects": [{"id": 1, "keyframes": [{"frame": 0, "points": [[1, 1, 1]]}]}]}
    prompts = PromptSet.from_dict(data).resolve(clip_info(clip))
    with pytest.raises(PromptError, match="object 1, frame 0"):
        run(clip, oracle, prompts, indices=range(2))


def roundtrip(snapshot: dict) -> dict:
    """Prove the snapshot is plain data: numpy arrays go through np.save, the rest through JSON."""
    arrays = []

    def strip(value):
        if isinstance(value, np.ndarray):
            arrays.append(value.copy())
            return {"__array__": len(arrays) - 1}
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    text = json.dumps(strip(snapshot))

    def dress(value):
        if isinstance(value, dict) and set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if isinstance(value, dict):
            return {k: dress(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dress(v) for v in value]
        return value

    return dress(json.loads(text))


@pytest.mark.parametrize("cut", [0, 17])
def test_resume_from_snapshot_is_bit_identical(clip, oracle, cut):
    prompts = late_prompts(clip, 12)
    full, _ = run(clip, oracle, prompts, indices=range(40))
    first, tracker = run(clip, oracle, prompts, indices=range(cut + 1))
    snapshot = roundtrip(tracker.snapshot())
    resumed_tracker = Tracker(oracle, prompts)
    resumed_tracker.restore(snapshot)
    rest, _ = run(clip, oracle, prompts, tracker=resumed_tracker, indices=range(cut + 1, 40))
    assert len(first) + len(rest) == len(full)
    for expected, got in zip(full, first + rest, strict=True):
        assert expected.index == got.index
        for object_id in expected.objects:
            a, b = expected.objects[object_id], got.objects[object_id]
            assert np.array_equal(a.mask, b.mask)
            assert (a.score, a.state) == (b.score, b.state)


def test_snapshot_from_other_prompts_is_refused(clip, oracle):
    tracker = Tracker(oracle, late_prompts(clip, 12))
    other = Tracker(oracle, PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip)))
    with pytest.raises(PromptError, match="snapshot"):
        other.restore(tracker.snapshot())
