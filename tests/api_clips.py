"""Tiny scripted clips and plain-PyAV decoding for the CLI, API and resume tests."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np

from segany_video.synthetic.clips import ClipPaths, SyntheticClip, make_clip, write_clip

# Small enough that the classic engine tracks a frame in a few tens of milliseconds.
SIZE = (160, 96)


def tiny_clip(folder: Path, num_frames: int = 16, seed: int = 0) -> tuple[SyntheticClip, ClipPaths]:
    """Write a ``160x96`` scripted clip with its frame-0 box prompts into ``folder``."""
    clip = make_clip(seed, num_frames=num_frames, size=SIZE)
    return clip, write_clip(clip, folder, preset="ultrafast")


def prompts_at(clip: SyntheticClip, frame: int) -> dict:
    """A prompts dict with every object's tight ground-truth box on ``frame``."""
    boxes = clip.boxes(frame)
    return {
        "objects": [
            {"id": i, "keyframes": [{"frame": frame, "box": [float(v) for v in boxes[i]]}]}
            for i in clip.object_ids
            if boxes[i] is not None
        ]
    }


def decode_frames(path: Path, fmt: str = "gray") -> np.ndarray:
    """Every frame of a video as ``(N, H, W)`` (gray) or ``(N, H, W, 3)`` (rgb24) uint8."""
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format=fmt) for f in container.decode(video=0)]
    return np.stack(frames)


def states_per_object(tracks_json: Path) -> dict[str, dict[str, int]]:
    """Frames per state for each object id (as a string), counted from ``tracks.json``."""
    data = json.loads(tracks_json.read_text(encoding="utf-8"))
    counts: dict[str, dict[str, int]] = {}
    for frame in data["frames"]:
        for obj in frame["objects"]:
            per = counts.setdefault(str(obj["id"]), {})
            per[obj["state"]] = per.get(obj["state"], 0) + 1
    return counts
