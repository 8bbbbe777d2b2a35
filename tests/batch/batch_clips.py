"""Tiny generated clips, manifests and output comparisons for the batch tests."""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest

from segany_video import cli
from segany_video.synthetic.clips import make_clip, write_clip

SIZE = (160, 96)  # small enough for the classic engine to track a frame in tens of ms
FORMATS = ["masks", "json", "davis"]
SNAPSHOT_EVERY = 4


@dataclass(frozen=True)
class ClipSet:
    """Clips written into ``root``: ``clips/clipN/clip.mp4`` with ``prompts.json`` beside."""

    root: Path
    videos: tuple[Path, ...]
    broken: Path

    def prompts(self, video: Path) -> Path:
        return video.parent / "prompts.json"


def write_clips(root: Path, count: int, num_frames: int) -> ClipSet:
    """``count`` scripted clips (seeds 0..count-1) and a corrupt ``broken.mp4``."""
    videos = []
    for seed in range(count):
        clip = make_clip(seed, num_frames=num_frames, size=SIZE)
        videos.append(write_clip(clip, root / "clips" / f"clip{seed}", preset="ultrafast").video)
    broken = root / "broken.mp4"
    # The start of a real MP4 cut short: a container that cannot be opened.
    broken.write_bytes(videos[0].read_bytes()[:400])
    return ClipSet(root, tuple(videos), broken)


def manifest_text(clips: ClipSet, *, broken: bool, out: str = "out") -> str:
    """A YAML manifest: one glob entry for the clips (+ the broken clip as its own job)."""
    lines = [
        f"formats: [{', '.join(FORMATS)}]",
        f"snapshot_every: {SNAPSHOT_EVERY}",
        f"out: {out}/{{parent}}",
        "prompts: clips/{parent}/prompts.json",
        "jobs:",
        "  - input: clips/clip*/clip.mp4",
    ]
    if broken:
        lines += [
            "  - input: broken.mp4",
            "    prompts: clips/clip0/prompts.json",
            f"    out: {out}/broken",
        ]
    return "\n".join(lines) + "\n"


def one_clip_manifest(clips: ClipSet, name: str, out: Path) -> str:
    """A YAML manifest of the one clip ``name`` writing into ``out``."""
    return (
        f"formats: [{', '.join(FORMATS)}]\nsnapshot_every: {SNAPSHOT_EVERY}\njobs:\n"
        f"  - {{input: clips/{name}/clip.mp4, prompts: clips/{name}/prompts.json, out: {out}}}\n"
    )


def track_one_by_one(clips: ClipSet, out_root: Path) -> dict[str, Path]:
    """Each clip through ``segany-video track`` on its own; clip folder name -> output."""
    outs = {}
    for video in clips.videos:
        out = out_root / video.parent.name
        args = ["track", str(video), "--prompts", str(clips.prompts(video))]
        args += ["--formats", ",".join(FORMATS), "--out", str(out)]
        assert cli.main(args) == 0
        outs[video.parent.name] = out
    return outs


def decode_masks(path: Path) -> np.ndarray:
    """Every frame of a mask video as ``(N, H, W)`` uint8."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="gray") for f in container.decode(video=0)])


def assert_same_outputs(run: Path, reference: Path) -> None:
    """Masks decoded bit-identical, tracks.json and DAVIS PNGs byte-identical."""
    run_masks = sorted(p.name for p in (run / "masks").iterdir())
    assert run_masks == sorted(p.name for p in (reference / "masks").iterdir())
    assert run_masks, f"no masks in {run}"
    for name in run_masks:
        np.testing.assert_array_equal(
            decode_masks(run / "masks" / name), decode_masks(reference / "masks" / name)
        )
    assert (run / "tracks.json").read_bytes() == (reference / "tracks.json").read_bytes()
    pngs = sorted(p.name for p in (reference / "davis").iterdir())
    assert pngs == sorted(p.name for p in (run / "davis").iterdir())
    for name in pngs:
        assert (run / "davis" / name).read_bytes() == (reference / "davis" / name).read_bytes()


def hidden_files(folder: Path) -> list[Path]:
    """Files or folders with a hidden component (partial outputs, journals, attempt markers)."""
    return [p for p in folder.rglob(".*")]


def report_jobs(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["jobs"]


def kill_when_journaled(out: Path, frames: int) -> int:
    """SIGKILL the process running ``out``'s job (a local worker or a Ray worker) once its
    journal holds ``frames`` frames and a tracker snapshot (which waits while the tracker holds
    frames back for a lost object); returns its pid."""
    journal = out / ".resume" / "journal.jsonl"
    snapshot = out / ".resume" / "snapshot.json"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if journal.is_file() and journal.read_bytes().count(b"\n") >= frames and snapshot.is_file():
            break
        time.sleep(0.01)
    else:
        pytest.fail(f"the job journaled fewer than {frames} frames in 180 s")
    pid = json.loads((out / ".batch-attempt").read_text())["pid"]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    return pid
