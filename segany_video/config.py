"""The run configuration: one frozen settings object per stage, layered from YAML.

Layers, later ones winning key by key inside each section: built-in defaults, a preset
(``configs/presets/<name>.yaml``), a config file, then explicit overrides (CLI flags). Each
stage receives only its own section; unknown sections or keys are :class:`ConfigError`.

File format (every section and key optional)::

    model: classic            # registry name or checkpoint path
    reader:  {backend: auto, image_fps: 30}
    runtime: {device: auto, batch_size: 4}
    tracker: {positive_points: 3, gate: 1.2}
    writers: {formats: [masks, overlay, json]}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from segany_video.errors import ConfigError
from segany_video.readers.reader import ReaderSettings
from segany_video.runtime.settings import RuntimeSettings
from segany_video.tracking.settings import TrackerSettings
from segany_video.writers.outputs import WriterSettings

SECTIONS = ("reader", "runtime", "tracker", "writers")
_SECTION_TYPES = {
    "reader": ReaderSettings,
    "runtime": RuntimeSettings,
    "tracker": TrackerSettings,
    "writers": WriterSettings,
}


@dataclass(frozen=True)
class Config:
    """Settings of a whole run.

    Attributes:
        model: engine to build: a registry name (``classic``, ``sam_vit_b``, ...) or a checkpoint
            path; None means the embedded classic engine.
        reader, runtime, tracker, writers: each stage's own settings.
    """

    model: str | None = None
    reader: ReaderSettings = field(default_factory=ReaderSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    writers: WriterSettings = field(default_factory=WriterSettings)

    def __post_init__(self) -> None:
        if self.model is not None and not isinstance(self.model, str):
            raise ConfigError(f"model must be a name or a path string, got {self.model!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Config:
        """Build from plain data (a parsed YAML file); missing sections keep their defaults."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - {"model", *SECTIONS}, key=str)
        if unknown:
            raise ConfigError(
                f"unknown config sections {unknown}; expected model, {', '.join(SECTIONS)}"
            )
        sections = {}
        for name in SECTIONS:
            raw = data.get(name) or {}
            if not isinstance(raw, Mapping):
                raise ConfigError(f"config section {name!r} must be a mapping, got {raw!r}")
            sections[name] = _SECTION_TYPES[name].from_dict(raw)
        # No str() here: a number or a list is a mistake to report, not a name to guess.
        return cls(model=data.get("model"), **sections)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data that :meth:`from_dict` reads back to an equal config."""
        out: dict[str, Any] = {"model": self.model}
        for name in SECTIONS:
            out[name] = {
                f.name: _plain(getattr(getattr(self, name), f.name))
                for f in dataclasses.fields(getattr(self, name))
            }
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Fraction):
        return str(value) if value.denominator != 1 else value.numerator
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def preset_names() -> list[str]:
    """Names of the bundled presets (``sports``, ``surveillance``, ``drone``)."""
    folder = resources.files("segany_video.configs") / "presets"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_preset(name: str) -> dict[str, Any]:
    """The raw data of a bundled preset.

    Raises:
        ConfigError: an unknown preset name (the message lists the known ones).
    """
    if name not in preset_names():
        raise ConfigError(f"unknown preset {name!r}; choose one of {preset_names()}")
    text = (resources.files("segany_video.configs") / "presets" / f"{name}.yaml").read_text()
    return _parse_yaml(text, f"preset {name!r}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw data of a YAML config file, with errors naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    return _parse_yaml(text, f"config file {path}")


def _parse_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must hold a mapping of sections, got {type(data).__name__}")
    return dict(data)


def merge_layers(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Merge raw config layers: sections merge key by key, later layers win."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key in SECTIONS and isinstance(value, Mapping):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def load_config(
    path: str | Path | None = None,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build a :class:`Config` from defaults, a preset, a file and overrides, in that order.

    Args:
        path: a YAML config file, or None.
        preset: a bundled preset name, or None.
        overrides: raw data in the file format (e.g. from CLI flags), applied last.

    Raises:
        ConfigError: unreadable file, unknown preset, unknown keys or invalid values; the
            message names the layer at fault.
    """
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if preset is not None:
        layers.append((f"preset {preset!r}", read_preset(preset)))
    if path is not None:
        layers.append((f"config file {path}", read_config_file(path)))
    if overrides:
        layers.append(("command-line options", overrides))
    for where, layer in layers:
        try:
            Config.from_dict(layer)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return Config.from_dict(merge_layers(*(layer for _, layer in layers)))
