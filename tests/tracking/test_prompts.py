"""Prompt spec: loading JSON/YAML, resolving against a video, and every validation error."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from segany_video.errors import PromptError
from segany_video.readers.frames import VideoInfo
from segany_video.tracking.prompts import KeyframeSpec, ObjectSpec, PromptSet

INFO = VideoInfo("clip.mp4", 320, 240, Fraction(25), 100, 4.0, 0, "h264", "pyav")


def spec(**keyframe) -> dict:
    return {"objects": [{"id": 1, "keyframes": [keyframe]}]}


def test_issue_example_loads_from_json_with_relative_mask(tmp_path):
    mask = np.zeros((240, 320), np.uint8)
    mask[50:100, 60:90] = 255
    cv2.imwrite(str(tmp_path / "runner_075.png"), mask)
    data = {
        "objects": [
            {
                "id": 1,
                "name": "runner",
                "keyframes": [
                    {
                        "frame": 0,
                        "box": [120, 40, 260, 230],
                        "points": [[190, 120, 1], [230, 200, 0]],
                    },
                    {"frame": 75, "mask": "runner_075.png"},
                ],
            }
        ]
    }
    path = tmp_path / "prompts.json"
    path.write_text(json.dumps(data))
    resolved = PromptSet.load(path).resolve(INFO)
    (obj,) = resolved.objects
    assert obj.id == 1 and obj.name == "runner" and obj.first_frame == 0
    first, second = obj.keyframes
    assert first.box.tolist() == [120, 40, 260, 230]
    assert first.points.tolist() == [[190, 120], [230, 200]]
    assert first.point_labels.tolist() == [1, 0]
    assert second.frame == 75 and second.mask.dtype == bool
    assert second.mask.sum() == 50 * 30 and second.mask[50, 60] and not second.mask[49, 60]


def test_yaml_is_the_same_as_json(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "objects:\n  - id: car\n    keyframes:\n      - time: 2.0\n        box: [1, 2, 30, 40]\n"
    )
    resolved = PromptSet.load(path).resolve(INFO)
    assert resolved.ids == ["car"]
    assert resolved.objects[0].first_frame == 50  # 2.0 s at 25 fps


def test_keyframes_are_sorted_and_objects_keep_their_order():
    prompts = PromptSet(
        [
            ObjectSpec(
                "b",
                None,
                [KeyframeSpec(frame=9, box=(0, 0, 5, 5)), KeyframeSpec(frame=3, box=(0, 0, 5, 5))],
            ),
            ObjectSpec(7, "x", [KeyframeSpec(frame=1, points=[(3.0, 4.0, 1)])]),
        ]
    ).resolve(INFO)
    assert prompts.ids == ["b", 7]
    assert [k.frame for k in prompts.by_id("b").keyframes] == [3, 9]
    assert prompts.frame_size == (240, 320)


def test_mask_array_is_accepted():
    mask = np.zeros((240, 320), np.uint8)
    mask[10:20, 10:20] = 1
    resolved = PromptSet([ObjectSpec(1, None, [KeyframeSpec(frame=0, mask=mask)])]).resolve(INFO)
    assert resolved.objects[0].keyframes[0].mask.sum() == 100


# (data, words the error must contain); construction-time errors
INVALID_SPECS = [
    ({"objects": []}, ["no objects"]),
    ({"objects": [{"id": 1, "keyframes": []}]}, ["object 1", "no keyframes"]),
    (spec(frame=3), ["object 1", "frame 3", "no prompt"]),
    (spec(frame=3, box=[10, 10, 10, 50]), ["object 1", "frame 3", "degenerate"]),
    (spec(frame=3, box=[30, 10, 10, 50]), ["object 1", "frame 3", "degenerate"]),
    (spec(frame=3, points=[[1, 2, 5]]), ["object 1", "frame 3", "label"]),
    (spec(frame=3, points=[]), ["object 1", "frame 3", "empty"]),
    (spec(box=[1, 2, 3, 4]), ["object 1", "exactly one of 'frame' or 'time'"]),
    (spec(frame=1, time=1.0, box=[1, 2, 3, 4]), ["exactly one"]),
    (spec(frame=-1, box=[1, 2, 3, 4]), [">= 0"]),
    (spec(frame=1, box=[1, 2, 3, 4], colour="red"), ["object 1", "unknown keys", "colour"]),
    (
        {"objects": [{"id": 1, "label": "x", "keyframes": [{"frame": 0, "box": [1, 2, 3, 4]}]}]},
        ["object 1", "unknown keys", "label"],
    ),
    ({"objects": [], "fps": 3}, ["unknown keys", "fps"]),
    (
        {"objects": [{"id": 1, "keyframes": [{"frame": 0, "box": [1, 2, 3, 4]}]}] * 2},
        ["object 1", "duplicate"],
    ),
    ({"objects": [{"name": "x", "keyframes": []}]}, ["no 'id'"]),
    (spec(frame=1, box=[1, 2, 3]), ["box must be"]),
]


@pytest.mark.parametrize(("data", "words"), INVALID_SPECS)
def test_invalid_specs_name_the_problem(data, words):
    with pytest.raises(PromptError) as info:
        PromptSet.from_dict(data)
    for word in words:
        assert word in str(info.value)


# errors found only against the video
INVALID_AGAINST_VIDEO = [
    (
        spec(frame=100, box=[1, 2, 3, 4]),
        ["object 1", "frame 100", "outside the video", "100 frames"],
    ),
    (spec(time=4.5, box=[1, 2, 3, 4]), ["object 1", "frame 112", "outside the video"]),
    (spec(frame=2, points=[[321, 10, 1]]), ["object 1", "frame 2", "outside", "320x240"]),
    (spec(frame=2, points=[[10, -1, 1]]), ["object 1", "frame 2", "outside"]),
    (spec(frame=2, box=[0, 0, 330, 10]), ["object 1", "frame 2", "box", "outside"]),
    (
        {
            "objects": [
                {
                    "id": "a",
                    "keyframes": [
                        {"frame": 2, "box": [1, 2, 3, 4]},
                        {"time": 0.08, "box": [1, 2, 3, 4]},
                    ],
                }
            ]
        },
        ["object 'a'", "two keyframes on frame 2"],
    ),
]


@pytest.mark.parametrize(("data", "words"), INVALID_AGAINST_VIDEO)
def test_invalid_against_the_video(data, words):
    prompts = PromptSet.from_dict(data)
    with pytest.raises(PromptError) as info:
        prompts.resolve(INFO)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        (np.ones((240, 300), bool), ["object 1", "frame 0", "300x240", "320x240"]),
        (np.zeros((240, 320), bool), ["object 1", "frame 0", "empty"]),
        ("missing.png", ["object 1", "frame 0", "missing.png", "does not exist"]),
        ("folder.png/", ["object 1", "frame 0", "folder.png", "not a file"]),
        ("garbage.png", ["object 1", "frame 0", "cannot read"]),
    ],
)
def test_bad_masks(mask, words, tmp_path, capfd):
    if isinstance(mask, str):
        (tmp_path / "folder.png").mkdir()
        (tmp_path / "garbage.png").write_bytes(b"not an image")
        mask = tmp_path / mask
    prompts = PromptSet([ObjectSpec(1, None, [KeyframeSpec(frame=0, mask=mask)])])
    with pytest.raises(PromptError) as info:
        prompts.resolve(INFO)
    for word in words:
        assert word in str(info.value)
    if isinstance(mask, Path) and "garbage" not in mask.name:
        assert capfd.readouterr().err == ""  # our one line only, no OpenCV warning before it


def test_unknown_frame_count_skips_the_range_check():
    live = VideoInfo("rtsp://x", 320, 240, Fraction(25), None, None, 0, "h264", "pyav")
    resolved = PromptSet.from_dict(spec(frame=10_000, box=[1, 2, 3, 4])).resolve(live)
    assert resolved.objects[0].first_frame == 10_000


def test_bad_file_contents(tmp_path):
    path = tmp_path / "p.json"
    path.write_text("{not json")
    with pytest.raises(PromptError, match=r"p\.json"):
        PromptSet.load(path)
    with pytest.raises(PromptError, match="cannot read"):
        PromptSet.load(tmp_path / "absent.json")
