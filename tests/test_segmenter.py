"""The Python API: VideoSegmenter.track streams one result per frame; .run writes the same."""

from __future__ import annotations

import json

import numpy as np
import pytest
from api_clips import decode_frames, prompts_at, tiny_clip

import segany_video
import segany_video.segmenter as segmenter_module
from segany_video.config import load_config
from segany_video.errors import FrameIndexError, PromptError
from segany_video.results import TrackState
from segany_video.segmenter import RunSummary, VideoSegmenter
from segany_video.writers.coco_json import frame_result_from_record
from segany_video.writers.davis_png import read_davis_png

FRAMES = 12


@pytest.fixture(scope="module")
def clip_and_paths(tmp_path_factory):
    return tiny_clip(tmp_path_factory.mktemp("api_clip"), num_frames=FRAMES)


@pytest.fixture(scope="module")
def segmenter():
    return VideoSegmenter()


@pytest.fixture(scope="module")
def tracked(segmenter, clip_and_paths):
    """Every result of ``.track`` over the whole clip, from its frame-0 prompts file."""
    _, paths = clip_and_paths
    return list(segmenter.track(paths.video, paths.prompts))


def test_public_api_is_importable_from_the_package():
    assert segany_video.VideoSegmenter is VideoSegmenter


def test_default_engine_is_classic(segmenter):
    assert segmenter.model.info.name == "classic"
    assert segmenter.model.info.description == "classic engine, no learned weights"
    assert segmenter.config.model is None


def test_track_yields_one_result_per_frame_in_order(tracked, clip_and_paths):
    clip, _ = clip_and_paths
    assert [r.index for r in tracked] == list(range(FRAMES))
    np.testing.assert_allclose([r.timestamp for r in tracked], np.arange(FRAMES) / 30, atol=1e-6)
    for result in tracked:
        assert list(result.objects) == [1, 2, 3]
        for obj in result.objects.values():
            assert obj.mask.shape == (96, 160) and obj.mask.dtype == bool
            assert 0.0 <= obj.score <= 1.0
            assert (obj.box is None) == (not obj.mask.any())
    assert all(o.state is TrackState.PROMPTED for o in tracked[0].objects.values())
    # The largest object never leaves view in a short clip: followed on every frame.
    assert all(r.objects[1].state is TrackState.TRACKED for r in tracked[1:])
    truth = clip.masks(FRAMES - 1)[1]
    found = tracked[-1].objects[1].mask
    assert (found & truth).sum() / (found | truth).sum() > 0.5


def test_track_streams_without_holding_the_video(clip_and_paths, monkeypatch):
    """The first result arrives after a bounded read-ahead, not after decoding everything."""
    _, paths = clip_and_paths
    decoded: list[int] = []
    real_open = segmenter_module.open_video

    def counting_open(source, settings=None):
        video = real_open(source, settings=settings)
        real_batches = video.batches

        def batches(*args, **kwargs):
            for batch in real_batches(*args, **kwargs):
                decoded.extend(int(i) for i in batch.indices)
                yield batch

        video.batches = batches
        return video

    monkeypatch.setattr(segmenter_module, "open_video", counting_open)
    config = load_config(
        overrides={
            "reader": {"prefetch_batches": 0},
            "runtime": {"batch_size": 1, "queue_depth": 1},
        }
    )
    stream = VideoSegmenter(config=config).track(paths.video, paths.prompts)
    first = next(stream)
    assert first.index == 0
    read_ahead = len(decoded)
    stream.close()
    # batch 1, queue depth 1: a few frames in flight at most, never the whole clip
    assert 1 <= read_ahead <= 4 < FRAMES


