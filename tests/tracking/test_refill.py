"""Lost stretches filled backward from where the object is found again (oracle engine)."""

from __future__ import annotations

import numpy as np
from clip_checks import check_run, clip_info, clip_triples, iou
from oracle_engine import OracleEngine
from test_tracker_logic import roundtrip

from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.runtime.encoded import encode_sequentially
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.refill import LostStretchFiller
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker

FRAMES = 30
LOST = range(12, 17)  # object 1 is in view throughout; the scripted forward pass misses it here
FOUND_SCORE = 0.5


def scripted(clip, lost=LOST, frames=FRAMES):
    """Forward results of object 1: its true mask, except LOST on ``lost``."""
    results = []
    for index in range(frames):
        truth = clip.masks(index)[1]
        if index in lost:
            outcome = ObjectResult(1, np.zeros_like(truth), None, 0.0, TrackState.LOST)
        else:
            state = TrackState.PROMPTED if index == 0 else TrackState.TRACKED
            score = FOUND_SCORE if index == lost.stop else 0.9
            outcome = ObjectResult(1, truth, mask_box(truth), score, state)
        results.append(FrameResult(index, index / clip.fps, {1: outcome}))
    return results


def rewinder(clip, engine, calls=None):
    def rewind(indices):
        if calls is not None:
            calls.append(list(indices))
        return encode_sequentially(engine, clip_triples(clip, indices))

    return rewind


def run_filler(clip, oracle, limit, lost=LOST):
    filler = LostStretchFiller(oracle, [1], TrackerSettings(), limit)
    calls, out, held_while = [], [], []
    rewind = rewinder(clip, oracle, calls)
    before = {}
    for result in scripted(clip, lost):
        released = list(filler.push(result, before, rewind))
        before = {object_id: o.state for object_id, o in result.objects.items()}
        held_while.append((result.index, filler.holding))
        out.extend(released)
    out.extend(filler.flush())
    return out, calls, held_while


def test_a_lost_stretch_is_filled_backward_from_the_find(clip, oracle):
    out, calls, _ = run_filler(clip, oracle, limit=30)
    assert [r.index for r in out] == list(range(FRAMES))
    # one backward pass, from the find down to the first lost frame
    assert calls == [list(range(LOST.stop, LOST.start - 1, -1))]
    for index in LOST:
        outcome = out[index].objects[1]
        assert outcome.state is TrackState.TRACKED
        assert iou(outcome.mask, clip.masks(index)[1]) > 0.9
        # no surer than the find it started from
        assert 0.0 < outcome.score <= FOUND_SCORE
    # the frames around it are the forward pass's, untouched
    for index in (LOST.start - 1, LOST.stop):
        assert np.array_equal(out[index].objects[1].mask, clip.masks(index)[1])


def test_results_are_held_only_while_the_object_is_lost(clip, oracle):
    _, _, held_while = run_filler(clip, oracle, limit=30)
    holding = [index for index, held in held_while if held]
    assert holding == list(LOST)


def test_a_stretch_longer_than_the_limit_goes_out_unfilled(clip, oracle):
    out, calls, held_while = run_filler(clip, oracle, limit=len(LOST) - 1)
    assert [r.index for r in out] == list(range(FRAMES))
    assert calls == []
    assert all(out[index].objects[1].state is TrackState.LOST for index in LOST)
    # never more than the limit held back
    assert sum(held for _, held in held_while) <= len(LOST)


def test_an_object_never_found_again_is_let_out_at_the_end(clip, oracle):
    lost = range(20, FRAMES + 1)
    out, calls, _ = run_filler(clip, oracle, limit=30, lost=lost)
    assert [r.index for r in out] == list(range(FRAMES))
    assert calls == []
    assert all(out[index].objects[1].state is TrackState.LOST for index in range(20, FRAMES))


