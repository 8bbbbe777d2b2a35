"""The fixed DAVIS 2016 development split (issue 16): a tuning and a confirmation split.

The split lives in ``configs/davis2016_split.yaml`` (shipped as ``segany_video.configs``); it was
fixed once, before any tuning, and is never changed. Tune on ``tuning``; look at ``confirmation``
only to confirm a change.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from segany_video.errors import ConfigError

SPLITS = ("tuning", "confirmation")
SPLIT_FILE = "davis2016_split.yaml"


def split_file() -> Path:
    """Path of the shipped split file."""
    return Path(str(resources.files("segany_video.configs") / SPLIT_FILE))


def load_split(name: str, path: str | Path | None = None) -> list[str]:
    """Sequence names of one split, in the file's order.

    Args:
        name: "tuning" or "confirmation".
        path: a split file of the same form; None for the shipped one.

    Raises:
        ConfigError: unknown split name, unreadable file, or a malformed split (not a list of
            names, or a name in both splits).
    """
    if name not in SPLITS:
        raise ConfigError(f"DAVIS split must be one of {SPLITS}, got {name!r}")
    source = Path(path) if path is not None else split_file()
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the DAVIS split file {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected the keys {SPLITS}, each a list of sequence names")
    splits: dict[str, list[str]] = {}
    for key in SPLITS:
        names = data.get(key)
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{source}: {key!r} must be a non-empty list of sequence names")
        splits[key] = names
    both = sorted(set(splits["tuning"]) & set(splits["confirmation"]))
    if both:
        raise ConfigError(f"{source}: sequences in both splits: {', '.join(both)}")
    return list(splits[name])
