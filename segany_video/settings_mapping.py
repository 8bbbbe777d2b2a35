"""Reading one stage's settings from a plain mapping (a config file's section).

Every stage keeps its settings in a frozen dataclass that validates its own values; what they
share is the step before that: the section must be a mapping and every key must be a field.
Misspelt keys are the commonest config mistake, so the message lists the keys that exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from segany_video.errors import ConfigError


def checked_fields(settings_class: type, data: object, stage: str) -> dict[str, Any]:
    """``data`` as keyword arguments for ``settings_class``, after checking its keys.

    Args:
        settings_class: the stage's settings dataclass.
        data: the section as read from YAML/JSON or given in Python.
        stage: the stage's name for messages ("reader", "tracker", ...).

    Returns:
        A new dict of the section's items (the caller may convert values before building).

    Raises:
        ConfigError: ``data`` is not a mapping, or has keys that are not fields.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{stage} settings must be a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown {stage} setting(s) {unknown}; expected some of {sorted(known)}")
    return dict(data)