def test_the_fill_stops_where_the_object_was_really_hidden(clip, oracle):
    """The hidden and the wandering object go out of view and come back: each find starts a
    backward pass, and it gives no mask to a frame where the object is out of view."""
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    tracker = Tracker(oracle, prompts, TrackerSettings(refill_frames=60))
    frames = encode_sequentially(oracle, clip_triples(clip))
    calls = []
    results = list(tracker.track(frames, rewinder(clip, oracle, calls)))
    assert [r.index for r in results] == list(range(len(clip)))
    # one backward pass per return into view, starting where the object was found again
    comebacks = [clip.hidden_ranges(object_id)[0].stop for object_id in (2, 3)]
    assert len(calls) == 2
    for call, comeback in zip(sorted(calls), sorted(comebacks), strict=True):
        assert abs(call[0] - comeback) <= 2
    report = check_run(clip, results)
    assert report.state_errors == []
    assert report.switches == 0
    # The occluder is never lost: its frames, held while the others were, come out unchanged.
    plain = Tracker(oracle, prompts, TrackerSettings(refill_frames=0))
    frames = encode_sequentially(oracle, clip_triples(clip))
    for a, b in zip(results, plain.track(frames, rewinder(clip, oracle)), strict=True):
        assert np.array_equal(a.objects[1].mask, b.objects[1].mask)
        assert a.objects[1].score == b.objects[1].score


def test_settled_says_when_a_snapshot_is_the_state_after_the_result(clip, oracle):
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    tracker = Tracker(oracle, prompts)
    frames = encode_sequentially(oracle, clip_triples(clip))
    seen_unsettled = False
    for result in tracker.track(frames, rewinder(clip, oracle)):
        assert tracker.settled() == (result.index == tracker.last_index)
        seen_unsettled |= not tracker.settled()
    assert seen_unsettled  # the clip's hidden and wandering objects are lost for a while


def test_without_refill_nothing_is_held(clip, oracle):
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    tracker = Tracker(oracle, prompts, TrackerSettings(refill_frames=0))
    frames = encode_sequentially(oracle, clip_triples(clip, range(40)))
    for result in tracker.track(frames, rewinder(clip, oracle)):
        assert tracker.settled() and result.index == tracker.last_index


class BlindOracle(OracleEngine):
    """The oracle, but the first time it is asked about a frame of ``blind`` it sees nothing:
    the forward pass loses every object there, a backward pass later sees them."""

    def __init__(self, frames, truth, blind):
        super().__init__(frames, truth)
        self.blind, self.seen = set(blind), set()

    def decode(self, features, prompts, *, multimask=True):
        candidates = super().decode(features, prompts, multimask=multimask)
        if features.index in self.blind and features.index not in self.seen:
            self.seen.add(features.index)
            candidates.logits.fill_(-1.0)
            candidates.scores.zero_()
        return candidates


BLIND = range(12, 15)


def track_blind(clip, prompts, indices, tracker=None, settings=None):
    tracker = tracker or Tracker(BlindOracle.for_clip(clip, BLIND), prompts, settings)
    engine = tracker.model
    frames = encode_sequentially(engine, clip_triples(clip, indices))
    return list(tracker.track(frames, rewinder(clip, engine))), tracker


def test_frames_the_forward_pass_missed_are_filled(clip):
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    plain, _ = track_blind(clip, prompts, range(30), settings=TrackerSettings(refill_frames=0))
    filled, _ = track_blind(clip, prompts, range(30))
    for index in BLIND:
        assert plain[index].objects[1].state is TrackState.LOST
        outcome = filled[index].objects[1]
        assert outcome.state is TrackState.TRACKED
        assert iou(outcome.mask, clip.masks(index)[1]) > 0.9


def test_a_run_resumed_just_before_a_loss_fills_it_as_an_unbroken_run(clip):
    """The snapshot carries each object's last state, where a lost stretch may begin."""
    prompts = PromptSet.from_dict(clip.prompts()).resolve(clip_info(clip))
    full, _ = track_blind(clip, prompts, range(30))
    cut = BLIND.start - 1
    first, first_tracker = track_blind(clip, prompts, range(cut + 1))
    assert first_tracker.settled()
    resumed = Tracker(BlindOracle.for_clip(clip, BLIND), prompts)  # a new process: nothing seen yet
    resumed.restore(roundtrip(first_tracker.snapshot()))
    rest, _ = track_blind(clip, prompts, range(cut + 1, 30), tracker=resumed)
    assert rest[0].objects[1].state is TrackState.TRACKED  # filled, as in the unbroken run
    for expected, got in zip(full, first + rest, strict=True):
        assert expected.index == got.index
        for object_id, a in expected.objects.items():
            b = got.objects[object_id]
            assert np.array_equal(a.mask, b.mask)
            assert (a.score, a.state) == (b.score, b.state)
