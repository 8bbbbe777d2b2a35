"""The shared key check every stage's ``from_dict`` runs before building its settings."""

from __future__ import annotations

import pytest

from segany_video.errors import ConfigError
from segany_video.models.classic.settings import ClassicSettings
from segany_video.readers.reader import ReaderSettings
from segany_video.runtime.settings import RuntimeSettings
from segany_video.settings_mapping import checked_fields
from segany_video.tracking.settings import TrackerSettings
from segany_video.writers.outputs import WriterSettings


def test_known_keys_come_back_as_a_new_dict():
    section = {"prefetch_batches": 1}
    values = checked_fields(ReaderSettings, section, "reader")
    assert values == section and values is not section


@pytest.mark.parametrize(
    ("settings_class", "stage", "known"),
    [
        (ReaderSettings, "reader", "prefetch_batches"),
        (WriterSettings, "writers", "formats"),
        (RuntimeSettings, "runtime", "batch_size"),
        (TrackerSettings, "tracker", "flow_scale"),
        (ClassicSettings, "classic engine", "box_iterations"),
    ],
)
def test_every_stage_names_itself_the_bad_key_and_the_good_ones(settings_class, stage, known):
    with pytest.raises(ConfigError) as caught:
        settings_class.from_dict({"no_such_key": 1})
    message = str(caught.value)
    assert f"unknown {stage} setting(s) ['no_such_key']" in message
    assert known in message
    with pytest.raises(ConfigError, match=f"{stage} settings must be a mapping, got list"):
        settings_class.from_dict([("no_such_key", 1)])
