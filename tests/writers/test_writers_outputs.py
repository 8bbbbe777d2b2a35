"""OutputSet: the documented layout, atomic completion, settings and file-name safety."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest
from writer_frames import TIMESTAMPS, decode, frame_results, image, video_info

from segany_video.errors import ConfigError, PromptError, WriterError
from segany_video.writers import coco_json
from segany_video.writers.atomic import (
    AtomicPath,
    partial_path,
    write_text_atomically,
    writer_error,
)
from segany_video.writers.coco_json import read_tracks
from segany_video.writers.davis_png import read_davis_png
from segany_video.writers.layout import object_file_names, sanitize_id
from segany_video.writers.mask_video import MaskVideoWriter
from segany_video.writers.outputs import FORMATS, OutputSet, WriterSettings


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _run(out: Path, ids, settings: WriterSettings) -> dict[str, list[Path]]:
    with OutputSet(out, video_info(), ids, settings) as outputs:
        for r in frame_results(ids):
            outputs.write(r, image(r.index))
    return outputs.paths


# -- layout -----------------------------------------------------------------------------------


def test_every_format_lands_in_the_documented_layout(tmp_path):
    ids = [1, "dog walker"]
    paths = _run(tmp_path, ids, WriterSettings(formats=FORMATS))
    n = len(TIMESTAMPS)
    frames = [f"{i:05d}.png" for i in range(n)]
    expected = {
        "masks/1.mkv",
        "masks/dog_walker.mkv",
        "cutouts/1.mov",
        "cutouts/1.webm",
        "cutouts/dog_walker.mov",
        "cutouts/dog_walker.webm",
        "overlay.mp4",
        "tracks.json",
        "tracks_mot.csv",
        "masks",
        "cutouts",
        "png",
        "png/1",
        "png/dog_walker",
        "davis",
        *(f"png/1/{f}" for f in frames),
        *(f"png/dog_walker/{f}" for f in frames),
        *(f"davis/{f}" for f in frames),
    }
    assert set(_files(tmp_path)) == expected  # and no temporary leftovers
    assert paths["masks"] == [tmp_path / "masks/1.mkv", tmp_path / "masks/dog_walker.mkv"]
    assert paths["png"] == [tmp_path / "png/1", tmp_path / "png/dog_walker"]
    assert paths["overlay"] == [tmp_path / "overlay.mp4"]
    assert len(paths["cutout"]) == 4


def test_outputs_agree_with_each_other_and_with_the_results(tmp_path):
    ids = ["a", "b"]
    _run(tmp_path, ids, WriterSettings(formats=("masks", "davis", "json")))
    results = frame_results(ids)
    frames, times = decode(tmp_path / "masks/b.mkv")
    np.testing.assert_allclose(times, TIMESTAMPS, atol=1e-3)
    for frame, r in zip(frames, results, strict=True):
        np.testing.assert_array_equal(frame.to_ndarray() == 255, r.objects["b"].mask)
        labels = read_davis_png(tmp_path / f"davis/{r.index:05d}.png")
        expected = np.zeros(labels.shape, np.uint8)
        expected[r.objects["a"].mask] = 1
        expected[r.objects["b"].mask] = 2  # later objects win overlaps
        np.testing.assert_array_equal(labels, expected)
    data = read_tracks(tmp_path / "tracks.json")
    assert [o["name"] for o in data["objects"]] == ["a", "b"]
    assert len(data["frames"]) == len(results)


def test_h264_mask_codec_writes_mp4(tmp_path):
    paths = _run(tmp_path, [5], WriterSettings(formats=("masks",), mask_codec="h264"))
    assert paths["masks"] == [tmp_path / "masks/5.mp4"]
    frames, _ = decode(paths["masks"][0])
    assert len(frames) == len(TIMESTAMPS)


def test_objects_missing_from_a_frame_are_written_empty(tmp_path):
    ids = [1, 2]
    results = frame_results([1])
    with OutputSet(tmp_path, video_info(), ids, WriterSettings(formats=("masks",))) as outputs:
        for r in results:
            outputs.write(r, image(r.index))
    frames, _ = decode(tmp_path / "masks/2.mkv")
    assert len(frames) == len(results)
    assert all(not f.to_ndarray().any() for f in frames)


# -- atomic completion ------------------------------------------------------------------------


def test_an_exception_mid_run_leaves_no_file_that_looks_complete(tmp_path):
    ids = [1, 2]
    settings = WriterSettings(formats=FORMATS)
    with (
        pytest.raises(RuntimeError, match="tracker broke"),
        OutputSet(tmp_path, video_info(), ids, settings) as outputs,
    ):
        for r in frame_results(ids)[:4]:
            outputs.write(r, image(r.index))
        raise RuntimeError("tracker broke")
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_writer_failing_mid_way_reaches_the_caller_and_commits_nothing(tmp_path, monkeypatch):
    real_write = coco_json.TracksJsonWriter.write

    def failing_write(self, result):
        if result.index == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(self, result)

    monkeypatch.setattr(coco_json.TracksJsonWriter, "write", failing_write)
    ids = [1]
    settings = WriterSettings(formats=("masks", "json", "mot"), queue_size=2)
    with (
        pytest.raises(WriterError, match="frame 3"),
        OutputSet(tmp_path, video_info(), ids, settings) as outputs,
    ):
        for r in frame_results(ids):
            outputs.write(r, image(r.index))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_single_writer_aborted_removes_its_temporary_file(tmp_path):
    final = tmp_path / "1.mkv"
    with pytest.raises(KeyError), MaskVideoWriter(final, 64, 48, video_info().fps) as writer:
        writer.write(np.ones((48, 64), bool), 0.0)
        assert partial_path(final).exists()
        raise KeyError("boom")
    assert list(tmp_path.iterdir()) == []


def test_partial_name_keeps_extension_and_hides_the_file():
    assert partial_path(Path("out/masks/1.mkv")) == Path("out/masks/.1.partial.mkv")
    assert partial_path(Path("out/png/a")) == Path("out/png/.a.partial")


def test_committing_a_folder_replaces_an_older_one(tmp_path):
    (tmp_path / "davis").mkdir()
    (tmp_path / "davis" / "stale.png").write_bytes(b"old")
    target = AtomicPath(tmp_path / "davis", is_dir=True)
    (target.temp / "00000.png").write_bytes(b"new")
    target.commit()
    assert _files(tmp_path) == ["davis", "davis/00000.png"]


def test_a_text_report_replaces_the_old_one_only_once_written(tmp_path, monkeypatch):
    report = tmp_path / "scores.json"
    report.write_text("old")
    assert write_text_atomically(report, '{"J": 0.5}') == report
    assert report.read_text() == '{"J": 0.5}' and _files(tmp_path) == ["scores.json"]

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(WriterError, match=r"scores\.json"):
        write_text_atomically(report, '{"J": 0.9}')
    monkeypatch.undo()
    assert report.read_text() == '{"J": 0.5}' and _files(tmp_path) == ["scores.json"]


# -- errors -----------------------------------------------------------------------------------


def test_unwritable_output_folder_is_a_writer_error_naming_it(tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the output folder should go")
    out = blocker / "run1"
    with pytest.raises(WriterError, match="not_a_folder"):
        OutputSet(out, video_info(), [1], WriterSettings())


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        (errno.ENOSPC, "disk or quota is full"),
        (errno.EDQUOT, "disk or quota is full"),
        (errno.EACCES, "not writable"),
        (errno.EROFS, "not writable"),
        (errno.ENOTDIR, "a file is in the way"),
    ],
)
def test_os_errors_become_writer_errors_with_advice(code, advice):
    err = writer_error(Path("out/tracks.json"), OSError(code, "boom"))
    assert isinstance(err, WriterError) and isinstance(err, OSError)
    assert "out/tracks.json" in str(err) and advice in str(err)


def test_frames_out_of_order_and_wrong_shapes_are_rejected(tmp_path):
    ids = [1]
    results = frame_results(ids)
    with OutputSet(tmp_path, video_info(), ids, WriterSettings(formats=FORMATS)) as outputs:
        outputs.write(results[1], image(1))
        with pytest.raises(WriterError, match="after frame 1"):
            outputs.write(results[0], image(0))
        with pytest.raises(WriterError, match="uint8 RGB"):
            outputs.write(results[2], image(2)[:10])
        with pytest.raises(WriterError, match="need the image"):
            outputs.write(results[2], None)
        bad = type(results[2])(2, 0.5, {99: results[2].objects[1]})
        with pytest.raises(PromptError, match="99"):
            outputs.write(bad, image(2))


@pytest.mark.parametrize(
    ("ids", "match"),
    [([1, 1], "appears twice"), ([], "at least one"), (list(range(300)), "255")],
)
def test_bad_object_id_lists_are_prompt_errors(tmp_path, ids, match):
    with pytest.raises(PromptError, match=match):
        OutputSet(tmp_path, video_info(), ids, WriterSettings(formats=("davis",)))


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "formats"),
    [
        ({}, ("masks", "overlay", "json")),
        ({"formats": ["png", "mot"]}, ("png", "mot")),
        ({"formats": "masks, davis,masks"}, ("masks", "davis")),
        ({"formats": ("cutout",), "cutout_codecs": ["vp9"]}, ("cutout",)),
    ],
)
def test_writer_settings_from_valid_dicts(data, formats):
    assert WriterSettings.from_dict(data).formats == formats


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"format": ["masks"]}, "unknown writers setting"),
        ({"formats": ["masks", "gif"]}, "gif"),
        ({"formats": 3}, "list of names"),
        ({"mask_codec": "png"}, "mask_codec"),
        ({"cutout_codecs": ["hevc"]}, "hevc"),
        ({"formats": ["cutout"], "cutout_codecs": []}, "at least one"),
        ({"queue_size": 0}, "queue_size"),
        ({"queue_size": True}, "queue_size"),
        ({"overlay_opacity": 1.5}, "overlay_opacity"),
        ({"stall_timeout_s": 0}, "stall_timeout_s"),
    ],
)
def test_writer_settings_reject_bad_dicts(data, match):
    with pytest.raises(ConfigError, match=match):
        WriterSettings.from_dict(data)


# -- file names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("object_id", "expected"),
    [
        (7, "7"),
        ("person", "person"),
        ("../../etc/passwd", "_._etc_passwd"),
        ("a/b\\c", "a_b_c"),
        ("..", "object"),
        ("", "object"),
        (".hidden", "hidden"),
        ("two words", "two_words"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("José", "José"),
        ("e\u0301", "é"),  # decomposed accent -> one composed letter (NFC)
        ("猫", "猫"),
        ("tab\there", "tab_here"),
        ("x" * 300, "x" * 80),
    ],
)
def test_sanitize_id_table(object_id, expected):
    name = sanitize_id(object_id)
    assert name == expected
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert len(name.encode()) <= 80


def test_sanitize_id_cuts_multibyte_names_on_character_boundaries():
    name = sanitize_id("é" * 100)
    assert name == "é" * 40 and len(name.encode()) == 80


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([1, "1"], ["1", "1-2"]),
        (["a/b", "a?b", "a_b"], ["a_b", "a_b-2", "a_b-3"]),
        (["Car", "car"], ["Car", "car-2"]),  # case-insensitive file systems
        (["a", "A", "a-2"], ["a", "A-2", "a-2-2"]),
        (["", ".."], ["object", "object-2"]),
    ],
)
def test_ids_that_sanitise_alike_get_distinct_names(ids, expected):
    assert object_file_names(ids) == expected


def test_colliding_ids_write_separate_files(tmp_path):
    paths = _run(tmp_path, ["x/y", "x?y"], WriterSettings(formats=("masks",)))
    assert [p.name for p in paths["masks"]] == ["x_y.mkv", "x_y-2.mkv"]
    assert all(p.is_file() for p in paths["masks"])
