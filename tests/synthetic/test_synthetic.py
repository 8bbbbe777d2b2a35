"""The synthetic scenario keeps its promises for every seed, and writes a small, readable clip."""

from __future__ import annotations

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from segany_video.errors import FrameIndexError
from segany_video.results import mask_box
from segany_video.synthetic.clips import ClipPaths, SyntheticClip, make_clip, write_clip
from segany_video.writers.davis_png import read_davis_png

SEEDS = [0, 1, 2, 5]


def role_id(clip: SyntheticClip, role: str) -> int:
    return next(obj.id for obj in clip.objects if obj.role == role)


@pytest.fixture(scope="module", params=SEEDS)
def clip(request: pytest.FixtureRequest) -> SyntheticClip:
    return make_clip(request.param)


def test_same_seed_same_clip_other_seed_other_clip() -> None:
    a, b, c = make_clip(7, num_frames=60), make_clip(7, num_frames=60), make_clip(8, num_frames=60)
    for i in (0, 33):
        assert np.array_equal(a.frame(i), b.frame(i))
        assert np.array_equal(a.label_map(i), b.label_map(i))
    # rendering order must not matter: frame 33 again after another frame
    b.frame(5)
    assert np.array_equal(a.frame(33), b.frame(33))
    assert not np.array_equal(a.frame(0), c.frame(0))


def test_frames_are_rgb_uint8_of_the_requested_size() -> None:
    clip = make_clip(3, num_frames=20, size=(320, 180))
    frames = list(clip.frames())
    assert len(frames) == len(clip) == 20
    assert frames[0].shape == (180, 320, 3) and frames[0].dtype == np.uint8
    with pytest.raises(FrameIndexError, match="frame 20"):
        clip.frame(20)


def test_every_object_is_visible_and_boxed_on_frame_0(clip: SyntheticClip) -> None:
    assert clip.object_ids == (1, 2, 3)
    boxes = clip.first_frame_boxes()
    masks = clip.masks(0)
    for oid in clip.object_ids:
        assert clip.visible(0, oid)
        np.testing.assert_array_equal(boxes[oid], mask_box(masks[oid]))
    prompts = clip.prompts()["objects"]
    assert [p["id"] for p in prompts] == [1, 2, 3]
    assert prompts[0]["keyframes"] == [{"frame": 0, "box": [int(v) for v in boxes[1]]}]


def test_hidden_object_is_fully_covered_by_the_occluder_for_10_plus_frames(
    clip: SyntheticClip,
) -> None:
    hidden, occluder = role_id(clip, "hidden"), role_id(clip, "occluder")
    runs = clip.hidden_ranges(hidden)
    assert len(runs) == 1
    run = runs[0]
    assert len(run) >= 10 and run.start > 0 and run.stop < len(clip)
    fully_covered = []
    for i in run:
        full = clip.full_masks(i)
        assert full[hidden].any(), "hidden by occlusion, not by leaving the frame"
        if not (full[hidden] & ~full[occluder]).any():
            assert not clip.masks(i)[hidden].any()
            fully_covered.append(i)
    # not a single pixel shows for 10+ consecutive frames
    assert len(fully_covered) >= 10
    assert fully_covered == list(range(fully_covered[0], fully_covered[-1] + 1))
    assert clip.hidden_ranges(occluder) == []


def test_wanderer_leaves_the_frame_and_comes_back(clip: SyntheticClip) -> None:
    wanderer = role_id(clip, "wanderer")
    runs = clip.hidden_ranges(wanderer)
    assert len(runs) == 1
    run = runs[0]
    assert len(run) >= 10 and run.start > 0 and run.stop < len(clip)
    assert not clip.full_masks(run.start + len(run) // 2)[wanderer].any(), "out of the frame"
    assert clip.visible(run.stop, wanderer) and clip.visible(len(clip) - 1, wanderer)


def test_wanderer_crosses_over_the_occluder(clip: SyntheticClip) -> None:
    wanderer, occluder = (
        clip.object(role_id(clip, "wanderer")),
        clip.object(role_id(clip, "occluder")),
    )
    side = np.sign(wanderer.centres[:, 0] - occluder.centres[:, 0])
    switch = int(np.flatnonzero(side != side[0])[0])  # the wanderer passes the occluder
    overlaps = [
        i
        for i in range(max(0, switch - 5), switch + 6)
        if (lambda f: (f[wanderer.id] & f[occluder.id]).any())(clip.full_masks(i))
    ]
    assert overlaps, "their outlines overlap while one passes the other"
    i = overlaps[len(overlaps) // 2]
    # the wanderer is in front: the overlap belongs to it, and the occluder stays visible
    full, vis = clip.full_masks(i), clip.masks(i)
    assert np.array_equal(vis[wanderer.id], full[wanderer.id])
    assert clip.visible(i, occluder.id) and clip.visible_fraction(i, occluder.id) < 1


@pytest.mark.parametrize("index", [0, 50, 75, 120])
def test_visible_masks_follow_depth_order(clip: SyntheticClip, index: int) -> None:
    full, vis = clip.full_masks(index), clip.masks(index)
    stack = np.stack([vis[oid] for oid in clip.object_ids])
    assert stack.sum(0).max() <= 1, "no pixel in two visible masks"
    union_full = np.logical_or.reduce([full[oid] for oid in clip.object_ids])
    assert np.array_equal(stack.any(0), union_full)
    for obj in clip.objects:
        in_front = [o.id for o in clip.objects if o.depth > obj.depth]
        expected = full[obj.id].copy()
        for oid in in_front:
            expected &= ~full[oid]
        assert np.array_equal(vis[obj.id], expected)
    labels = clip.label_map(index)
    for oid in clip.object_ids:
        assert np.array_equal(labels == oid, vis[oid])


def test_visibility_threshold_and_ranges_agree() -> None:
    clip = make_clip(4, num_frames=60, size=(320, 180), min_visible_fraction=0.2)
    fractions = clip.visible_fractions()
    assert fractions.max() <= 1.0 + 1e-9
    for k, oid in enumerate(clip.object_ids):
        hidden = {i for r in clip.hidden_ranges(oid) for i in r}
        for i in range(len(clip)):
            assert clip.visible(i, oid) == (fractions[i, k] >= 0.2) == (i not in hidden)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_frames": 60},
        {"num_frames": 60, "size": (320, 180), "shake": 3.0, "pan_speed": 2.0},
        {"num_frames": 90, "num_objects": 2},
    ],
    ids=["short", "small-drone", "two-objects"],
)
def test_scenario_holds_for_other_settings(kwargs: dict) -> None:
    clip = make_clip(9, **kwargs)
    runs = clip.hidden_ranges(role_id(clip, "hidden"))
    assert len(runs) == 1 and len(runs[0]) >= 10
    if len(clip.objects) == 3:
        assert len(clip.hidden_ranges(role_id(clip, "wanderer"))) == 1


