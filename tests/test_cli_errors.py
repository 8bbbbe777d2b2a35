"""Bad inputs as a new user types them: each ends with exit 2, one line on stderr naming the
file, object or frame at fault, and nothing in the output folder that looks complete.

Also the inputs that used to fail although they are valid: a video read from a pipe (opened once,
not once to check prompts and again to track), and the lock that keeps two runs out of one folder.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import av
import pytest
from api_clips import tiny_clip

from segany_video import cli
from segany_video import resume as resume_module
from segany_video import segmenter as segmenter_module
from segany_video.cli import values
from segany_video.errors import ConfigError, OutputError
from segany_video.segmenter import VideoSegmenter
from segany_video.writers.atomic import writer_error
from segany_video.writers.outputs import FORMATS
from segany_video.writers.run_lock import LOCK_NAME, RunLock

REPO = Path(__file__).resolve().parents[1]
FRAMES = 12


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """``(SyntheticClip, ClipPaths)``: a 160x96 clip with a prompts file of 3 boxes on frame 0."""
    return tiny_clip(tmp_path_factory.mktemp("errors_clip"), num_frames=FRAMES)


@pytest.fixture(scope="module")
def video(clip) -> str:
    return str(clip[1].video)


@pytest.fixture(scope="module")
def prompts(clip) -> str:
    return str(clip[1].prompts)


def run_cli(capsys, *args: str) -> tuple[int, str]:  # capsys or capfd
    """Run ``segany-video ARGS`` in this process; returns the exit code and stderr."""
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("segany-video: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def assert_nothing_complete(out: Path) -> None:
    """No run.json and no output under a final (not hidden) name anywhere below ``out``."""
    if not out.exists():
        return
    finals = [
        p.relative_to(out)
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    ]
    assert finals == [], finals


# ------------------------------------------------------------------------------ output folder


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_out_folder_that_cannot_be_created(capsys, video, prompts):
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", "/proc/segany-out")
    assert code == 2
    assert_one_line(err, "/proc/segany-out", "/proc does not accept new folders", "--out")


def test_out_folder_is_an_existing_file(capsys, tmp_path, video, prompts):
    blocker = tmp_path / "some_file"
    blocker.write_text("not a folder")
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(blocker))
    assert code == 2
    assert_one_line(err, str(blocker), "is an existing file", "--out")
    assert blocker.read_text() == "not a folder"


def test_out_folder_below_a_file(capsys, tmp_path, video, prompts):
    blocker = tmp_path / "some_file"
    blocker.write_text("not a folder")
    out = blocker / "run"
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
    assert code == 2
    assert_one_line(err, str(out), f"{blocker} is a file")


@contextlib.contextmanager
def mounted_tmpfs(where: Path, options: str):
    """A tmpfs at ``where`` (root with CAP_SYS_ADMIN only); skips the test where not allowed."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_out_folder(capsys, tmp_path, video, prompts):
    # A read-only file system refuses even root, which ignores permission bits.
    with mounted_tmpfs(tmp_path / "ro", "ro,size=1m") as ro:
        out = ro / "run"
        code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
        code_existing, err_existing = run_cli(
            capsys, "track", video, "--prompts", prompts, "--out", str(ro)
        )
    assert code == 2
    assert_one_line(err, str(out), "--out")
    assert code_existing == 2
    assert_one_line(err_existing, str(ro), "not writable", "--out")


def test_read_only_out_folder_without_a_mount(capsys, monkeypatch, tmp_path, video, prompts):
    """The same where mounting is not allowed: the folder's first file write is refused."""
    out = tmp_path / "run"
    real_write_bytes = Path.write_bytes

    def read_only(self, data):
        if self.parent == out:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", read_only)
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
    assert code == 2
    assert_one_line(err, str(out), "not writable", "--out")
    assert_nothing_complete(out)


def test_full_disk_mid_run(capsys, tmp_path, video, prompts):
    # Room for the folder and the first frames, not for the whole run.
    with mounted_tmpfs(tmp_path / "small", "size=24k") as small:
        out = small / "run"
        code, err = run_cli(
            capsys, "track", video, "--prompts", prompts, "--out", str(out), "--formats", "all"
        )
        assert code == 2
        assert_one_line(err, str(out), "disk or quota is full", "--out")
        assert_nothing_complete(out)
        assert not (out / LOCK_NAME).exists()


