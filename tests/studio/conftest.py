"""Fixtures of the studio tests: a root folder holding the bundled sample clip, a session on it
and an in-process client that carries the token."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from studio_support import SAMPLE, TOKEN


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "videos").mkdir(parents=True)
    shutil.copy(SAMPLE / "clip.mp4", folder / "videos" / "clip.mp4")
    return folder


@pytest.fixture(scope="session")
def segmenter():
    from segany_video.segmenter import VideoSegmenter

    return VideoSegmenter()


@pytest.fixture
def session(root: Path, segmenter):
    from segany_video.studio.files import RootFolder
    from segany_video.studio.session import StudioSession

    s = StudioSession(RootFolder(root), segmenter)
    yield s
    s.close()


@pytest.fixture
def client(session):
    from starlette.testclient import TestClient

    from segany_video.studio.app import create_app

    with TestClient(create_app(session, TOKEN), headers={"X-Studio-Token": TOKEN}) as c:
        yield c


@pytest.fixture
def opened(client):
    """The client with the sample clip open."""
    response = client.post("/api/open", json={"path": "videos/clip.mp4"})
    assert response.status_code == 200, response.text
    return client