def test_ground_truth_lines_up_with_edges_in_the_picture() -> None:
    # Mask contours against the background must sit on strong image gradients; a mask shifted by
    # a few pixels (a rendering/geometry mismatch) would not.
    clip = make_clip(2, num_frames=30, noise=0.0)
    image = cv2.cvtColor(clip.frame(0), cv2.COLOR_RGB2LAB).astype(np.float32)
    grad = sum(
        np.abs(cv2.Sobel(image[..., c], cv2.CV_32F, dx, 1 - dx)) for c in range(3) for dx in (0, 1)
    )
    labels = clip.label_map(0)
    for oid in clip.object_ids:
        mask = (labels == oid).astype(np.uint8)
        contour = mask - cv2.erode(mask, np.ones((3, 3), np.uint8))
        grown = cv2.dilate(mask, np.ones((11, 11), np.uint8))
        ring = (grown - cv2.dilate(mask, np.ones((7, 7), np.uint8))).astype(bool) & (labels == 0)
        assert grad[contour.astype(bool)].mean() > 2 * grad[ring].mean()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"num_frames": 1}, "num_frames"),
        ({"size": (32, 360)}, "64x64"),
        ({"num_objects": 4}, "num_objects"),
        ({"shadow": 2.0}, "shadow"),
        ({"min_visible_fraction": 0.0}, "min_visible_fraction"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_clip(**kwargs)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[SyntheticClip, ClipPaths]:
    clip = make_clip(1)  # the default 5 s at 640x360
    # a faster x264 preset than the default spends more bits, so the size check stays honest
    return clip, write_clip(clip, tmp_path_factory.mktemp("clip"), preset="veryfast")


def test_written_clip_is_small_h264_with_every_frame(
    written: tuple[SyntheticClip, ClipPaths],
) -> None:
    clip, paths = written
    assert paths.video.stat().st_size < 2_000_000
    with av.open(str(paths.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert stream.codec_context.pix_fmt == "yuv420p"
        assert float(stream.average_rate) == pytest.approx(30.0)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    assert len(frames) == len(clip)
    for i in (0, 100):
        error = np.abs(frames[i].astype(np.int16) - clip.frame(i).astype(np.int16))
        assert error.mean() < 4, "lossy but faithful"
    leftovers = [p.name for p in paths.video.parent.iterdir() if "partial" in p.name]
    assert leftovers == []


def test_written_ground_truth_and_prompts_read_back(
    written: tuple[SyntheticClip, ClipPaths],
) -> None:
    clip, paths = written
    files = sorted(paths.annotations.glob("*.png"))
    assert [f.name for f in files[:2]] == ["00000.png", "00001.png"] and len(files) == len(clip)
    for i in (0, 60, 149):
        assert np.array_equal(read_davis_png(files[i]), clip.label_map(i))
    prompts = json.loads(Path(paths.prompts).read_text())
    assert prompts == clip.prompts()


SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="bundled sample not in this checkout")
def test_bundled_sample_is_small_and_matches_the_generator() -> None:
    # If the generator changes, the committed sample must be regenerated with
    # `python samples/make_sample.py`; this test says so instead of letting them drift apart.
    clip = make_clip(0)
    assert (SAMPLE / "clip.mp4").stat().st_size < 2_000_000
    assert json.loads((SAMPLE / "prompts.json").read_text()) == clip.prompts()
    for i in (0, 47, 100, 149):
        assert np.array_equal(
            read_davis_png(SAMPLE / "ground_truth" / f"{i:05d}.png"), clip.label_map(i)
        )
    with av.open(str(SAMPLE / "clip.mp4")) as container:
        assert container.streams.video[0].frames == len(clip)
