"""TrackerSettings: defaults, from_dict, and validation messages."""

from __future__ import annotations

import pytest

from segany_video.errors import ConfigError
from segany_video.tracking.settings import TrackerSettings


def test_from_dict_round_trip():
    settings = TrackerSettings.from_dict({"flow_preset": "fast", "positive_points": 5})
    assert settings.flow_preset == "fast" and settings.positive_points == 5
    assert TrackerSettings.from_dict(settings.to_dict()) == settings
    assert TrackerSettings.from_dict({}) == TrackerSettings()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"flow_sacle": 0.5}, ["unknown tracker setting", "flow_sacle", "flow_scale"]),
        ({"flow_scale": 0.0}, ["flow_scale", "[0.05, 1.0]", "0.0"]),
        ({"flow_preset": "slow"}, ["flow_preset", "'slow'"]),
        ({"gate": -1}, ["gate"]),
        ({"positive_points": "3"}, ["positive_points", "'3'"]),
        ({"colour_prior": 1}, ["colour_prior", "true or false"]),
        ({"appearance_gate": 1.5}, ["appearance_gate"]),
        ({"max_lost_frames": -2}, ["max_lost_frames"]),
        ({"flow_min_side": -1}, ["flow_min_side", "-1"]),
        ({"max_gap": "0.1"}, ["max_gap", "'0.1'"]),
        ({"prior_blur_motion": -1.0}, ["prior_blur_motion", "-1.0"]),
    ],
)
def test_invalid_settings(data, words):
    with pytest.raises(ConfigError) as info:
        TrackerSettings.from_dict(data)
    for word in words:
        assert word in str(info.value)