def test_full_disk_at_the_journal(capsys, monkeypatch, tmp_path, video, prompts):
    """The same without a mount: the resume journal's first write finds the disk full."""

    def full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(resume_module, "open", full, raising=False)
    out = tmp_path / "run"
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
    assert code == 2
    assert_one_line(err, str(out / ".resume"), "disk or quota is full")
    assert_nothing_complete(out)


def test_full_disk_at_run_json_takes_the_outputs_back(
    capsys, monkeypatch, tmp_path, video, prompts
):
    """Every output was finished and renamed, then run.json found the disk full."""

    def full(path, text):
        raise writer_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))

    monkeypatch.setattr(segmenter_module, "write_text_atomically", full)
    out = tmp_path / "run"
    args = ["--out", str(out), "--formats", "masks,json,png"]
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, *args)
    assert code == 2
    assert_one_line(err, str(out / "run.json"), "disk or quota is full")
    assert_nothing_complete(out)


def test_a_run_failing_mid_way_stops_its_threads(capsys, monkeypatch, tmp_path):
    """An encoder thread left running after an error aborts the interpreter at its exit.

    The failure comes from re-reading earlier frames for an object prompted on frame 6 (as
    with a pipe, whose frames are gone), while the forward stream's encoder is still busy.
    """
    _, paths = tiny_clip(tmp_path / "clip", num_frames=120)

    def frames_gone(self, video):
        return lambda indices: self.runtime.stream_indices(video, [10_000])

    monkeypatch.setattr(VideoSegmenter, "_rewind", frames_gone)
    before = set(threading.enumerate())
    out = tmp_path / "run"
    code, err = run_cli(
        capsys, "track", str(paths.video), "--box", "1,2,30,40@6", "--out", str(out)
    )
    assert code == 2
    assert_one_line(err, "frame 10000")
    left = [t.name for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


# ------------------------------------------------------------------------------ options


@pytest.mark.parametrize("formats", ["", ",", " , "])
def test_empty_formats_stop_before_anything_runs(capsys, tmp_path, video, prompts, formats):
    out = tmp_path / "run"
    code, err = run_cli(
        capsys, "track", video, "--prompts", prompts, "--out", str(out), "--formats", formats
    )
    assert code == 2
    assert_one_line(err, "--formats", *FORMATS, "all")
    assert not out.exists()


def test_config_with_no_formats_stops_before_anything_runs(capsys, tmp_path, video, prompts):
    config = tmp_path / "run.yaml"
    config.write_text("writers:\n  formats: []\n")
    out = tmp_path / "run"
    args = ["--config", str(config), "--out", str(out)]
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, *args)
    assert code == 2
    assert_one_line(err, "no output formats", str(out), *FORMATS)
    assert not out.exists()


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        (["--point", "-5,20@0"], "point [-5.0, 20.0] is outside the 160x96 frame"),
        (["--point=-5,20@0"], "point [-5.0, 20.0] is outside the 160x96 frame"),
        (["--point", "-5,20"], "point [-5.0, 20.0] is outside the 160x96 frame"),
        (["--point", "10,-2;-3,4"], "is outside the 160x96 frame"),
        (["--box", "-1,2,30,40"], "is outside the 160x96 frame"),
        (["--box=-1,2,30,40@0"], "is outside the 160x96 frame"),
    ],
)
def test_negative_coordinates_name_the_object(capsys, tmp_path, video, flag, needle):
    out = tmp_path / "run"
    code, err = run_cli(capsys, "track", video, *flag, "--out", str(out))
    assert code == 2
    assert_one_line(err, "object 1", needle)
    assert not out.exists()


