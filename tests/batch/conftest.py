"""Clips shared by the batch tests: generated once per session, tracked one by one once."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_clips import ClipSet, track_one_by_one, write_clips


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> ClipSet:
    """Four 24-frame clips and a broken one."""
    return write_clips(tmp_path_factory.mktemp("batch_clips"), count=4, num_frames=24)


@pytest.fixture(scope="session")
def one_by_one(clips, tmp_path_factory) -> dict[str, Path]:
    """The same clips through ``segany-video track`` one after another (the reference)."""
    return track_one_by_one(clips, tmp_path_factory.mktemp("one_by_one"))
