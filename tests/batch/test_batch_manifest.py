"""The manifest: YAML, JSON and CSV forms, defaults, globs, patterns, and errors naming the job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segany_video.batch import load_manifest
from segany_video.batch.command import main as batch_main
from segany_video.errors import ConfigError
from segany_video.writers.outputs import FORMATS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Three empty 'videos' under clips/ and a prompts file per clip."""
    for name in ("a", "b", "c"):
        (tmp_path / "clips" / f"{name}.mp4").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "clips" / f"{name}.mp4").write_bytes(b"")
        (tmp_path / "prompts").mkdir(exist_ok=True)
        (tmp_path / "prompts" / f"{name}.json").write_text("{}")
    return tmp_path


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


YAML = """\
preset: drone
formats: [overlay, json]
out: out/{stem}
prompts: prompts/{stem}.json
jobs:
  - input: clips/*.mp4
  - input: /data/night.mp4
    prompts: /data/night.json
    out: /results/night
    model: sam_vit_b
    device: cpu
    preset: surveillance
    formats: masks,mot
    start: 120
    end: "00:01:02.5"
    snapshot_every: 10
"""


def test_yaml_defaults_globs_and_overrides(folder):
    manifest = load_manifest(write(folder, "m.yaml", YAML))
    assert [job.index for job in manifest.jobs] == [1, 2, 3, 4]
    assert [job.entry for job in manifest.jobs] == [1, 1, 1, 2]
    first = manifest.jobs[0]
    # Relative paths are relative to the manifest; the glob expands sorted, one job per match.
    assert first.input == str(folder / "clips" / "a.mp4")
    assert first.prompts == str(folder / "prompts" / "a.json")
    assert [job.out for job in manifest.jobs[:3]] == [str(folder / "out" / s) for s in "abc"]
    assert (first.preset, first.formats, first.model, first.start) == (
        "drone",
        ("overlay", "json"),
        None,
        None,
    )
    night = manifest.jobs[3]
    assert night.input == "/data/night.mp4" and night.out == "/results/night"
    assert (night.model, night.device, night.preset) == ("sam_vit_b", "cpu", "surveillance")
    assert night.formats == ("masks", "mot")
    assert night.start == 120 and isinstance(night.start, int)
    assert night.end == pytest.approx(62.5) and isinstance(night.end, float)
    assert night.snapshot_every == 10
    config = first.run_config()
    assert config.writers.formats == ("overlay", "json")
    assert config.tracker == first.run_config().tracker
    assert night.run_config().runtime.device == "cpu"


def test_json_and_csv_give_the_same_jobs_as_yaml(folder):
    yaml_jobs = load_manifest(
        write(
            folder,
            "m.yaml",
            "jobs:\n  - {input: clips/b.mp4, prompts: prompts/b.json, "
            "out: out/b, formats: [masks, json], start: 3}\n",
        )
    ).jobs
    data = {
        "jobs": [
            {
                "input": "clips/b.mp4",
                "prompts": "prompts/b.json",
                "out": "out/b",
                "formats": ["masks", "json"],
                "start": 3,
            }
        ]
    }
    json_jobs = load_manifest(write(folder, "m.json", json.dumps(data))).jobs
    csv_jobs = load_manifest(
        write(
            folder,
            "m.csv",
            "input,prompts,out,formats,start\nclips/b.mp4,prompts/b.json,out/b,masks;json,3\n",
        )
    ).jobs
    assert yaml_jobs == json_jobs == csv_jobs
    assert yaml_jobs[0].formats == ("masks", "json") and yaml_jobs[0].start == 3


def test_formats_all_and_time_positions(folder):
    manifest = load_manifest(
        write(
            folder,
            "m.yaml",
            "jobs:\n  - {input: clips/a.mp4, prompts: prompts/a.json, "
            "out: o, formats: all, start: 2.5s, end: '01:00:00'}\n",
        )
    )
    job = manifest.jobs[0]
    assert job.formats == FORMATS
    assert job.start == 2.5 and job.end == 3600.0


JOB = "{input: clips/a.mp4, prompts: prompts/a.json, out: o1}"
B = "input: clips/b.mp4, prompts: p.json, out: o2"
BAD = [
    # (manifest text, words the one-line message must contain)
    (
        f"jobs:\n  - {JOB}\n  - {{{B}, fromats: [masks]}}\n",
        ["job 2 (clips/b.mp4)", "'fromats'", "unknown key"],
    ),
    (
        f"jobs:\n  - {JOB}\n  - {{input: clips/b.mp4, out: o2}}\n",
        ["job 2 (clips/b.mp4)", "'prompts'"],
    ),
    (
        f"jobs:\n  - {JOB}\n  - {{{B}, formats: [mask]}}\n",
        ["job 2 (clips/b.mp4)", "'formats'", "'mask'"],
    ),
    (
        "jobs:\n  - {input: clips/a.mp4, prompts: p.json, out: o, start: soon}\n",
        ["job 1 (clips/a.mp4)", "'start'", "'soon'"],
    ),
    (
        "jobs:\n  - {input: clips/*.mp4, prompts: p.json, out: o}\n",
        ["job 1 (clips/*.mp4)", "'out'", "placeholder"],
    ),
    (
        "jobs:\n  - {input: nothing/*.mp4, prompts: p.json, out: 'o/{stem}'}\n",
        ["job 1 (nothing/*.mp4)", "'input'", "matches no file"],
    ),
    (
        f"jobs:\n  - {JOB}\n  - {{input: clips/b.mp4, prompts: p.json, out: o1}}\n",
        ["job 2 (", "b.mp4)", "'out'", "job 1 ("],
    ),
    (
        f"jobs:\n  - {JOB}\n  - {{{B}, preset: dron}}\n",
        ["job 2 (", "'preset'", "'dron'"],
    ),
    (
        f"jobs:\n  - {JOB}\n  - {{{B}, config: no.yaml}}\n",
        ["job 2 (", "'config'", "no.yaml"],
    ),
    (f"job:\n  - {JOB}\n", ["'jobs:'"]),
    (f"workers: 3\njobs:\n  - {JOB}\n", ["unknown top-level key 'workers'"]),
    ("jobs: []\n", ["non-empty list"]),
    ("jobs:\n  - clips/a.mp4\n", ["job 1 must be a mapping"]),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_manifest_errors_name_the_job_and_key(folder, text, words):
    with pytest.raises(ConfigError) as info:
        load_manifest(write(folder, "m.yaml", text))
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def test_csv_errors_name_the_column(folder):
    with pytest.raises(ConfigError, match="unknown CSV column 'outt'"):
        load_manifest(write(folder, "m.csv", "input,prompts,outt\nclips/a.mp4,p.json,o\n"))


def test_command_exits_2_with_one_line_naming_the_job(folder, capsys):
    path = write(folder, "m.yaml", BAD[0][0])
    assert batch_main([str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "job 2 (clips/b.mp4)" in err[0] and "'fromats'" in err[0]


@pytest.mark.parametrize("name", ["drone.yaml", "surveillance.yaml", "clips.csv"])
def test_shipped_sample_manifests_parse(name):
    manifest = load_manifest(REPO / "samples" / "batch" / name)
    assert manifest.jobs
    for job in manifest.jobs:
        assert job.input and job.prompts and job.out
        job.run_config()
