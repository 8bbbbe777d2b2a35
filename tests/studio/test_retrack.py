"""The re-tracking rules, the object board and the result store, without a server."""

from __future__ import annotations

import numpy as np
import pytest

from segany_video.errors import PromptError
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.studio.objects import ObjectBoard
from segany_video.studio.retrack import TrackedPrompts, first_changed_frame
from segany_video.studio.store import ResultStore


def _board(*objects: dict[int, list[tuple[float, float, int]]]) -> ObjectBoard:
    board = ObjectBoard((100, 200))
    for keyframes in objects:
        obj = board.add()
        for frame, points in keyframes.items():
            for x, y, label in points:
                board.add_point(obj.id, frame, x, y, label)
    return board


def _tracked(board: ObjectBoard, start: int = 0, end: int | None = 50) -> TrackedPrompts:
    return TrackedPrompts.of(board.prompted(), start, end)


P = (10.0, 10.0, 1)
Q = (20.0, 30.0, 0)


@pytest.mark.parametrize(
    "old, new, old_range, new_range, expected",
    [
        # same prompts: nothing changes
        (({0: [P]},), ({0: [P]},), (0, 50), (0, 50), None),
        # a keyframe added on frame 20: from 20 on
        (({0: [P]},), ({0: [P], 20: [Q]},), (0, 50), (0, 50), 20),
        # a click added to an existing later keyframe: from that frame
        (({0: [P], 20: [Q]},), ({0: [P], 20: [Q, P]},), (0, 50), (0, 50), 20),
        # a keyframe removed on frame 30: from 30
        (({0: [P], 30: [Q]},), ({0: [P]},), (0, 50), (0, 50), 30),
        # the first keyframe on the range start changed: everything
        (({0: [P]},), ({0: [Q]},), (0, 50), (0, 50), 0),
        # an object added: everything
        (({0: [P]},), ({0: [P]}, {0: [Q]}), (0, 50), (0, 50), 0),
        # a late object's first keyframe moves: its backward pass changes, so everything
        (({0: [P]}, {10: [Q]}), ({0: [P]}, {12: [Q]}), (0, 50), (0, 50), 0),
        # a late object gains a later keyframe: forward from there only
        (({0: [P]}, {10: [Q]}), ({0: [P]}, {10: [Q], 25: [P]}), (0, 50), (0, 50), 25),
        # the range grows at its end: from the old end
        (({0: [P]},), ({0: [P]},), (0, 50), (0, 80), 50),
        (({0: [P]},), ({0: [P]},), (0, 50), (0, None), 50),
        # a new range start: everything
        (({5: [P]},), ({5: [P]},), (0, 50), (5, 50), 5),
    ],
)
def test_first_changed_frame(old, new, old_range, new_range, expected):
    before = _tracked(_board(*old), *old_range)
    after = _tracked(_board(*new), *new_range)
    assert first_changed_frame(before, after) == expected


def test_nothing_tracked_yet_means_everything():
    assert first_changed_frame(None, _tracked(_board({3: [P]}), 2, None)) == 2


def test_board_undo_and_prompts_file():
    board = _board({0: [P]})
    board.set_box(1, 0, (150, 90, 10, 5))  # any drag direction; XYXY stored
    mask = np.zeros((100, 200), bool)
    mask[10:20, 30:40] = True
    board.add()
    board.set_mask(2, 7, mask, "upload")
    data, masks = board.prompts_file()
    assert data["objects"][0]["keyframes"] == [
        {"frame": 0, "points": [[10.0, 10.0, 1]], "box": [10.0, 5.0, 150.0, 90.0]}
    ]
    assert data["objects"][1]["keyframes"] == [{"frame": 7, "mask": "masks/2_00007.png"}]
    assert np.array_equal(masks["masks/2_00007.png"], mask)
    assert board.undo() and not board.get(2).keyframes  # the mask is gone, object 2 stays
    assert board.undo() and list(board.objects) == [1]
    assert board.undo() and board.get(1).keyframes[0].box is None
    with pytest.raises(PromptError, match="outside the 200x100 frame"):
        board.add_point(1, 0, 250, 10, 1)
    with pytest.raises(PromptError, match="too small"):
        board.set_box(1, 0, (10, 10, 11, 50))


def _result(index: int, mask: np.ndarray) -> FrameResult:
    box = np.array([1, 2, 3, 4], np.float32)
    obj = ObjectResult(1, mask, box, 0.75, TrackState.TRACKED)
    return FrameResult(index, index / 30, {1: obj})


def test_store_gives_back_exact_results_and_thins_snapshots():
    rng = np.random.default_rng(0)
    store = ResultStore((37, 53), [1], start=0, snapshot_every=1, max_snapshots=4)
    masks = [rng.random((37, 53)) > 0.5 for _ in range(10)]
    for index, mask in enumerate(masks):
        store.add(_result(index, mask))
        if store.wants_snapshot(index):
            store.add_snapshot(index, {"at": index})
    for index, mask in enumerate(masks):
        back = store.frame(index)
        assert np.array_equal(back.objects[1].mask, mask)
        assert back.objects[1].box.tolist() == [1, 2, 3, 4] and back.timestamp == index / 30
    assert len(store.snapshots) <= 4 and store.snapshot_every > 1
    index, snapshot = store.snapshot_before(9)
    assert index < 9 and snapshot == {"at": index}
    store.drop_from(5)
    assert store.done_until() == 5 and all(i < 5 for i in store.snapshots)
    assert store.states(3, 4) == {1: "tt--"}