@pytest.mark.parametrize(
    "flag", [["--start", "-3"], ["--start=-3"], ["--end", "-1"], ["--start", "-0.5s"]]
)
def test_negative_positions(capsys, tmp_path, video, prompts, flag):
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, *flag)
    assert code == 2
    assert_one_line(err, flag[0].split("=")[0], "negative")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["track", "in.mp4", "--point", "-5,20@0"], ["track", "in.mp4", "--point=-5,20@0"]),
        (["track", "-", "--box", "1,2,3,4"], ["track", "-", "--box", "1,2,3,4"]),
        (["track", "in.mp4", "--out", "-"], ["track", "in.mp4", "--out", "-"]),
        (["track", "in.mp4", "--out", "--formats", "json"], None),
        (["track", "in.mp4", "--out", "--form=json"], None),
        (["track", "in.mp4", "--resume", "-x"], None),
        (["track", "in.mp4", "--", "--start", "-3"], None),
        (["track", "in.mp4", "--start"], None),
    ],
)
def test_join_dash_values(argv, expected):
    joined = values.join_dash_values(argv, cli.build_parser())
    assert joined == (argv if expected is None else expected)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("one line already", "one line already"),
        (
            'file p.yaml is not valid yaml: while parsing\n  in "<unicode string>", line 3, '
            "column 4:\n     keyframes: [\n     ^\nexpected <block end>",
            'file p.yaml is not valid yaml: while parsing in "<unicode string>", line 3, '
            "column 4: expected <block end>",
        ),
    ],
)
def test_messages_are_printed_on_one_line(message, expected):
    assert cli.one_line(message) == expected


@pytest.mark.parametrize(
    "option", ["--out", "--prompts", "--config", "--preset", "--model", "--device", "--start"]
)
def test_empty_values_are_refused_not_taken_as_absent(capsys, tmp_path, monkeypatch, video, option):
    # "--out $OUT" with OUT unset: must not fall back to ./clip_segany (or "." for files).
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(capsys, "track", video, "--box", "1,2,30,40", option, "")
    assert code == 2
    assert_one_line(err, option, "empty")
    assert list(tmp_path.iterdir()) == []


def test_empty_input_is_refused(capsys):
    code, err = run_cli(capsys, "track", "", "--box", "1,2,30,40")
    assert code == 2
    assert_one_line(err, "input", "empty")


def test_missing_value_before_another_option_is_one_line(capsys, video, prompts):
    # "--out" lost its value (an unset shell variable): argparse's own error, in one line.
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", "--formats", "json")
    assert code == 2
    assert_one_line(err, "--out", "track --help")


def test_start_after_end(capsys, tmp_path, video, prompts):
    out = tmp_path / "run"
    code, err = run_cli(
        capsys,
        "track",
        video,
        "--prompts",
        prompts,
        "--start",
        "8",
        "--end",
        "4",
        "--out",
        str(out),
    )
    assert code == 2
    assert_one_line(err, video, "end (frame 4) must come after the start (frame 8)")
    assert_nothing_complete(out)


@pytest.mark.parametrize(
    ("option", "value", "needle"),
    [
        ("--batch-size", "0", "runtime batch_size"),
        ("--batch-size", "-2", "runtime batch_size"),
        ("--snapshot-every", "0", "--snapshot-every: expected a whole number >= 1"),
        ("--snapshot-every", "-1", "--snapshot-every: expected a whole number >= 1"),
        ("--snapshot-every", "x", "--snapshot-every: expected a whole number >= 1"),
    ],
)
def test_sizes_below_one(capsys, tmp_path, video, prompts, option, value, needle):
    out = tmp_path / "run"
    code, err = run_cli(
        capsys, "track", video, "--prompts", prompts, option, value, "--out", str(out)
    )
    assert code == 2
    assert_one_line(err, needle, value)
    assert not out.exists()  # refused before anything was created


def test_a_run_refused_after_taking_its_folder_leaves_no_folder(capsys, tmp_path, video, prompts):
    # The device is checked while the engine is built, after the output folder was taken.
    out = tmp_path / "run"
    args = ["--device", "cuda:99", "--out", str(out)]
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, *args)
    assert code == 2
    assert_one_line(err, "cuda:99")
    assert not out.exists()
    out.mkdir()  # a folder that was there before stays
    code, _ = run_cli(capsys, "track", video, "--prompts", prompts, *args)
    assert code == 2 and out.is_dir() and list(out.iterdir()) == []


