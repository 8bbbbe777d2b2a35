"""A tracker refuses a snapshot taken by another tracker kind, version or prompt set."""

from __future__ import annotations

import pytest

from segany_video.errors import PromptError
from segany_video.tracking.tracker import check_snapshot

CLASSIC = {"version": 1, "object_ids": [1, "ball"]}
VIDEO = {"version": 1, "kind": "sam2-video", "object_ids": [1, "ball"]}


def test_matching_snapshots_pass() -> None:
    check_snapshot(CLASSIC, 1, None, [1, "ball"])
    check_snapshot(VIDEO, 1, "sam2-video", (1, "ball"))


@pytest.mark.parametrize(
    ("snapshot", "kind", "version", "ids", "words"),
    [
        (VIDEO, None, 1, [1, "ball"], ["'sam2-video'", "expected 'classic'"]),
        (CLASSIC, "sam2-video", 1, [1, "ball"], ["'classic'", "expected 'sam2-video'"]),
        (CLASSIC, None, 2, [1, "ball"], ["version 1", "version 2"]),
        (CLASSIC, None, 1, ["ball", 1], ["objects [1, 'ball']", "have ['ball', 1]"]),
    ],
)
def test_other_snapshots_are_refused(snapshot, kind, version, ids, words) -> None:
    with pytest.raises(PromptError) as info:
        check_snapshot(snapshot, version, kind, ids)
    for word in words:
        assert word in str(info.value)
