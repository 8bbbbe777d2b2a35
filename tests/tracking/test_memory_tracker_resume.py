"""SAM 2 video mode resumes bit for bit: a snapshot restored into a fresh tracker, and a run
killed with SIGKILL then resumed, give exactly the uninterrupted results."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from api_clips import decode_frames
from killed_runs import kill_once_journaled
from sam2_video_clips import lively_sam2, write_prompted_clip

from segany_video.readers.reader import open_video
from segany_video.resume import _join_arrays, _split_arrays
from segany_video.runtime.encoded import EncodedFrame
from segany_video.tracking.memory_tracker import MemoryTracker
from segany_video.tracking.prompts import PromptSet

FRAMES = 20
KILL_AFTER = 10  # journaled frames: snapshots after frames 3 and 7, resumed at 8
RUNNER = Path(__file__).with_name("sam2_resume_run.py")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sam2_resume_clip")
    _, paths, prompts = write_prompted_clip(folder, FRAMES)
    prompts_file = folder / "video_prompts.json"
    prompts_file.write_text(json.dumps(prompts))
    return paths, prompts, prompts_file


def _round_trip(snapshot: dict) -> dict:
    """Through the journal's on-disk form: JSON plus an npz of the arrays."""
    arrays: dict[str, np.ndarray] = {}
    plain = json.loads(json.dumps(_split_arrays(snapshot, arrays)))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as npz:
        loaded = {key: npz[key] for key in npz.files}
    return _join_arrays(plain, loaded)


@pytest.mark.slow
@pytest.mark.parametrize("cut", [3, 9])
def test_snapshot_restore_continues_bit_exact(clip, cut: int) -> None:
    """Cut at 3 (object 3's first keyframe decoded by the backward pass, not yet used) and at
    9 (object 3 reads the backward pass's pinned memories; object 1's correction ahead)."""
    paths, prompts, _ = clip
    frames = decode_frames(paths.video, "rgb24")
    model = lively_sam2(3)
    with open_video(paths.video) as video:
        resolved = PromptSet.from_dict(prompts).resolve(video.info)
    with torch.inference_mode():
        features = model.embed(torch.from_numpy(frames))
    encoded = [EncodedFrame(i, i / 30, frames[i], features[i]) for i in range(FRAMES)]

    def rewind(indices):
        return iter([encoded[i] for i in indices])

    whole = list(MemoryTracker(model, resolved, num_frames=FRAMES).track(encoded, rewind))
    first = MemoryTracker(model, resolved, num_frames=FRAMES)
    head = []
    for result in first.track(encoded[: cut + 1], rewind):
        head.append(result)
    second = MemoryTracker(model, resolved, num_frames=FRAMES)
    second.restore(_round_trip(first.snapshot()))
    tail = list(second.track(encoded[cut + 1 :], rewind))
    for expected, got in zip(whole, head + tail, strict=True):
        assert expected.index == got.index
        for object_id, obj in expected.objects.items():
            other = got.objects[object_id]
            assert np.array_equal(obj.mask, other.mask), (object_id, expected.index)
            assert (obj.state, obj.score) == (other.state, other.score)


def _run(clip, out: Path, *extra: str) -> subprocess.CompletedProcess:
    paths, _, prompts_file = clip
    return subprocess.run(
        [sys.executable, str(RUNNER), str(paths.video), str(prompts_file), str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def _kill_part_way(clip, out: Path) -> int:
    paths, _, prompts_file = clip
    command = [sys.executable, str(RUNNER), str(paths.video), str(prompts_file), str(out)]
    kill_once_journaled(command, out, KILL_AFTER, 300, {**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads((out / ".resume" / "snapshot.json").read_text())["frame"]


@pytest.mark.slow
def test_killed_and_resumed_run_equals_an_uninterrupted_one(clip, tmp_path) -> None:
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    done = _run(clip, whole)
    assert done.returncode == 0, done.stderr
    snapshot_frame = _kill_part_way(clip, resumed)
    assert 0 < snapshot_frame < FRAMES - 1
    done = _run(clip, resumed, "--resume")
    assert done.returncode == 0, done.stderr
    run = json.loads((resumed / "run.json").read_text())
    assert run["resumed_at"] == snapshot_frame + 1
    assert run["mode"] == "video"
    files = sorted(p.relative_to(whole) for p in whole.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(resumed) for p in resumed.rglob("*") if p.is_file())
    compared = 0
    for name in files:
        if name.name == "run.json":
            continue
        assert (whole / name).read_bytes() == (resumed / name).read_bytes(), name
        compared += 1
    assert compared > FRAMES  # tracks.json plus one DAVIS PNG per frame
