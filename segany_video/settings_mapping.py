"""Reading one stage's settings from a plain mapping (a config file's section).

Every stage keeps its settings in a frozen dataclass that validates its own values' ranges;
what they share is the step before that, done here the same way for all of them: the section
must be a mapping, every key must be a field (misspelt keys are the commonest config mistake, so
the message lists the keys that exist), and every value must have its field's type (YAML's
``true`` is not a number, ``"5"`` is not an int, ``0.5`` is not an int).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from segany_video.errors import ConfigError


def checked_fields(settings_class: type, data: object, stage: str) -> dict[str, Any]:
    """``data`` as keyword arguments for ``settings_class``, after checking keys and types.

    Args:
        settings_class: the stage's settings dataclass.
        data: the section as read from YAML/JSON or given in Python.
        stage: the stage's name for messages ("reader", "tracker", ...).

    Returns:
        A new dict of the section's items (the caller may convert values before building).

    Raises:
        ConfigError: ``data`` is not a mapping, has keys that are not fields, or a value whose
            type does not fit its field (e.g. a string for a number).
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{stage} settings must be a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(settings_class)}
    unknown = sorted(set(data) - known, key=str)
    if unknown:
        raise ConfigError(f"unknown {stage} setting(s) {unknown}; expected some of {sorted(known)}")
    hints = _field_types(settings_class)
    for key, value in data.items():
        expected = hints.get(key)
        if expected is not None and not _fits(value, expected):
            raise ConfigError(f"{stage} {key}: expected {_describe(expected)}, got {value!r}")
    return dict(data)


@functools.cache
def _field_types(settings_class: type) -> dict[str, Any]:
    return typing.get_type_hints(settings_class)


def _fits(value: object, expected: Any) -> bool:
    """Whether plain data ``value`` (from YAML, JSON or Python) may fill a field of this type.

    Types this does not know (none so far) are left to the settings class to check.
    """
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, member) for member in typing.get_args(expected))
    if origin is tuple:
        member = typing.get_args(expected)[0]
        if isinstance(value, str) and member is str:
            return True  # "a,b" lists from the command line; the class splits them
        return isinstance(value, (list, tuple)) and all(_fits(v, member) for v in value)
    if expected is type(None):
        return value is None
    if expected is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # bool is an int subclass, but `true` is never a number
    if expected is int:
        return isinstance(value, int)
    if expected is float:
        return isinstance(value, (int, float))
    if expected is Fraction:
        return isinstance(value, (int, float, str, Fraction))
    if expected is str:
        return isinstance(value, str)
    return True


def _describe(expected: Any) -> str:
    origin = typing.get_origin(expected)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(member) for member in typing.get_args(expected))
    if origin is tuple:
        member = typing.get_args(expected)[0]
        plural = {int: "integers", float: "numbers", str: "names", bool: "true or false values"}
        return f"a list of {plural.get(member, _describe(member))}"
    names = {
        type(None): "null",
        bool: "true or false",
        int: "an integer",
        float: "a number",
        Fraction: "a number or a ratio like '30000/1001'",
        str: "a string",
    }
    return names.get(expected, getattr(expected, "__name__", str(expected)))


# Value checks for the settings classes' ``__post_init__``, so every stage words its range errors
# the same way: "<stage> <key>: expected <what>, got <value>".


def check_range(
    stage: str, name: str, value: object, low: float, high: float | None = None
) -> None:
    """Raise :class:`ConfigError` unless ``value`` is a number in ``[low, high]``.

    Args:
        stage, name: the section and key, for the message.
        value: the value to check (``bool`` is not a number here).
        low, high: inclusive bounds; ``high=None`` means no upper bound.
    """
    where = f"in [{low}, {high}]" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{stage} {name}: expected a number {where}, got {value!r}")
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{stage} {name}: expected a value {where}, got {value!r}")


def check_int(stage: str, name: str, value: object, low: int, *, optional: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an integer ``>= low`` (None if optional)."""
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        or_null = " or null" if optional else ""
        raise ConfigError(f"{stage} {name}: expected an integer >= {low}{or_null}, got {value!r}")


def check_choice(stage: str, name: str, value: object, choices: Sequence[str]) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{stage} {name}: expected one of {list(choices)}, got {value!r}")


def check_bool(stage: str, name: str, value: object) -> None:
    """Raise :class:`ConfigError` unless ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise ConfigError(f"{stage} {name}: expected true or false, got {value!r}")
