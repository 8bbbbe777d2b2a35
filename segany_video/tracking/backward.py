"""Results of the backward pass, held compactly until the forward stream reaches their frames.

Merge rule: an object's result on frame ``f`` comes from the backward pass when ``f`` is before
the object's first keyframe, and from the forward pass otherwise. Each (frame, object) pair is
therefore decided by exactly one direction, so the output never depends on which direction
reached a frame first. Where a backward mask overlaps a forward mask on the same frame the
higher score keeps the pixel (ties: the object listed first).
"""

from __future__ import annotations

import numpy as np

from segany_video.results import ObjectResult, TrackState, mask_box


def mask_runs(mask: np.ndarray) -> np.ndarray | None:
    """Run-length code of a mask: where its row-major flattening switches value.

    Args:
        mask: ``(H, W)`` bool.

    Returns:
        ``(2K,)`` uint32: the start (inclusive) and end (exclusive) flat index of each of the K
        runs of True, in order; None for an empty mask.
    """
    flat = np.asarray(mask, dtype=bool).ravel()
    if not flat.any():
        return None
    edges = np.flatnonzero(np.diff(flat.view(np.int8), prepend=0, append=0))
    return edges.astype(np.uint32)


def mask_from_runs(runs: np.ndarray | None, height: int, width: int) -> np.ndarray:
    """The ``(H, W)`` bool mask of a :func:`mask_runs` code."""
    if runs is None:
        return np.zeros((height, width), dtype=bool)
    # +1 where a run starts, -1 where it ends: the running sum is 1 inside runs, 0 outside.
    steps = np.zeros(height * width + 1, dtype=np.int8)
    steps[runs[0::2]] = 1
    steps[runs[1::2]] = -1
    return np.cumsum(steps[:-1], dtype=np.int8).astype(bool).reshape(height, width)


class BackwardResults:
    """Per frame, per object: the run-length coded mask, score and state.

    Held from the backward pass until the forward stream reaches each frame, i.e. for every
    frame before the latest first keyframe. A mask costs 8 bytes per run (about one run per
    image row the object covers: a few kilobytes where a bit-packed mask would take
    ``H * W / 8`` bytes, 51 KB at 854x480), plus about 200 bytes per entry.
    """

    def __init__(self, frame_size: tuple[int, int]) -> None:
        self.frame_size = frame_size
        self._frames: dict[int, dict[int | str, tuple[np.ndarray | None, float, str]]] = {}

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, index: int, result: ObjectResult) -> None:
        self._frames.setdefault(index, {})[result.object_id] = (
            mask_runs(result.mask),
            float(result.score),
            result.state.value,
        )

    def pop(self, index: int) -> dict[int | str, ObjectResult]:
        """Take the stored results of frame ``index`` (empty dict when none)."""
        stored = self._frames.pop(index, {})
        height, width = self.frame_size
        results = {}
        for object_id, (runs, score, state) in stored.items():
            mask = mask_from_runs(runs, height, width)
            results[object_id] = ObjectResult(
                object_id, mask, mask_box(mask), score, TrackState(state)
            )
        return results

    def snapshot(self) -> dict:
        return {
            "frame_size": list(self.frame_size),
            "frames": [
                {
                    "index": index,
                    "objects": [
                        {"object_id": oid, "runs": runs, "score": score, "state": state}
                        for oid, (runs, score, state) in objects.items()
                    ],
                }
                for index, objects in sorted(self._frames.items())
            ],
        }

    @classmethod
    def restore(cls, data: dict) -> BackwardResults:
        store = cls(tuple(data["frame_size"]))
        for frame in data["frames"]:
            store._frames[int(frame["index"])] = {
                o["object_id"]: (o["runs"], float(o["score"]), o["state"]) for o in frame["objects"]
            }
        return store


def merge_frame(
    order: list[int | str],
    forward: dict[int | str, ObjectResult],
    backward: dict[int | str, ObjectResult],
) -> dict[int | str, ObjectResult]:
    """Combine the two directions for one frame following the module's merge rule.

    Args:
        order: object ids in output order.
        forward: forward results of objects at or after their first keyframe.
        backward: backward results of objects before their first keyframe.

    Returns:
        One result per id in ``order``, masks disjoint.
    """
    merged = {oid: backward[oid] if oid in backward else forward[oid] for oid in order}
    if not backward:
        return merged
    ranked = sorted(range(len(order)), key=lambda i: (-merged[order[i]].score, i))
    taken: np.ndarray | None = None
    for i in ranked:
        result = merged[order[i]]
        if taken is None:
            taken = result.mask.copy()
            continue
        if (result.mask & taken).any():
            mask = result.mask & ~taken
            merged[order[i]] = ObjectResult(
                result.object_id, mask, mask_box(mask), result.score, result.state
            )
            taken |= mask
        else:
            taken |= result.mask
    return merged
