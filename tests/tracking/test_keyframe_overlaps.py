"""Two objects prompted on one frame over the same pixels: a part inside a whole, or twins."""

from __future__ import annotations

import pytest
import torch
from clip_checks import clip_info, clip_triples

from segany_video.errors import PromptError
from segany_video.models.classic import build_classic
from segany_video.runtime.encoded import encode_sequentially
from segany_video.synthetic.clips import make_clip
from segany_video.tracking.prompts import PromptSet
from segany_video.tracking.tracker import Tracker


@pytest.fixture(scope="module")
def clip():
    torch.set_num_threads(1)
    return make_clip(0, num_frames=16, size=(160, 96))


def _track(clip, objects):
    model = build_classic()
    prompts = PromptSet.from_dict({"objects": objects}).resolve(clip_info(clip))
    frames = encode_sequentially(model, clip_triples(clip, range(3)))
    return list(Tracker(model, prompts).track(frames))


def test_part_prompted_inside_a_whole_keeps_its_pixels(clip):
    whole = {"id": 1, "keyframes": [{"frame": 0, "box": [20, 30, 70, 80]}]}
    part = {"id": 2, "keyframes": [{"frame": 0, "points": [[40, 50, 1]]}]}
    results = _track(clip, [whole, part])
    first = results[0].objects
    assert first[2].mask.any() and first[1].mask.any()
    for result in results:
        assert not (result.objects[1].mask & result.objects[2].mask).any()


def test_identical_prompts_on_one_frame_name_the_object(clip):
    box = [20, 30, 70, 80]
    twins = [{"id": i, "keyframes": [{"frame": 0, "box": box}]} for i in ("a", "b")]
    with pytest.raises(PromptError, match=r"object 'b', frame 0"):
        _track(clip, twins)
