"""The batch manifest: which videos to run, with which prompts, into which folders.

A YAML or JSON file with a top-level ``jobs:`` list; every other top-level key is a default
for the jobs (the same keys a job takes, except ``input``)::

    preset: drone                 # defaults for every job
    formats: [overlay, json, mot]
    out: out/{stem}               # {stem}, {name}, {parent}, {index} are filled in per job
    jobs:
      - input: flights/day1/*.mp4 # a glob expands to one job per match (sorted)
        prompts: prompts/{stem}.json
      - input: flights/night.mp4
        prompts: prompts/night.json
        model: sam_vit_b
        start: 120                # a frame index, or a time such as 4.5s or 00:01:02.5
        end: 00:02:00

A CSV file is the simple case: a header row naming the same keys (``input``, ``prompts``,
``out`` and any others), one job per row, empty cells for the defaults; ``formats`` cells hold
a ``;`` or ``,`` separated list. Relative paths are relative to the manifest's folder. Mistakes
raise :class:`ConfigError` naming the manifest, the job (its 1-based index and input) and the key.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from segany_video.config import Config, load_config
from segany_video.errors import ConfigError
from segany_video.writers.outputs import FORMATS

JOB_KEYS = (
    "input",
    "prompts",
    "out",
    "model",
    "device",
    "preset",
    "config",
    "formats",
    "start",
    "end",
    "snapshot_every",
)
DEFAULT_KEYS = tuple(k for k in JOB_KEYS if k != "input")
PLACEHOLDERS = ("stem", "name", "parent", "index")
_GLOB_CHARS = re.compile(r"[*?\[]")
_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)s?$")
_MODEL_FILE = (".pth", ".pt", ".safetensors")


@dataclass(frozen=True)
class Job:
    """One video to run: everything a worker needs, with paths made absolute.

    Attributes:
        index: 1-based position in the expanded job list (a glob entry gives several).
        entry: 1-based position of the manifest entry it came from.
        input: absolute path of a video file or image folder, or a URL.
        prompts: absolute path of the prompts file.
        out: absolute path of the output folder.
        model, device, preset, config: as the CLI's ``--model``, ``--device``, ``--preset``,
            ``--config`` (None: the default).
        formats: output formats, None for the config's.
        start, end: frame index (int) or seconds (float), None for the video's start / end.
        snapshot_every: frames between resume snapshots.
    """

    index: int
    entry: int
    input: str
    prompts: str
    out: str
    model: str | None = None
    device: str | None = None
    preset: str | None = None
    config: str | None = None
    formats: tuple[str, ...] | None = None
    start: int | float | None = None
    end: int | float | None = None
    snapshot_every: int = 25

    @property
    def label(self) -> str:
        """How messages name the job: ``job 3 (clips/b.mp4)``."""
        return f"job {self.index} ({self.input})"

    def run_config(self) -> Config:
        """The job's config, layered like ``track``: defaults < preset < config file < keys."""
        overrides: dict[str, Any] = {}
        if self.model is not None:
            overrides["model"] = self.model
        if self.device is not None:
            overrides["runtime"] = {"device": self.device}
        if self.formats is not None:
            overrides["writers"] = {"formats": list(self.formats)}
        return load_config(self.config, self.preset, overrides)


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest: its file and the expanded jobs in order."""

    path: Path
    jobs: tuple[Job, ...] = field(default_factory=tuple)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read, validate and expand a manifest file (``.yaml``/``.yml``, ``.json`` or ``.csv``).

    Raises:
        ConfigError: unreadable file, unknown or missing keys, bad values, a glob matching
            nothing, or two jobs writing the same folder; the message names the job and key.
    """
    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".csv":
        defaults, entries = {}, _csv_entries(text, path)
    else:
        defaults, entries = _document_entries(text, path)
    return expand(entries, defaults, path)