def test_run_returns_the_summary_and_writes_what_track_yields(
    segmenter, tracked, clip_and_paths, tmp_path
):
    _, paths = clip_and_paths
    out = tmp_path / "out"
    seen = []
    summary = segmenter.run(
        paths.video,
        paths.prompts,
        out,
        formats=["masks", "json", "davis"],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert isinstance(summary, RunSummary)
    assert summary.frames == FRAMES and summary.first_frame == 0
    assert summary.engine == "classic" and summary.weights is None
    assert seen == [(n, FRAMES) for n in range(1, FRAMES + 1)]
    assert json.loads((out / "run.json").read_text()) == json.loads(json.dumps(summary.to_dict()))
    for obj in summary.objects:
        states = [r.objects[obj.id].state.value for r in tracked]
        assert obj.frames == {s.value: states.count(s.value) for s in TrackState}

    # Masks: the lossless mask videos decode to exactly what .track yielded.
    for object_id in (1, 2, 3):
        frames = decode_frames(out / "masks" / f"{object_id}.mkv")
        expected = np.stack([r.objects[object_id].mask for r in tracked]).astype(np.uint8) * 255
        np.testing.assert_array_equal(frames, expected)
    # tracks.json: same states and masks; boxes and scores as rounded in the file.
    records = json.loads((out / "tracks.json").read_text())["frames"]
    assert len(records) == FRAMES
    for record, result in zip(records, tracked, strict=True):
        written = frame_result_from_record(record)
        assert written.index == result.index
        for object_id, obj in result.objects.items():
            got = written.objects[object_id]
            assert got.state == obj.state
            np.testing.assert_array_equal(got.mask, obj.mask)
            assert got.score == pytest.approx(obj.score, abs=1e-6)
            if obj.box is None:
                assert got.box is None
            else:
                np.testing.assert_allclose(got.box, obj.box, atol=1e-3)
        np.testing.assert_array_equal(
            read_davis_png(out / "davis" / f"{result.index:05d}.png"), result.label_map()
        )


@pytest.fixture(scope="module")
def late_prompts(clip_and_paths):
    clip, _ = clip_and_paths
    return prompts_at(clip, 3)


@pytest.mark.parametrize(("start", "end"), [(3, 9), (0.1, 0.3), (3, 0.3)])
def test_start_and_end_select_frames(segmenter, clip_and_paths, late_prompts, start, end):
    _, paths = clip_and_paths
    results = list(segmenter.track(paths.video, late_prompts, start=start, end=end))
    assert [r.index for r in results] == [3, 4, 5, 6, 7, 8]
    assert all(o.state is TrackState.PROMPTED for o in results[0].objects.values())


def test_ranges_given_by_time_equal_ranges_given_by_frame(segmenter, clip_and_paths, late_prompts):
    _, paths = clip_and_paths
    by_frame = list(segmenter.track(paths.video, late_prompts, start=3, end=7))
    by_time = list(segmenter.track(paths.video, late_prompts, start=0.1, end=7 / 30))
    for a, b in zip(by_frame, by_time, strict=True):
        assert a.index == b.index
        for object_id in a.objects:
            np.testing.assert_array_equal(a.objects[object_id].mask, b.objects[object_id].mask)


@pytest.mark.parametrize(
    ("prompt_frame", "start", "end"),
    [(0, 3, None), (10, 0, 9), (9, 3, 9), (2, 0.1, None)],
)
def test_keyframe_outside_the_range_is_a_prompt_error(
    segmenter, clip_and_paths, prompt_frame, start, end
):
    clip, paths = clip_and_paths
    prompts = prompts_at(clip, prompt_frame)
    with pytest.raises(PromptError, match=r"outside the processed range"):
        next(segmenter.track(paths.video, prompts, start=start, end=end))
    with pytest.raises(PromptError, match=r"outside the processed range"):
        segmenter.run(paths.video, prompts, paths.video.parent / "never", start=start, end=end)
    assert not (paths.video.parent / "never").exists()  # refused before writing anything


@pytest.mark.parametrize(("start", "end"), [(5, 5), (6, 2), (0, FRAMES + 5), (-1, None)])
def test_bad_ranges_are_frame_index_errors(segmenter, clip_and_paths, start, end):
    _, paths = clip_and_paths
    with pytest.raises(FrameIndexError):
        next(segmenter.track(paths.video, paths.prompts, start=start, end=end))


def test_prompts_as_dict_and_as_file_give_the_same_result(segmenter, clip_and_paths):
    clip, paths = clip_and_paths
    from_file = list(segmenter.track(paths.video, paths.prompts, end=2))
    from_dict = list(segmenter.track(paths.video, clip.prompts(), end=2))
    for a, b in zip(from_file, from_dict, strict=True):
        for object_id in a.objects:
            np.testing.assert_array_equal(a.objects[object_id].mask, b.objects[object_id].mask)
