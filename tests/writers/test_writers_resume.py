"""Writers under a killed run: nothing looks finished, and replaying the completed frames into
fresh writers (what ``--resume`` does) reproduces an uninterrupted run's outputs exactly."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
from writer_frames import decode, frame_results, image, video_info

from segany_video.writers.atomic import partial_path
from segany_video.writers.coco_json import frame_result_from_record, iter_frame_records, read_header
from segany_video.writers.outputs import OutputSet, WriterSettings

IDS = [1, "b"]
FORMATS = ("masks", "json", "davis", "mot", "png")
KILL_AFTER = 6

_CHILD = """
import os, signal, sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from writer_frames import frame_results, image, video_info
from segany_video.writers.outputs import OutputSet, WriterSettings

out = Path({out!r})
outputs = OutputSet(out, video_info(), {ids!r}, WriterSettings(formats={formats!r}))
for r in frame_results({ids!r})[:{n}]:
    outputs.write(r, image(r.index))
partial = out / ".tracks.partial.json"
deadline = time.monotonic() + 30
while partial.read_text().count("\\n") < {n} + 1 and time.monotonic() < deadline:
    time.sleep(0.01)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _kill_mid_run(out: Path) -> None:
    script = _CHILD.format(
        tests=str(Path(__file__).parent), out=str(out), ids=IDS, formats=FORMATS, n=KILL_AFTER
    )
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], timeout=120)
    assert proc.returncode == -signal.SIGKILL


def test_replay_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    settings = WriterSettings(formats=FORMATS)
    results = frame_results(IDS)
    with OutputSet(full, video_info(), IDS, settings) as outputs:
        for r in results:
            outputs.write(r, image(r.index))

    _kill_mid_run(resumed)
    # Killed: nothing looks finished; the partial JSON holds the completed frames losslessly.
    assert not (resumed / "tracks.json").exists() and not (resumed / "masks" / "1.mkv").exists()
    partial = partial_path(resumed / "tracks.json")
    assert [o["id"] for o in read_header(partial)["objects"]] == IDS
    replay = [frame_result_from_record(rec) for rec in iter_frame_records(partial)]
    assert [r.index for r in replay] == list(range(KILL_AFTER))

    with OutputSet(resumed, video_info(), IDS, settings) as outputs:
        for r in replay:
            outputs.write(r, image(r.index))
        for r in results[KILL_AFTER:]:
            outputs.write(r, image(r.index))
    assert not partial.exists()

    for name in ["tracks.json", "tracks_mot.csv"]:
        assert (resumed / name).read_bytes() == (full / name).read_bytes(), name
    for folder in ["davis", "png/1", "png/b"]:
        a, b = sorted((full / folder).iterdir()), sorted((resumed / folder).iterdir())
        assert [p.name for p in a] == [p.name for p in b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True)), folder
    for name in ["masks/1.mkv", "masks/b.mkv"]:
        (fa, ta), (fb, tb) = decode(full / name), decode(resumed / name)
        assert ta == tb
        for x, y in zip(fa, fb, strict=True):
            np.testing.assert_array_equal(x.to_ndarray(), y.to_ndarray())