def test_model_path_that_is_a_folder(capsys, tmp_path, video, prompts):
    folder = tmp_path / "weights"
    folder.mkdir()
    code, err = run_cli(
        capsys, "track", video, "--prompts", prompts, "--model", str(folder), "--out", str(tmp_path)
    )
    assert code == 2
    assert_one_line(err, str(folder))


# ------------------------------------------------------------------------------ prompt files


def test_prompts_path_is_a_folder(capsys, tmp_path, video):
    code, err = run_cli(capsys, "track", video, "--prompts", str(tmp_path))
    assert code == 2
    assert_one_line(err, "--prompts", str(tmp_path), "is a folder")


@pytest.mark.parametrize(
    ("name", "problem"), [(".", "is a folder"), ("gone.png", "does not exist")]
)
def test_mask_path_that_is_no_file(capfd, tmp_path, video, name, problem):
    # capfd: OpenCV warns about unreadable files on file descriptor 2, past sys.stderr.
    mask = (tmp_path / name).resolve()
    out = tmp_path / "run"
    code, err = run_cli(capfd, "track", video, "--mask", f"{mask}@0", "--out", str(out))
    assert code == 2
    assert_one_line(err, "--mask", str(mask), problem)
    assert not out.exists()


def test_prompts_file_with_invalid_json_names_file_and_line(capsys, tmp_path, video):
    bad = tmp_path / "prompts.json"
    bad.write_text('{"objects": [\n  {"id": 1,\n')
    code, err = run_cli(capsys, "track", video, "--prompts", str(bad))
    assert code == 2
    assert_one_line(err, str(bad), "line 3")


def test_prompts_file_with_invalid_yaml_is_one_line(capsys, tmp_path, video):
    bad = tmp_path / "prompts.yaml"
    bad.write_text("objects:\n  - id: 1\n   keyframes: [\n")
    code, err = run_cli(capsys, "track", video, "--prompts", str(bad))
    assert code == 2
    assert_one_line(err, str(bad), "line 3")


def test_config_path_is_a_folder(capsys, tmp_path, video, prompts):
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--config", str(tmp_path))
    assert code == 2
    assert_one_line(err, str(tmp_path))


def test_config_file_with_invalid_yaml_is_one_line(capsys, tmp_path, video, prompts):
    bad = tmp_path / "run.yaml"
    bad.write_text("tracker:\n  max_lost_frames: [1,\n")
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--config", str(bad))
    assert code == 2
    assert_one_line(err, str(bad), "line 3")


# ------------------------------------------------------------------------------ pipes