def _document_entries(text: str, path: Path) -> tuple[dict[str, Any], list[Any]]:
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"manifest {path} cannot be parsed: {exc}") from None
    if not isinstance(data, Mapping) or "jobs" not in data:
        raise ConfigError(f"manifest {path}: expected a mapping with a 'jobs:' list at the top")
    unknown = sorted(set(data) - {"jobs", *DEFAULT_KEYS}, key=str)
    if unknown:
        raise ConfigError(
            f"manifest {path}: unknown top-level key {unknown[0]!r}; expected jobs or a "
            f"default for {', '.join(DEFAULT_KEYS)}"
        )
    jobs = data["jobs"]
    if not isinstance(jobs, list) or not jobs:
        raise ConfigError(f"manifest {path}: 'jobs' must be a non-empty list of jobs")
    return {k: v for k, v in data.items() if k != "jobs"}, jobs


def _csv_entries(text: str, path: Path) -> list[dict[str, Any]]:
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ConfigError(f"manifest {path}: empty CSV; expected a header row input,prompts,out")
    header = [h.strip() for h in rows[0]]
    for column in header:
        if column not in JOB_KEYS:
            raise ConfigError(
                f"manifest {path}: unknown CSV column {column!r}; expected {', '.join(JOB_KEYS)}"
            )
    entries = []
    for number, row in enumerate(rows[1:], start=1):
        if len(row) > len(header):
            raise ConfigError(f"manifest {path}: job {number}: more cells than header columns")
        entry = {k: v.strip() for k, v in zip(header, row, strict=False) if v.strip()}
        if "formats" in entry:
            entry["formats"] = [f for f in re.split(r"[;,]", entry["formats"]) if f.strip()]
        for key in ("start", "end", "snapshot_every"):
            if key in entry and re.fullmatch(r"\d+", entry[key]):
                entry[key] = int(entry[key])
        entries.append(entry)
    if not entries:
        raise ConfigError(f"manifest {path}: no jobs below the CSV header")
    return entries


def expand(entries: list[Any], defaults: Mapping[str, Any], path: Path) -> Manifest:
    """Validate raw entries against the defaults and expand globs into :class:`Job` s."""
    base = path.parent
    jobs: list[Job] = []
    checked: set[tuple[Any, ...]] = set()
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"manifest {path}: job {number} must be a mapping, got {entry!r}")
        where = f"manifest {path}: job {number} ({entry.get('input', 'no input')})"
        unknown = sorted(set(entry) - set(JOB_KEYS), key=str)
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r}; expected {', '.join(JOB_KEYS)}"
            )
        merged = {**defaults, **entry}
        for key in ("input", "prompts", "out"):
            if not isinstance(merged.get(key), str) or not merged[key].strip():
                raise ConfigError(f"{where}: key {key!r} is missing (a path string is needed)")
        values = {key: _value(key, merged.get(key), where, base) for key in DEFAULT_KEYS}
        inputs = _inputs(merged["input"], base, where)
        if len(inputs) > 1 and not any(f"{{{p}}}" in merged["out"] for p in PLACEHOLDERS):
            raise ConfigError(
                f"{where}: key 'out': the input matches {len(inputs)} videos, so 'out' needs a "
                "placeholder such as out/{stem} to give each its own folder"
            )
        for source in inputs:
            index = len(jobs) + 1
            fill = _placeholders(source, index)
            try:
                out = str(_path(values["out"].format(**fill), base))
                prompts = str(_path(values["prompts"].format(**fill), base))
            except (KeyError, IndexError, ValueError) as exc:
                raise ConfigError(
                    f"{where}: a placeholder in 'out' or 'prompts' is not one of "
                    f"{{{'}, {'.join(PLACEHOLDERS)}}}: {exc}"
                ) from None
            options = {k: v for k, v in values.items() if k not in ("prompts", "out")}
            job = Job(index, number, source, prompts, out, **_given(options))
            _check_config(job, checked, path)
            jobs.append(job)
    _check_distinct_outputs(jobs, path)
    return Manifest(path=path, jobs=tuple(jobs))


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _check_config(job: Job, checked: set[tuple[Any, ...]], path: Path) -> None:
    """Build the job's config once per distinct combination, so preset or config mistakes
    surface before any video runs, naming the first job that has them and the key at fault."""
    combination = (job.model, job.device, job.preset, job.config, job.formats)
    if combination in checked:
        return
    layers = (
        ("preset", lambda: load_config(preset=job.preset)),
        ("config", lambda: load_config(job.config)),
        ("model' or 'device", job.run_config),
    )
    for key, build in layers:
        try:
            build()
        except ConfigError as exc:
            raise ConfigError(f"manifest {path}: {job.label}: key '{key}': {exc}") from None
    checked.add(combination)


