"""A generated clip and its oracle engine, shared by the tracker-logic tests."""

from __future__ import annotations

import pytest
from oracle_engine import OracleEngine

from segany_video.synthetic.clips import make_clip


@pytest.fixture(scope="module")
def clip():
    return make_clip(3, num_frames=70, size=(192, 128))


@pytest.fixture(scope="module")
def oracle(clip):
    return OracleEngine.for_clip(clip)