def mpeg_ts(clip, repeat: int = 1) -> bytes:
    """The clip's frames (``repeat`` times over) as an H.264 MPEG-TS stream, which can be piped."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=25, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
        for _ in range(repeat):
            for image in clip.frames():
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


def checkout_env() -> dict[str, str]:
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def script(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """``segany-video ARGS`` in a fresh interpreter running this checkout."""
    code = "import sys; from segany_video.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        capture_output=True,
        timeout=300,
        env=checkout_env(),
        check=False,
    )


@pytest.mark.slow
@pytest.mark.parametrize("source", ["-", "pipe:0", "/dev/stdin"])
def test_track_reads_a_pipe(tmp_path, clip, source):
    synthetic = clip[0]
    box = ",".join(str(int(v)) for v in synthetic.first_frame_boxes()[1])
    out = tmp_path / "run"
    done = script(
        "track",
        source,
        "--box",
        box,
        "--out",
        str(out),
        "--formats",
        "json",
        stdin=mpeg_ts(synthetic),
    )
    assert done.returncode == 0, done.stderr.decode()
    run = json.loads((out / "run.json").read_text())
    assert run["frames"] == FRAMES
    tracks = json.loads((out / "tracks.json").read_text())
    assert [frame["index"] for frame in tracks["frames"]] == list(range(FRAMES))


def test_info_counts_a_pipe_in_one_pass(clip):
    done = script("info", "-", "--count", stdin=mpeg_ts(clip[0]))
    assert done.returncode == 0, done.stderr.decode()
    rows = dict(line.split(None, 1) for line in done.stdout.decode().splitlines())
    assert rows["frames"] == "unknown"
    assert rows["decoded"].startswith(f"{FRAMES} frames")


def test_api_run_without_formats_is_refused(tmp_path, video, prompts):
    with pytest.raises(ConfigError, match="no output formats"):
        VideoSegmenter().run(video, prompts, tmp_path / "run", formats=[])
    assert not (tmp_path / "run").exists()


def test_an_open_source_is_used_as_given(tmp_path, video, prompts):
    """The API reads an open source once and leaves it open (what the CLI relies on)."""
    from segany_video.readers.reader import open_video

    segmenter = VideoSegmenter()
    with open_video(video) as source:
        summary = segmenter.run(source, prompts, tmp_path / "run", formats=["json"])
        assert summary.frames == FRAMES and summary.source == video
        assert len(source.read_frames([0])) == 1  # still open


# ------------------------------------------------------------------------------ one run per folder


def hold_lock(out: Path) -> subprocess.Popen:
    """Another process holding ``out`` as a run does; returns once it holds it."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from segany_video.writers.run_lock import RunLock
        lock = RunLock({str(out)!r})
        print("held", flush=True)
        time.sleep(120)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=checkout_env()
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_second_run_into_a_busy_folder_is_refused(capsys, tmp_path, video, prompts):
    out = tmp_path / "run"
    holder = hold_lock(out)
    try:
        code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
        assert code == 2
        assert_one_line(err, str(out), "in use by another run", f"pid {holder.pid}", "started")
        assert_nothing_complete(out)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_two_real_runs_into_one_folder(tmp_path, clip, video, prompts):
    """The first of two concurrent runs finishes; the second is refused at once, naming it.

    The first run reads a pipe that the test fills in two halves, so it is certainly still
    running (waiting for the second half) when the second run starts.
    """
    synthetic = clip[0]
    box = ",".join(str(int(v)) for v in synthetic.first_frame_boxes()[1])
    stream = mpeg_ts(synthetic, repeat=5)  # 60 frames
    out = tmp_path / "run"
    code = "import sys; from segany_video.cli import main; sys.exit(main())"
    first = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "track",
            "-",
            "--box",
            box,
            "--out",
            str(out),
            "--formats",
            "json",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=checkout_env(),
    )
    try:
        assert first.stdin is not None
        first.stdin.write(stream[: len(stream) * 2 // 3])
        first.stdin.flush()
        lock = out / LOCK_NAME
        deadline = time.monotonic() + 120
        while f'"pid": {first.pid}' not in (lock.read_text() if lock.exists() else ""):
            assert first.poll() is None and time.monotonic() < deadline, "first run never locked"
            time.sleep(0.02)
        second = script("track", video, "--prompts", prompts, "--out", str(out), "--formats", "png")
        assert second.returncode == 2
        assert_one_line(second.stderr.decode(), "in use by another run", f"pid {first.pid}")
        first.stdin.write(stream[len(stream) * 2 // 3 :])
        first.stdin.close()
        assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    finally:
        first.kill()
        first.wait()
    assert json.loads((out / "run.json").read_text())["frames"] == 5 * FRAMES
    assert not (out / "png").exists()  # nothing from the refused run


def test_a_killed_run_leaves_no_stuck_lock(capsys, tmp_path, video, prompts):
    out = tmp_path / "run"
    holder = hold_lock(out)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the kill, yet it holds nothing
    code, err = run_cli(capsys, "track", video, "--prompts", prompts, "--out", str(out))
    assert code == 0, err
    assert (out / "run.json").is_file()
    assert not (out / LOCK_NAME).exists()


def test_a_run_holds_its_folder_until_it_ends(tmp_path, video, prompts):
    out = tmp_path / "run"
    refusals: list[str] = []

    def progress(done: int, total: int | None) -> None:
        with pytest.raises(OutputError) as caught:
            RunLock(out)
        refusals.append(str(caught.value))

    VideoSegmenter().run(video, prompts, out, formats=["json"], progress=progress)
    assert len(refusals) == FRAMES
    assert f"pid {os.getpid()}" in refusals[0]
    with RunLock(out) as lock:  # free again
        assert lock.held
    assert not (out / LOCK_NAME).exists()


def test_run_lock_is_released_on_error(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError), RunLock(out):
        raise RuntimeError("boom")
    with RunLock(out) as again:
        assert again.held