def _value(key: str, value: Any, where: str, base: Path) -> Any:
    """Check one key's value; paths stay unresolved here (patterns are filled in later)."""
    if value is None:
        return None
    if key in ("prompts", "out"):
        return value
    if key in ("preset", "device"):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key {key!r} must be a string, got {value!r}")
        return value
    if key == "model":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key 'model' must be a name or a path, got {value!r}")
        looks_like_file = "/" in value or value.endswith(_MODEL_FILE)
        return str(_path(value, base)) if looks_like_file else value
    if key == "config":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: key 'config' must be a file path, got {value!r}")
        return str(_path(value, base))
    if key == "formats":
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}: key 'formats' must be a list of names, got {value!r}")
        names = [n.strip() for n in names if n.strip()]
        if names == ["all"]:
            return FORMATS
        bad = [n for n in names if n not in FORMATS]
        if bad or not names:
            raise ConfigError(
                f"{where}: key 'formats': {bad[0] if bad else 'empty'!r} is not a format; "
                f"choose from {', '.join(FORMATS)} or all"
            )
        return tuple(names)
    if key in ("start", "end"):
        return _position(value, f"{where}: key {key!r}")
    if key == "snapshot_every":
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where}: key 'snapshot_every' must be a positive integer")
        return value
    raise AssertionError(key)


def _position(value: Any, where: str) -> int | float:
    """A frame index (int) or seconds (float) from ``12``, ``"12"``, ``"2.5s"``, ``"01:02.5"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a frame index or a time, got {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, float) and value >= 0:
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    match = _TIME.match(text)
    if not match:
        raise ConfigError(
            f"{where}: {value!r} is neither a frame index (e.g. 75) nor a time (e.g. 2.5s, 00:02.5)"
        )
    hours, minutes, seconds = match.groups()
    if hours is not None and minutes is None:
        hours, minutes = None, hours
    return float(int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds))


def _inputs(pattern: str, base: Path, where: str) -> list[str]:
    """The sources an ``input`` names: a URL, a file or folder, or every match of a glob."""
    if "://" in pattern or pattern.startswith("pipe:"):
        return [pattern]
    full = _path(pattern, base)
    if not _GLOB_CHARS.search(pattern):
        return [str(full)]  # a missing file fails in its own job, not the whole batch
    matches = sorted(glob.glob(str(full), recursive=True))
    if not matches:
        raise ConfigError(f"{where}: key 'input': the pattern {pattern!r} matches no file")
    return matches


def _placeholders(source: str, index: int) -> dict[str, Any]:
    if "://" in source:
        name = source.rstrip("/").rsplit("/", 1)[-1] or "stream"
        return {"stem": name.split(".")[0], "name": name, "parent": "", "index": index}
    p = Path(source)
    return {"stem": p.stem, "name": p.name, "parent": p.parent.name, "index": index}


def _path(text: str, base: Path) -> Path:
    p = Path(os.path.expanduser(text))
    return p if p.is_absolute() else (base / p).resolve()


def _check_distinct_outputs(jobs: list[Job], path: Path) -> None:
    seen: dict[str, Job] = {}
    for job in jobs:
        other = seen.get(job.out)
        if other is not None:
            raise ConfigError(
                f"manifest {path}: {job.label}: key 'out': folder {job.out} is also the output "
                f"of {other.label}; give each job its own folder (e.g. out/{{stem}})"
            )
        seen[job.out] = job
