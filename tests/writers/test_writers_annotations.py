"""Annotation writers: COCO RLE, tracks.json, DAVIS palette PNGs, MOT CSV."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from writer_frames import TIMESTAMPS, frame_results, video_info

from segany_video.writers import rle
from segany_video.writers.coco_json import (
    TracksJsonWriter,
    frame_result_from_record,
    iter_frame_records,
    read_header,
    read_tracks,
)
from segany_video.writers.davis_png import (
    DavisPngWriter,
    davis_palette,
    decode_index_png,
    encode_palette_png,
    read_davis_png,
)
from segany_video.writers.mot_csv import MotCsvWriter, mot_ids

# pycocotools (a test extra) is the independent oracle for RLE; its decode trips a NumPy 2
# deprecation warning that is not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


@pytest.fixture(scope="module")
def coco_mask():
    return pytest.importorskip("pycocotools.mask")


# -- COCO RLE -----------------------------------------------------------------------------

MASK_CASES = {
    "empty": np.zeros((5, 7), bool),
    "full": np.ones((5, 7), bool),
    "first_pixel_set": np.eye(6, 4, dtype=bool),
    "single_column": np.array([[0], [1], [1], [0]], bool),
    "single_row": np.array([[1, 0, 1, 1, 0, 0, 1]], bool),
    "long_runs": np.pad(np.ones((200, 300), bool), ((100, 40), (500, 20))),
    "checker": (np.indices((9, 11)).sum(axis=0) % 2).astype(bool),
}


@pytest.mark.parametrize("name", list(MASK_CASES))
def test_rle_decodes_with_pycocotools_and_fallback_matches_it(name, coco_mask):
    mask = MASK_CASES[name]
    encoded = rle.encode_rle(mask)
    assert isinstance(encoded["counts"], str)
    json.dumps(encoded)  # JSON-ready as is
    np.testing.assert_array_equal(coco_mask.decode(encoded).astype(bool), mask)
    assert rle.encode_rle_fallback(mask) == encoded
    np.testing.assert_array_equal(rle.decode_rle(encoded), mask)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(arrays(np.bool_, st.tuples(st.integers(1, 40), st.integers(1, 40))))
def test_fallback_rle_is_identical_to_pycocotools_on_random_masks(coco_mask, mask):
    reference = coco_mask.encode(np.asfortranarray(mask, dtype=np.uint8))
    ours = rle.encode_rle_fallback(mask)
    assert ours["counts"] == reference["counts"].decode("ascii")
    assert ours["size"] == list(reference["size"])
    np.testing.assert_array_equal(rle.decode_rle(reference), mask)


def test_rle_decoder_rejects_runs_that_do_not_fill_the_mask():
    with pytest.raises(ValueError, match="runs sum"):
        rle.decode_rle({"size": [3, 3], "counts": [2, 3]})


def test_rle_encoder_without_pycocotools_still_works(monkeypatch):
    mask = MASK_CASES["long_runs"]
    expected = rle.encode_rle(mask)
    monkeypatch.setattr(rle, "_coco_mask", None)
    assert rle.encode_rle(mask) == expected


# -- tracks.json ----------------------------------------------------------------------------


def _write_tracks(path, ids, results):
    with TracksJsonWriter(path, video_info(), ids, [str(i) for i in ids]) as writer:
        for r in results:
            writer.write(r)


def test_tracks_json_holds_every_frame_box_score_state_and_mask(tmp_path, coco_mask):
    ids = [3, "car"]
    results = frame_results(ids)
    path = tmp_path / "tracks.json"
    _write_tracks(path, ids, results)
    data = read_tracks(path)  # the whole file is one valid JSON document
    assert data["objects"] == [
        {"id": 3, "slot": 1, "name": "3"},
        {"id": "car", "slot": 2, "name": "car"},
    ]
    assert data["box_format"] == "xyxy"
    assert [f["index"] for f in data["frames"]] == list(range(len(TIMESTAMPS)))
    np.testing.assert_allclose([f["timestamp"] for f in data["frames"]], TIMESTAMPS, atol=1e-6)
    for record, r in zip(data["frames"], results, strict=True):
        assert [o["id"] for o in record["objects"]] == ids
        for item in record["objects"]:
            expected = r.objects[item["id"]]
            mask = coco_mask.decode(item["mask"]).astype(bool)
            np.testing.assert_array_equal(mask, expected.mask)
            assert item["state"] == expected.state.value
            assert item["score"] == pytest.approx(expected.score, abs=1e-6)
            if expected.box is None:
                assert item["box"] is None
            else:
                np.testing.assert_allclose(item["box"], expected.box)


def test_tracks_json_records_rebuild_frame_results(tmp_path):
    ids = [1, 2]
    results = frame_results(ids)
    path = tmp_path / "tracks.json"
    _write_tracks(path, ids, results)
    rebuilt = [frame_result_from_record(rec) for rec in iter_frame_records(path)]
    assert len(rebuilt) == len(results)
    for a, b in zip(rebuilt, results, strict=True):
        assert a.index == b.index
        for oid in ids:
            np.testing.assert_array_equal(a.objects[oid].mask, b.objects[oid].mask)
            assert a.objects[oid].state == b.objects[oid].state


def test_partial_tracks_json_of_a_killed_run_yields_its_complete_frames(tmp_path):
    ids = [1, 2]
    results = frame_results(ids)
    path = tmp_path / "tracks.json"
    _write_tracks(path, ids, results)
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    # Header + 6 complete frame lines + half of the 7th, as a SIGKILL might leave it.
    cut = tmp_path / ".tracks.partial.json"
    cut.write_text("".join(lines[:7]) + lines[7][: len(lines[7]) // 2])
    assert [r["index"] for r in iter_frame_records(cut)] == list(range(6))
    assert read_header(cut)["objects"][1]["id"] == 2


def test_identical_inputs_give_byte_identical_json(tmp_path):
    ids = ["a", "b"]
    _write_tracks(tmp_path / "one.json", ids, frame_results(ids))
    _write_tracks(tmp_path / "two.json", ids, frame_results(ids))
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


# -- DAVIS palette PNGs -----------------------------------------------------------------------


def test_davis_palette_starts_with_the_standard_colours():
    palette = davis_palette()
    assert palette.shape == (256, 3)
    expected = [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128)]
    assert [tuple(int(v) for v in c) for c in palette[:6]] == expected
    assert tuple(palette[8]) == (64, 0, 0)
    assert len({tuple(c) for c in palette}) == 256


def test_davis_pngs_round_trip_indices_and_open_in_opencv_with_palette_colours(tmp_path):
    rng = np.random.default_rng(0)
    labels = [rng.integers(0, 4, (48, 64), dtype=np.uint8) for _ in range(3)]
    labels.append(np.full((48, 64), 255, np.uint8))
    folder = tmp_path / "davis"
    with DavisPngWriter(folder) as writer:
        for index, lab in enumerate(labels):
            writer.write(lab, index)
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:05d}.png" for i in range(4)]
    palette = davis_palette()
    for index, lab in enumerate(labels):
        path = folder / f"{index:05d}.png"
        np.testing.assert_array_equal(read_davis_png(path), lab)
        # An independent decoder (OpenCV's libpng) expands the palette to the DAVIS colours.
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(bgr[..., ::-1], palette[lab])


@pytest.mark.parametrize("filter_type", [1, 2, 3, 4])
def test_index_png_reader_undoes_every_png_filter(filter_type):
    # OpenCV (libpng) writes grayscale PNGs with the filter we ask for: an independent encoder.
    rng = np.random.default_rng(filter_type)
    gray = rng.integers(0, 256, (17, 23), dtype=np.uint8)
    flags = {1: cv2.IMWRITE_PNG_FILTER_SUB, 2: cv2.IMWRITE_PNG_FILTER_UP}
    flags |= {3: cv2.IMWRITE_PNG_FILTER_AVG, 4: cv2.IMWRITE_PNG_FILTER_PAETH}
    ok, data = cv2.imencode(".png", gray, [cv2.IMWRITE_PNG_FILTER, flags[filter_type]])
    assert ok
    decoded, palette = decode_index_png(data.tobytes())
    assert palette is None
    np.testing.assert_array_equal(decoded, gray)


def test_palette_png_encoder_checks_its_input():
    from segany_video.errors import WriterError

    with pytest.raises(WriterError, match="uint8"):
        encode_palette_png(np.zeros((4, 4), np.int32), davis_palette())


# -- MOT CSV ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([4, 9], {4: 4, 9: 9}),
        (["car", "bus"], {"car": 1, "bus": 2}),
        ([4, "bus"], {4: 1, "bus": 2}),
        ([0, 5], {0: 1, 5: 2}),
    ],
)
def test_mot_ids_use_integer_ids_or_else_slots(ids, expected):
    assert mot_ids(ids) == expected


def test_mot_csv_parses_and_matches_boxes(tmp_path):
    ids = ["person", "dog"]
    results = frame_results(ids)
    path = tmp_path / "tracks_mot.csv"
    with MotCsvWriter(path, ids) as writer:
        for r in results:
            writer.write(r)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    expected = [
        (r.index + 1, slot, r.objects[oid])
        for r in results
        for slot, oid in enumerate(ids, start=1)
        if r.objects[oid].box is not None
    ]
    assert len(rows) == len(expected)  # the dog is lost on two frames: no rows there
    for row, (frame, mot_id, obj) in zip(rows, expected, strict=True):
        assert len(row) == 10
        assert int(row[0]) == frame and int(row[1]) == mot_id
        x, y, w, h, score = (float(v) for v in row[2:7])
        np.testing.assert_allclose([x, y, x + w, y + h], obj.box)
        assert score == pytest.approx(obj.score, abs=1e-4)
        assert row[7:] == ["-1", "-1", "-1"]
