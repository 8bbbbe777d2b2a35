"""Fixtures for the runtime tests."""

from __future__ import annotations

import threading

import pytest


@pytest.fixture
def runtime_threads():
    """Returns a function listing live runtime worker threads."""

    def live() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("segany-")]

    return live
