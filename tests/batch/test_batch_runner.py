"""One job in this process: the segmenter cache, retries from the journal, --resume checks."""

from __future__ import annotations

import json

import pytest
from batch_clips import FORMATS, SNAPSHOT_EVERY, assert_same_outputs, hidden_files

from segany_video.batch.manifest import Job
from segany_video.batch.runner import ATTEMPT_FILE, SegmenterCache, finished_run, run_job
from segany_video.config import load_config


def clip_job(clips, name: str, out, **options) -> Job:
    video = clips.root / "clips" / name / "clip.mp4"
    return Job(
        1,
        1,
        str(video),
        str(video.parent / "prompts.json"),
        str(out),
        formats=tuple(FORMATS),
        snapshot_every=SNAPSHOT_EVERY,
        **options,
    )


def test_cache_loads_once_per_config_whatever_the_formats():
    cache = SegmenterCache(capacity=2)
    first = cache.segmenter(load_config(overrides={"writers": {"formats": ["masks"]}}))
    assert cache.segmenter(load_config(overrides={"writers": {"formats": ["json"]}})) is first
    drone = cache.segmenter(load_config(preset="drone"))
    assert drone is not first and cache.loads == 2
    cache.segmenter(load_config(preset="sports"))  # the least recently used (first) goes
    assert cache.loads == 3
    assert cache.segmenter(load_config(preset="drone")) is drone and cache.loads == 3
    assert cache.segmenter(load_config()) is not first and cache.loads == 4


class Interrupt(BaseException):
    """Stands in for the worker's death: BaseException, so run_job does not catch it."""


def test_retry_with_the_batch_token_resumes_from_the_journal(clips, one_by_one, tmp_path):
    job = clip_job(clips, "clip3", tmp_path / "out")
    cache = SegmenterCache()

    def die_after_ten(index, done, total):
        if done == 10:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_job(job, "token-a", cache, report=die_after_ten)
    marker = json.loads((tmp_path / "out" / ATTEMPT_FILE).read_text())
    assert marker["token"] == "token-a" and marker["attempt"] == 1
    assert finished_run(job) is None  # interrupted: not finished
    result = run_job(job, "token-a", cache)
    assert result.status == "done" and result.attempts == 2
    assert result.resumed_at is not None and SNAPSHOT_EVERY <= result.resumed_at <= 10
    assert result.frames == 24
    assert_same_outputs(tmp_path / "out", one_by_one["clip3"])
    assert hidden_files(tmp_path / "out") == []
    assert finished_run(job)["frames"] == 24
    # Another config, or another start, is not the finished run.
    assert finished_run(clip_job(clips, "clip3", tmp_path / "out", preset="drone")) is None
    assert finished_run(clip_job(clips, "clip3", tmp_path / "out", start=1)) is None


def test_another_batch_starts_over_unless_resumed(clips, tmp_path):
    job = clip_job(clips, "clip3", tmp_path / "out")
    cache = SegmenterCache()

    def die_after_ten(index, done, total):
        if done == 10:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_job(job, "token-a", cache, report=die_after_ten)
    fresh = run_job(job, "token-b", cache)  # a new batch without --resume
    assert fresh.status == "done" and fresh.resumed_at is None and fresh.attempts == 1
    with pytest.raises(Interrupt):
        run_job(job, "token-c", cache, report=die_after_ten)
    resumed = run_job(job, "token-d", cache, resume=True)  # a new batch with --resume
    assert resumed.status == "done" and resumed.resumed_at is not None


def test_missing_input_fails_alone_and_leaves_nothing(tmp_path, clips):
    job = Job(
        1, 1, str(tmp_path / "nope.mp4"), str(clips.prompts(clips.videos[0])), str(tmp_path / "out")
    )
    result = run_job(job, "t", SegmenterCache())
    assert result.status == "failed" and result.frames == 0
    assert result.error == f"{tmp_path / 'nope.mp4'}: no such file or folder; check the path"
    assert not (tmp_path / "out").exists()
