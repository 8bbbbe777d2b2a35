"""Run configuration: layering order, presets, unknown keys, round trips, bad YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from segany_video.config import (
    SECTIONS,
    Config,
    load_config,
    merge_layers,
    preset_names,
    read_preset,
)
from segany_video.errors import ConfigError
from segany_video.readers.reader import ReaderSettings
from segany_video.runtime.settings import RuntimeSettings
from segany_video.tracking.settings import TrackerSettings
from segany_video.writers.outputs import WriterSettings

REPO = Path(__file__).resolve().parents[1]


def write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_defaults_are_each_stages_own_defaults():
    config = load_config()
    assert config == Config()
    assert config.model is None
    assert config.reader == ReaderSettings()
    assert config.runtime == RuntimeSettings()
    assert config.tracker == TrackerSettings()
    assert config.writers == WriterSettings()
    assert config.writers.formats == ("masks", "overlay", "json")


def test_preset_names_are_the_three_documented_ones():
    assert preset_names() == ["drone", "sports", "surveillance"]
    # The packaged presets are the files in the repository's configs/presets.
    on_disk = sorted(p.stem for p in (REPO / "configs" / "presets").glob("*.yaml"))
    assert on_disk == preset_names()


@pytest.mark.parametrize("name", ["sports", "surveillance", "drone"])
def test_each_preset_loads_and_changes_only_what_its_file_says(name: str):
    raw = yaml.safe_load((REPO / "configs" / "presets" / f"{name}.yaml").read_text())
    assert read_preset(name) == raw
    config = load_config(preset=name)
    defaults = Config()
    for section in SECTIONS:
        settings, default = getattr(config, section), getattr(defaults, section)
        for key, value in (raw.get(section) or {}).items():
            assert getattr(settings, key) == value, (section, key)
        untouched = {f for f in vars(default) if f not in (raw.get(section) or {})}
        for key in untouched:
            assert getattr(settings, key) == getattr(default, key), (section, key)


@pytest.mark.parametrize(
    ("name", "section", "key", "value"),
    [
        ("sports", "tracker", "positive_points", 5),
        ("surveillance", "tracker", "max_lost_frames", None),
        ("surveillance", "writers", "mask_codec", "ffv1"),
        ("drone", "tracker", "flow_scale", 0.75),
    ],
)
def test_presets_hold_their_documented_choices(name, section, key, value):
    assert getattr(getattr(load_config(preset=name), section), key) == value


def test_layers_apply_defaults_then_preset_then_file_then_overrides(tmp_path: Path):
    # sports sets positive_points 5 and box_padding 0.2 and flow_scale 0.5
    config_file = write_yaml(
        tmp_path / "run.yaml",
        {"model": "mobile_sam", "tracker": {"positive_points": 4, "gate": 2.0}},
    )
    overrides = {"tracker": {"gate": 3.0}, "writers": {"formats": ["json"]}}
    config = load_config(config_file, "sports", overrides)
    assert config.tracker.positive_points == 4  # file beats preset
    assert config.tracker.gate == 3.0  # overrides beat file
    assert config.tracker.box_padding == 0.2  # preset beats defaults, untouched by later layers
    assert config.tracker.negative_points == TrackerSettings().negative_points  # defaults
    assert config.writers.formats == ("json",)
    assert config.model == "mobile_sam"
    assert load_config(config_file, "sports", {"model": "classic"}).model == "classic"


def test_sections_merge_key_by_key_not_wholesale():
    merged = merge_layers({"tracker": {"gate": 2.0, "min_iou": 0.3}}, {"tracker": {"gate": 1.0}})
    assert merged == {"tracker": {"gate": 1.0, "min_iou": 0.3}}


def test_empty_config_file_means_defaults(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing set\n", encoding="utf-8")
    assert load_config(empty) == Config()


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"trackr": {"gate": 1.0}}, "trackr"),
        ({"tracker": {"gaet": 1.0}}, "gaet"),
        ({"writers": {"formats": ["masks", "gif"]}}, "gif"),
        ({"runtime": {"batch_size": 0}}, "batch_size"),
        ({"reader": "pyav"}, "reader"),
        ({"model": 3}, "model"),
    ],
)
def test_bad_file_content_is_an_error_naming_the_file(tmp_path: Path, data, needle):
    path = write_yaml(tmp_path / "mine.yaml", data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "mine.yaml" in message
    assert needle in message


def test_bad_override_names_the_command_line():
    with pytest.raises(ConfigError, match=r"command-line options.*colour"):
        load_config(overrides={"tracker": {"colour": 1}})


def test_a_bad_later_layer_is_blamed_not_the_preset(tmp_path: Path):
    path = write_yaml(tmp_path / "late.yaml", {"tracker": {"nope": 1}})
    with pytest.raises(ConfigError) as caught:
        load_config(path, "drone")
    assert str(caught.value).startswith(f"config file {path}: ")


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"drone.*sports.*surveillance"):
        load_config(preset="stadium")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("tracker: {gate: [1.0\n", "not valid YAML"),
        ("tracker:\n  gate: 1\n gate: 2\n", "not valid YAML"),
        ("- tracker\n- writers\n", "mapping"),
        ("just words\n", "mapping"),
    ],
)
def test_invalid_yaml_is_a_config_error_naming_the_file(tmp_path: Path, text, needle):
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "broken.yaml" in str(caught.value)
    assert needle in str(caught.value)


def test_missing_config_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"absent\.yaml"):
        load_config(tmp_path / "absent.yaml")


@pytest.mark.parametrize("preset", [None, "sports", "surveillance", "drone"])
def test_to_dict_from_dict_round_trip_through_json_and_yaml(tmp_path: Path, preset):
    config = load_config(preset=preset, overrides={"model": "sam_vit_b"})
    data = config.to_dict()
    assert set(data) == {"model", *SECTIONS}
    assert Config.from_dict(json.loads(json.dumps(data))) == config
    # The dict form is also a valid config file.
    assert load_config(write_yaml(tmp_path / "dump.yaml", data)) == config


@pytest.mark.parametrize("fps", ["30000/1001", 29.97, 25])
def test_fractional_image_rates_round_trip(fps):
    config = load_config(overrides={"reader": {"image_fps": fps}})
    assert Config.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_config_is_frozen():
    config = Config()
    with pytest.raises(AttributeError):
        config.model = "sam_vit_h"  # type: ignore[misc]
