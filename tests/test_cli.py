"""The `segany-video` command: flag parsing, exit codes, a full track, info, forwarding."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from api_clips import decode_frames, states_per_object, tiny_clip

from segany_video import cli
from segany_video.cli import bench as bench_command
from segany_video.cli import forwarded, prompt_flags
from segany_video.errors import ConfigError, PromptError, WriterError
from segany_video.writers.coco_json import frame_result_from_record
from segany_video.writers.davis_png import read_davis_png

FRAMES = 16
ALL_FORMATS = ("masks", "png", "cutout", "overlay", "json", "davis", "mot")


@pytest.fixture(scope="module")
def clip_and_paths(tmp_path_factory):
    return tiny_clip(tmp_path_factory.mktemp("cli_clip"), num_frames=FRAMES)


@pytest.fixture(scope="module")
def clip_paths(clip_and_paths):
    return clip_and_paths[1]


def console_script() -> list[str]:
    """The installed ``segany-video`` script (``python -m`` where it is not on PATH)."""
    found = shutil.which("segany-video")
    return [found] if found else [sys.executable, "-m", "segany_video.cli"]


def run_script(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*console_script(), *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


# ------------------------------------------------------------------------------ flag parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("12", 12),
        (" 75 ", 75),
        ("2.5s", 2.5),
        ("2.5", 2.5),
        ("10s", 10.0),
        ("00:01.5", 1.5),
        ("2:30", 150.0),
        ("1:02:03", 3723.0),
        ("1:02:03.25s", 3723.25),
    ],
)
def test_parse_position(text: str, expected):
    value = prompt_flags.parse_position(text, "--start")
    assert value == expected
    assert type(value) is type(expected)  # int = frame index, float = seconds


@pytest.mark.parametrize("text", ["", "-1", "abc", "1.5x", "1:2:3:4", "s", "1e3"])
def test_parse_position_rejects(text: str):
    with pytest.raises(PromptError, match="--start"):
        prompt_flags.parse_position(text, "--start")


@pytest.mark.parametrize(
    ("kind", "text", "keyframe"),
    [
        ("point", "120,80", {"frame": 0, "points": [[120.0, 80.0, 1]]}),
        (
            "point",
            "120,80;140,90,0@0",
            {"frame": 0, "points": [[120.0, 80.0, 1], [140.0, 90.0, 0]]},
        ),
        ("point", "1.5,2.5,1;3,4,0;@7", {"frame": 7, "points": [[1.5, 2.5, 1], [3.0, 4.0, 0]]}),
        ("box", "10,20,30,40", {"frame": 0, "box": [10.0, 20.0, 30.0, 40.0]}),
        ("box", "10,20,30,40@12", {"frame": 12, "box": [10.0, 20.0, 30.0, 40.0]}),
        ("box", "10,20,30,40@2.5s", {"time": 2.5, "box": [10.0, 20.0, 30.0, 40.0]}),
        ("box", "10,20,30,40@00:01.5", {"time": 1.5, "box": [10.0, 20.0, 30.0, 40.0]}),
    ],
)
def test_object_from_flag(kind: str, text: str, keyframe: dict):
    assert prompt_flags.object_from_flag(kind, text, 4) == {"id": 4, "keyframes": [keyframe]}


@pytest.mark.parametrize(
    ("text", "frame_key"),
    [("m.png", {"frame": 0}), ("m.png@3", {"frame": 3}), ("shot@2x.png", {"frame": 0})],
)
def test_mask_flag_resolves_the_path(tmp_path, monkeypatch, text: str, frame_key: dict):
    monkeypatch.chdir(tmp_path)
    name = text.removesuffix("@3")
    (tmp_path / name).write_bytes(b"")  # the flag checks that the file exists, not its content
    obj = prompt_flags.object_from_flag("mask", text, 1)
    assert obj == {"id": 1, "keyframes": [{**frame_key, "mask": str(tmp_path / name)}]}


@pytest.mark.parametrize(
    ("kind", "text", "needle"),
    [
        ("point", "1@0", "X,Y"),
        ("point", "1,2,3,4", "X,Y"),
        ("point", "@3", "no point"),
        ("point", "a,b", "not a list of numbers"),
        ("box", "1,2,3", "X0,Y0,X1,Y1"),
        ("box", "1,2,3,4,5", "X0,Y0,X1,Y1"),
        ("box", "1,2,x,4", "not a list of numbers"),
        ("box", "1,2,3,4@soon", "frame"),
    ],
)
def test_object_from_flag_rejects(kind: str, text: str, needle: str):
    with pytest.raises(PromptError) as caught:
        prompt_flags.object_from_flag(kind, text, 1)
    assert f"--{kind}" in str(caught.value)
    assert needle in str(caught.value)


def test_flags_become_objects_1_2_in_order():
    args = cli.build_parser().parse_args(
        ["track", "in.mp4", "--box", "1,2,30,40", "--point", "5,6", "--box", "7,8,20,30@3"]
    )
    prompts = prompt_flags.build_prompts(None, args.object_flags)
    assert [o.id for o in prompts.objects] == [1, 2, 3]
    first, second, third = prompts.objects
    assert first.keyframes[0].box == (1.0, 2.0, 30.0, 40.0)
    assert second.keyframes[0].points == [(5.0, 6.0, 1)]
    assert third.keyframes[0].frame == 3


def test_flag_objects_come_after_the_prompts_files_ids(tmp_path):
    prompts_file = tmp_path / "p.json"
    prompts_file.write_text(
        json.dumps(
            {
                "objects": [
                    {"id": 7, "keyframes": [{"frame": 0, "box": [0, 0, 5, 5]}]},
                    {"id": "car", "keyframes": [{"frame": 0, "box": [5, 5, 9, 9]}]},
                    {"id": 2, "keyframes": [{"frame": 0, "box": [1, 1, 4, 4]}]},
                ]
            }
        )
    )
    flags = [("point", "3,3"), ("box", "0,0,2,2@1")]
    assert [o.id for o in prompt_flags.build_prompts(str(prompts_file), flags).objects] == [
        7,
        "car",
        2,
        8,
        9,
    ]


def test_no_prompts_at_all_is_a_prompt_error():
    with pytest.raises(PromptError, match="--prompts"):
        prompt_flags.build_prompts(None, [])


# ------------------------------------------------------------------------------ exit codes


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("segany-video: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ([], "no prompts"),
        (["--box", "1,2,3"], "X0,Y0,X1,Y1"),
        (["--point", "1,2@later"], "frame"),
        (["--box", "1,2,30,40", "--preset", "stadium"], "stadium"),
        (["--box", "1,2,30,40", "--formats", "masks,gif"], "gif"),
        (["--box", "1,2,30,40", "--batch-size", "0"], "batch_size"),
        (["--box", "1,2,30,40", "--start", "8", "--end", "4"], "end"),
        (["--box", "1,2,30,40", "--end", "999"], "outside the video"),
        (["--box", "1,2,30,40@12", "--end", "10"], "outside the processed range"),
        (["--box", "1,2,30,40", "--resume"], "no interrupted run"),
        (["--box", "1,2,30,40", "--config", "missing.yaml"], "missing.yaml"),
        (["--box", "1,2,30,40", "--set", "classic.work_pixels"], "SECTION.KEY=VALUE"),
        (["--box", "1,2,30,40", "--set", "classic.work_pixels=lots"], "work_pixels"),
        (["--box", "1,2,30,40", "--set", "classic.iteratons=3"], "iteratons"),
    ],
)
def test_user_mistakes_exit_2_with_one_line(clip_paths, tmp_path, capsys, extra, needle):
    code = cli.main(["track", str(clip_paths.video), "--out", str(tmp_path / "o"), *extra])
    assert code == 2
    assert needle in one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("model", "needle"),
    [("sam_vit_b", "segany-video weights download sam_vit_b"), ("nosuch.pth", "nosuch.pth")],
)
def test_unavailable_models_exit_2(clip_paths, tmp_path, monkeypatch, capsys, model, needle):
    monkeypatch.setenv("SEGANY_VIDEO_HOME", str(tmp_path / "empty_home"))  # nothing downloaded
    code = cli.main(["track", str(clip_paths.video), "--box", "1,2,30,40", "--model", model])
    assert code == 2
    assert needle in one_error_line(capsys.readouterr().err)


def test_input_and_prompts_are_checked_before_the_model_is_loaded(clip_paths, tmp_path, capsys):
    # The model file does not exist either: the error must be about the input, found first.
    missing = str(tmp_path / "nothere.mp4")
    code = cli.main(["track", missing, "--box", "1,2,30,40", "--model", "nosuch.pth"])
    assert code == 2
    assert "nothere.mp4" in one_error_line(capsys.readouterr().err)
    video = str(clip_paths.video)
    code = cli.main(["track", video, "--box", "1,2,30,40@9999", "--model", "nosuch.pth"])
    assert code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "9999" in line and "nosuch.pth" not in line


def test_missing_input_exits_2(tmp_path, capsys):
    code = cli.main(["track", str(tmp_path / "nothere.mp4"), "--box", "1,2,3,4"])
    assert code == 2
    assert "nothere.mp4" in one_error_line(capsys.readouterr().err)


def test_unknown_flag_is_an_argparse_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["track", "in.mp4", "--colour", "red"])
    assert caught.value.code == 2
    assert "--colour" in capsys.readouterr().err


def test_internal_errors_exit_1_with_traceback_only_under_debug(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cli.info, "run", broken)
    assert cli.main(["info", "x.mp4"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: boom" in err and "--debug" in err
    assert "Traceback" not in err
    assert cli.main(["info", "x.mp4", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_library_failures_that_are_not_user_mistakes_exit_1(monkeypatch, capsys):
    def disk_full(args):
        raise WriterError("out/masks/1.mkv: the disk is full; free space and rerun")

    monkeypatch.setattr(cli.info, "run", disk_full)
    assert cli.main(["info", "x.mp4"]) == 1
    assert "disk is full" in capsys.readouterr().err


@pytest.mark.slow
def test_console_script_user_error_is_one_line_exit_2(tmp_path):
    done = run_script("track", str(tmp_path / "absent.mp4"), "--box", "1,2,3,4")
    assert done.returncode == 2
    assert "absent.mp4" in one_error_line(done.stderr)


@pytest.mark.slow
def test_console_script_debug_shows_the_traceback(clip_paths):
    done = run_script("--debug", "track", str(clip_paths.video), "--box", "1,2,3")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("segany-video: error: --box")


# ------------------------------------------------------------------------------ track


@pytest.fixture(scope="module")
def full_run(clip_paths, tmp_path_factory):
    """One complete ``track --formats all`` through the console script."""
    out = tmp_path_factory.mktemp("cli_track") / "out"
    done = run_script(
        "track",
        str(clip_paths.video),
        "--prompts",
        str(clip_paths.prompts),
        "--formats",
        "all",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out, done


@pytest.mark.slow
def test_track_writes_the_documented_layout(full_run):
    out, _ = full_run
    ids = ["1", "2", "3"]
    frames = [f"{i:05d}.png" for i in range(FRAMES)]
    expected = {
        *(f"masks/{i}.mkv" for i in ids),
        *(f"png/{i}/{name}" for i in ids for name in frames),
        *(f"cutouts/{i}{suffix}" for i in ids for suffix in (".mov", ".webm")),
        "overlay.mp4",
        *(f"davis/{name}" for name in frames),
        "tracks.json",
        "tracks_mot.csv",
        "run.json",
    }
    found = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert found == expected  # nothing else: no partial files, no .resume journal
    assert not (out / ".resume").exists()


@pytest.mark.slow
def test_track_outputs_agree_with_each_other(full_run):
    out, _ = full_run
    tracks = json.loads((out / "tracks.json").read_text())
    results = [frame_result_from_record(r) for r in tracks["frames"]]
    assert [r.index for r in results] == list(range(FRAMES))
    masks = {i: decode_frames(out / "masks" / f"{i}.mkv") for i in (1, 2, 3)}
    for n, result in enumerate(results):
        labels = read_davis_png(out / "davis" / f"{n:05d}.png")
        for slot, object_id in enumerate((1, 2, 3), start=1):
            mask = result.objects[object_id].mask
            np.testing.assert_array_equal(masks[object_id][n], mask.astype(np.uint8) * 255)
            np.testing.assert_array_equal(labels == slot, mask)
    assert decode_frames(out / "overlay.mp4", "rgb24").shape == (FRAMES, 96, 160, 3)


@pytest.mark.slow
def test_run_json_and_summary(full_run):
    out, done = full_run
    run = json.loads((out / "run.json").read_text())
    assert run["engine"] == "classic"
    assert run["engine_description"] == "classic engine, no learned weights"
    assert run["weights"] is None
    assert run["device"] == "cpu"
    assert run["frames"] == FRAMES
    assert run["first_frame"] == 0
    assert run["resumed_at"] is None
    assert run["wall_time_s"] > 0
    assert run["config"]["writers"]["formats"] == list(ALL_FORMATS)
    # Per-object state counts match an independent count over tracks.json.
    counted = states_per_object(out / "tracks.json")
    assert [o["id"] for o in run["objects"]] == [1, 2, 3]
    for obj in run["objects"]:
        assert sum(obj["frames"].values()) == FRAMES
        assert {s: n for s, n in obj["frames"].items() if n} == counted[str(obj["id"])]
        assert obj["frames"]["prompted"] == 1
    # Every output path is listed, exists, and is printed in the summary.
    assert set(run["outputs"]) == {*ALL_FORMATS, "run"}
    listed = [Path(p) for paths in run["outputs"].values() for p in paths]
    assert len(listed) == 3 + 3 + 6 + 1 + 1 + 1 + 1 + 1
    assert all(p.exists() for p in listed)
    stdout = done.stdout
    assert "engine   classic engine, no learned weights (weights: none)" in stdout
    assert f"frames   {FRAMES} in " in stdout
    for obj in run["objects"]:
        assert f"object   {obj['id']} " in stdout
    for path in listed:
        assert str(path) in stdout
    # Not a terminal: plain progress lines on stderr, ending at the total.
    assert done.stderr.strip().splitlines()[-1].startswith(f"frames {FRAMES}/{FRAMES} (")


def test_track_range_and_flag_objects(clip_and_paths, tmp_path, capsys):
    clip, clip_paths = clip_and_paths
    out = tmp_path / "range"
    box = ",".join(str(int(v)) for v in clip.boxes(3)[1])
    ys, xs = np.nonzero(clip.masks(3)[3])
    code = cli.main(
        [
            "track",
            str(clip_paths.video),
            "--box",
            f"{box}@0.1s",  # frame 3 at 30 fps
            "--point",
            f"{xs[len(xs) // 2]},{ys[len(ys) // 2]}@3",
            "--start",
            "3",
            "--end",
            "0.3s",
            "--formats",
            "json,mot",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    run = json.loads((out / "run.json").read_text())
    assert run["first_frame"] == 3 and run["frames"] == 6
    assert [o["id"] for o in run["objects"]] == [1, 2]
    tracks = json.loads((out / "tracks.json").read_text())
    assert [f["index"] for f in tracks["frames"]] == [3, 4, 5, 6, 7, 8]
    rows = (out / "tracks_mot.csv").read_text().splitlines()
    assert {int(r.split(",")[0]) for r in rows} <= set(range(4, 10))  # 1-based MOT frames


def test_set_reaches_the_classic_engine_and_run_json(clip_and_paths, tmp_path, capsys):
    clip, clip_paths = clip_and_paths
    box = ",".join(str(int(v)) for v in clip.boxes(0)[1])
    out = tmp_path / "set"
    argv = ["track", str(clip_paths.video), "--box", box, "--end", "3", "--formats", "json"]
    settings = ["--set", "classic.work_pixels=2048", "--set", "classic.click_scales=[0.2,0.4,0.6]"]
    assert cli.main([*argv, *settings, "--out", str(out)]) == 0, capsys.readouterr().err
    classic = json.loads((out / "run.json").read_text())["config"]["classic"]
    assert classic["work_pixels"] == 2048 and classic["click_scales"] == [0.2, 0.4, 0.6]
    # The engine really cut at the smaller budget: its masks differ from a default run's.
    assert cli.main([*argv, "--out", str(tmp_path / "default")]) == 0
    masks = [
        json.loads((folder / "tracks.json").read_text())["frames"]
        for folder in (out, tmp_path / "default")
    ]
    assert masks[0] != masks[1]


# ------------------------------------------------------------------------------ info


def test_info(clip_paths, capsys):
    assert cli.main(["info", str(clip_paths.video), "--count"]) == 0
    rows = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    assert rows["size"].startswith("160x96")
    assert rows["codec"] == "h264"
    assert rows["fps"].startswith("30")
    assert rows["frames"] == str(FRAMES)
    assert rows["decoded"].startswith(f"{FRAMES} frames")


def test_info_on_a_missing_file_exits_2(tmp_path, capsys):
    assert cli.main(["info", str(tmp_path / "gone.mkv")]) == 2
    assert "gone.mkv" in one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ forwarding


def test_weights_list_reaches_the_weights_module(capsys):
    assert cli.main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("classic", "sam_vit_b", "sam_vit_l", "sam_vit_h", "mobile_sam"):
        assert name in out


@pytest.mark.parametrize("bench", sorted(bench_command.BENCHES))
def test_bench_forwards_its_arguments(monkeypatch, bench: str):
    module = pytest.importorskip(bench_command.BENCHES[bench])
    seen = []

    def fake_main(argv):
        seen.append(argv)
        return 3

    monkeypatch.setattr(module, "main", fake_main)
    assert cli.main(["bench", bench, "clip.mp4", "--frames", "5"]) == 3
    assert seen == [["clip.mp4", "--frames", "5"]]


@pytest.mark.parametrize(
    "argv",
    [["data/davis", "--prompt", "box"], ["--help"], ["--sequences", "boat", "--", "root"]],
)
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_eval_forwards_its_arguments_untouched(monkeypatch, argv, debug):
    module = pytest.importorskip("segany_video.evaluation.davis_eval")
    seen = []
    monkeypatch.setattr(module, "main", lambda args: seen.append(args) or 0)
    assert cli.main([*debug, "eval", *argv]) == 0
    assert seen == [argv]


def test_a_new_forwarded_command_is_one_table_entry(monkeypatch, capsys):
    # How studio and batch get wired in: a module with main(argv) -> int, one FORWARDED line.
    module = types.ModuleType("fake_studio_command")
    seen = []

    def fake_main(argv):
        seen.append(argv)
        if argv == ["--bad"]:
            raise ConfigError("studio --bad: no such option")
        return 7

    module.main = fake_main
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(
        forwarded.FORWARDED, "studio", forwarded.ForwardedCommand(module.__name__, "the web page")
    )
    assert cli.main(["studio", "--port", "0"]) == 7
    assert seen == [["--port", "0"]]
    assert cli.main(["studio", "--bad"]) == 2  # its errors get the same prefix and exit code
    assert "studio --bad" in one_error_line(capsys.readouterr().err)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "studio" in capsys.readouterr().out


def test_bench_without_a_known_name_exits_2(capsys):
    assert cli.main(["bench", "gpu"]) == 2
    assert "bench needs one of" in one_error_line(capsys.readouterr().err)
