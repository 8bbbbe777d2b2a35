"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real footage, never part of the repo); skips when absent."""
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def davis_root(shared_data: Path) -> Path:
    root = shared_data / "davis2016-train"
    if not root.is_dir():
        pytest.skip(f"DAVIS data not found at {root}")
    return root
