"""The fixed DAVIS development split: its shape, and clear errors for a malformed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from segany_video.errors import ConfigError
from segany_video.evaluation.davis_data import list_sequences
from segany_video.evaluation.davis_split import load_split, split_file

REPO_SPLIT = Path(__file__).resolve().parents[2] / "configs" / "davis2016_split.yaml"


def test_shipped_split_is_the_repository_file() -> None:
    assert split_file().read_text() == REPO_SPLIT.read_text()


def test_shipped_split_is_fifteen_and_nine_disjoint() -> None:
    tuning, confirmation = load_split("tuning"), load_split("confirmation")
    assert len(tuning) == 15 and len(confirmation) == 9
    assert not set(tuning) & set(confirmation)
    # The 11 sequences the engine was developed on before issue 16 are all in tuning.
    assert {"boat", "car-turn", "hockey", "surf", "tennis"} <= set(tuning)
    assert "bmx-bumps" in confirmation and "swing" in confirmation


@pytest.mark.real_data
def test_split_covers_the_development_data(davis_root: Path) -> None:
    names = set(list_sequences(davis_root))
    assert set(load_split("tuning")) | set(load_split("confirmation")) == names


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tuning: [a]\n", "'confirmation' must be a non-empty list"),
        ("tuning: [a, b]\nconfirmation: [b]\n", "in both splits: b"),
        ("tuning: a\nconfirmation: [b]\n", "'tuning' must be a non-empty list"),
        ("- a\n", "expected the keys"),
        ("tuning: [a\n", "cannot read the DAVIS split file"),
    ],
)
def test_malformed_split_file(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "split.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_split("tuning", path)


def test_unknown_split_name() -> None:
    with pytest.raises(ConfigError, match="must be one of"):
        load_split("test")
