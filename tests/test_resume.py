"""Resumable runs: a run killed with SIGKILL and resumed equals an uninterrupted run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from api_clips import decode_frames, tiny_clip
from killed_runs import kill_once_journaled

from segany_video import cli
from segany_video.results import FrameResult, ObjectResult, TrackState, mask_box
from segany_video.resume import RunJournal, result_from_record, result_record

FRAMES = 40
SNAPSHOT_EVERY = 4
KILL_AFTER = 10  # journaled frames before the kill: two snapshots taken, a third not yet
FORMATS = "masks,overlay,json,davis,mot"

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.fixture(scope="module")
def clip_paths(tmp_path_factory):
    return tiny_clip(tmp_path_factory.mktemp("resume_clip"), num_frames=FRAMES)[1]


def track_args(clip_paths, out: Path, *extra: str) -> list[str]:
    return [
        "track",
        str(clip_paths.video),
        "--prompts",
        str(clip_paths.prompts),
        "--formats",
        FORMATS,
        "--out",
        str(out),
        "--snapshot-every",
        str(SNAPSHOT_EVERY),
        *extra,
    ]


def kill_part_way(args: list[str], out: Path) -> int:
    """Start the CLI, SIGKILL it once the journal holds KILL_AFTER frames; return that count."""
    kill_once_journaled([sys.executable, "-m", "segany_video.cli", *args], out, KILL_AFTER, 240)
    return (out / ".resume" / "journal.jsonl").read_bytes().count(b"\n")


def final_files(out: Path) -> set[str]:
    """Output files that look complete: no hidden (partial or journal) path component."""
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    }


@pytest.fixture(scope="module")
def runs(clip_paths, tmp_path_factory):
    """An uninterrupted run, and a killed run before and after ``--resume``."""
    root = tmp_path_factory.mktemp("resume_runs")
    whole, resumed = root / "whole", root / "resumed"
    assert cli.main(track_args(clip_paths, whole)) == 0

    journaled = kill_part_way(track_args(clip_paths, resumed), resumed)
    after_kill = final_files(resumed)
    snapshot = json.loads((resumed / ".resume" / "snapshot.json").read_text())
    # A resume with other options is refused and leaves the journal alone.
    other = subprocess.run(
        [
            sys.executable,
            "-m",
            "segany_video.cli",
            *track_args(clip_paths, resumed, "--resume", "--preset", "surveillance"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    journal_kept = (resumed / ".resume" / "snapshot.json").is_file()
    done = subprocess.run(
        [sys.executable, "-m", "segany_video.cli", *track_args(clip_paths, resumed, "--resume")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return {
        "whole": whole,
        "resumed": resumed,
        "journaled": journaled,
        "after_kill": after_kill,
        "snapshot_frame": snapshot["frame"],
        "other": other,
        "journal_kept": journal_kept,
        "done": done,
    }


@pytest.mark.slow
def test_killed_run_leaves_no_output_that_looks_complete(runs):
    assert runs["journaled"] >= KILL_AFTER
    assert runs["after_kill"] == set()
    assert runs["snapshot_frame"] >= SNAPSHOT_EVERY - 1


@pytest.mark.slow
def test_resume_with_other_options_is_refused(runs):
    other = runs["other"]
    assert other.returncode == 2
    lines = other.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in other.stderr
    assert "different config" in lines[0] and "--resume" in lines[0]
    assert runs["journal_kept"]


@pytest.mark.slow
def test_resumed_run_completes_from_its_snapshot(runs):
    done = runs["done"]
    assert done.returncode == 0, done.stderr
    run = json.loads((runs["resumed"] / "run.json").read_text())
    assert run["resumed_at"] == runs["snapshot_frame"] + 1
    assert run["frames"] == FRAMES
    assert f"resumed at frame {runs['snapshot_frame'] + 1}" in done.stdout
    assert not (runs["resumed"] / ".resume").exists()
    assert final_files(runs["resumed"]) == final_files(runs["whole"])
    hidden = list(runs["resumed"].rglob(".*"))
    assert hidden == []  # partial files of the killed run are gone too


@pytest.mark.parametrize("name", ["tracks.json", "tracks_mot.csv"])
@pytest.mark.slow
def test_resumed_text_outputs_are_identical(runs, name):
    assert (runs["resumed"] / name).read_bytes() == (runs["whole"] / name).read_bytes()


@pytest.mark.slow
def test_resumed_davis_pngs_are_identical(runs):
    names = sorted(p.name for p in (runs["whole"] / "davis").iterdir())
    assert names == [f"{i:05d}.png" for i in range(FRAMES)]
    for name in names:
        resumed = (runs["resumed"] / "davis" / name).read_bytes()
        assert resumed == (runs["whole"] / "davis" / name).read_bytes(), name


@pytest.mark.parametrize("object_id", [1, 2, 3])
@pytest.mark.slow
def test_resumed_masks_are_bit_exact(runs, object_id):
    whole = decode_frames(runs["whole"] / "masks" / f"{object_id}.mkv")
    resumed = decode_frames(runs["resumed"] / "masks" / f"{object_id}.mkv")
    assert whole.shape == (FRAMES, 96, 160)
    np.testing.assert_array_equal(resumed, whole)


@pytest.mark.slow
def test_resumed_overlay_has_the_same_pictures(runs):
    whole = decode_frames(runs["whole"] / "overlay.mp4", "rgb24")
    resumed = decode_frames(runs["resumed"] / "overlay.mp4", "rgb24")
    assert whole.shape[0] == FRAMES
    np.testing.assert_array_equal(resumed, whole)


def test_resume_with_nothing_to_resume_exits_2(clip_paths, tmp_path, capsys):
    assert cli.main(track_args(clip_paths, tmp_path / "empty", "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no interrupted run to resume" in err[0]


def test_journal_records_are_exact():
    mask = np.zeros((5, 7), dtype=bool)
    mask[1:4, 2:6] = True
    result = FrameResult(
        3,
        0.1 + 1e-12,
        {
            1: ObjectResult(1, mask, np.array([2, 1, 6, 4], np.float32), 0.123456789, "tracked"),
            "car": ObjectResult("car", np.zeros((5, 7), bool), None, 0.0, TrackState.LOST),
        },
    )
    back = result_from_record(json.loads(json.dumps(result_record(result))))
    assert back.index == 3 and back.timestamp == result.timestamp
    assert list(back.objects) == [1, "car"]
    np.testing.assert_array_equal(back.objects[1].mask, mask)
    np.testing.assert_array_equal(back.objects[1].box, result.objects[1].box)
    assert back.objects[1].score == 0.123456789
    assert back.objects[1].state is TrackState.TRACKED
    assert back.objects["car"].box is None and back.objects["car"].state is TrackState.LOST


def test_a_torn_snapshot_pair_falls_back_to_the_start(tmp_path):
    """A kill between writing the arrays and their description must not load a mixed state."""
    identity = {"source": "x"}
    journal = RunJournal(tmp_path, identity, every=1)
    journal.start_fresh()
    mask = np.ones((2, 2), bool)
    for index in range(3):
        frame = FrameResult(index, index / 30, {1: ObjectResult(1, mask, None, 1.0, "tracked")})
        journal.record(frame, lambda i=index: {"frame": i, "array": np.full(3, i)})
    journal.close()
    snapshot, replay = RunJournal(tmp_path, identity).load()
    assert snapshot["frame"] == 2 and snapshot["array"].tolist() == [2, 2, 2]
    assert [r.index for r in replay] == [0, 1, 2]
    # Put back an older snapshot.npz, as if the kill hit between the two renames.
    meta = json.loads((tmp_path / ".resume" / "snapshot.json").read_text())
    np.savez(tmp_path / ".resume" / "snapshot.npz", f1_a0=np.full(3, 1))
    (tmp_path / ".resume" / "snapshot.json").write_text(json.dumps(meta))
    snapshot, replay = RunJournal(tmp_path, identity).load()
    assert snapshot is None and len(replay) == 0 and list(replay) == []


def test_resume_replays_the_journal_up_to_the_snapshot_from_disk(tmp_path):
    """The replay is read back from the cut journal, equal to what was recorded."""
    identity = {"source": "x"}
    journal = RunJournal(tmp_path, identity, every=3)
    journal.start_fresh()
    recorded = []
    for index in range(8):
        mask = np.zeros((4, 6), dtype=bool)
        mask[index % 4, : index % 6 + 1] = True
        result = FrameResult(
            index,
            index / 30,
            {1: ObjectResult(1, mask, mask_box(mask), 0.5 + index / 100, "tracked")},
        )
        recorded.append(result)
        journal.record(result, lambda i=index: {"frame": i})
    journal.close()
    resumed = RunJournal(tmp_path, identity, every=3)
    snapshot, replay = resumed.load()
    # Snapshots were taken after frames 2 and 5; frames 6 and 7 came after the last one.
    assert snapshot["frame"] == 5
    assert (len(replay), replay.first, replay.last) == (6, 0, 5)
    for _ in range(2):  # each pass reads the journal again
        replayed = list(replay)
        assert [r.index for r in replayed] == list(range(6))
        for got, want in zip(replayed, recorded, strict=False):
            assert got.timestamp == want.timestamp
            np.testing.assert_array_equal(got.objects[1].mask, want.objects[1].mask)
            np.testing.assert_array_equal(got.objects[1].box, want.objects[1].box)
            assert got.objects[1].score == want.objects[1].score
    # The run goes on after the snapshot: new records follow the replayed ones.
    resumed.record(recorded[6], lambda: {"frame": 6})
    resumed.close()
    lines = (tmp_path / ".resume" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == list(range(7))
    assert [r.index for r in replay] == list(range(6))


def test_resume_without_a_snapshot_replays_nothing_and_empties_the_journal(tmp_path):
    identity = {"source": "x"}
    journal = RunJournal(tmp_path, identity, every=10)
    journal.start_fresh()
    for index in range(3):
        mask = np.ones((2, 2), dtype=bool)
        journal.record(
            FrameResult(index, 0.0, {1: ObjectResult(1, mask, None, 1.0, "tracked")}), dict
        )
    journal.close()
    snapshot, replay = RunJournal(tmp_path, identity).load()
    assert snapshot is None
    assert (len(replay), replay.first, replay.last, list(replay)) == (0, None, None, [])
    assert (tmp_path / ".resume" / "journal.jsonl").read_text() == ""


def test_a_snapshot_waits_for_a_frame_the_tracker_has_settled_on(tmp_path):
    """While the tracker holds later frames back, a snapshot would not be "after this frame"."""
    identity = {"source": "x"}
    journal = RunJournal(tmp_path, identity, every=2)
    journal.start_fresh()
    mask = np.ones((2, 2), dtype=bool)
    for index in range(6):
        frame = FrameResult(index, index / 30, {1: ObjectResult(1, mask, None, 1.0, "tracked")})
        # frames 1-3 go out while the tracker is further on
        journal.record(frame, lambda i=index: {"frame": i}, settled=index not in (1, 2, 3))
        if index == 3:  # due since frame 1, but not taken yet
            assert not (tmp_path / ".resume" / "snapshot.json").exists()
    journal.close()
    snapshot, replay = RunJournal(tmp_path, identity).load()
    assert snapshot["frame"] == 4
    assert [r.index for r in replay] == list(range(5))
