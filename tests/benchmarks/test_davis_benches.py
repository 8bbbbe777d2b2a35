"""The DAVIS benchmarks on a small generated DAVIS folder: composites and ``track`` timing.

Two sequences, each a coloured textured block drifting over its own textured background, are
written in DAVIS layout; the benchmarks' figures are checked against what is known of them
(planted swaps are counted, ``track``'s output scores as the evaluation does).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from segany_video.benchmarks import composites as composites_bench
from segany_video.benchmarks import davis_track, jitter, one_step
from segany_video.benchmarks import occluders as occluders_bench
from segany_video.config import Config
from segany_video.errors import ConfigError
from segany_video.evaluation.composites import Composite
from segany_video.evaluation.davis_data import open_sequence
from segany_video.evaluation.davis_eval import evaluate_davis
from segany_video.evaluation.occluders import Band, Pole
from segany_video.models.classic import build_classic
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.runtime.settings import RuntimeSettings
from segany_video.segmenter import VideoSegmenter
from segany_video.tracking.settings import TrackerSettings

H, W, FRAMES = 96, 128, 6
COLOURS = {"red": (40, 40, 210), "blue": (210, 90, 30)}  # BGR


def write_sequence(root: Path, name: str, rng: np.random.Generator) -> None:
    (root / name / "JPEGImages").mkdir(parents=True)
    (root / name / "Annotations").mkdir(parents=True)
    for i in range(FRAMES):
        image = np.clip(rng.normal((100, 130, 90), 10, (H, W, 3)), 0, 255).astype(np.uint8)
        mask = np.zeros((H, W), bool)
        mask[30:70, 20 + 3 * i : 56 + 3 * i] = True
        block = rng.normal(COLOURS[name], 10, (H, W, 3))
        image[mask] = np.clip(block[mask], 0, 255).astype(np.uint8)
        cv2.imwrite(str(root / name / "JPEGImages" / f"{i:05d}.jpg"), image)
        cv2.imwrite(str(root / name / "Annotations" / f"{i:05d}.png"), mask.astype(np.uint8) * 255)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("davis")
    rng = np.random.default_rng(11)
    for name in COLOURS:
        write_sequence(base, name, rng)
    (base / "split.yaml").write_text("tuning: [red, blue]\nconfirmation: [elsewhere]\n")
    return base


@pytest.fixture(scope="module")
def segmenter() -> VideoSegmenter:
    torch.set_num_threads(1)
    config = Config(runtime=RuntimeSettings(device="cpu", num_threads=1))
    return VideoSegmenter(build_classic("cpu"), config=config)


class SwappingSegmenter:
    """Stands in for a tracker that swaps the two ids from frame 2 on."""

    def __init__(self, composite: Composite) -> None:
        self.composite = composite

    def track(self, folder, prompts):
        for index in range(len(list(Path(folder).glob("*.png")))):
            frame = self.composite.frame(index)
            masks = {1: frame.background_truth, 2: frame.foreground_truth}
            if index >= 2:
                masks = {1: masks[2], 2: masks[1]}
            yield FrameResult(
                index,
                index / 30,
                {k: ObjectResult(k, m, None, 1.0, TrackState.TRACKED) for k, m in masks.items()},
            )


def test_planted_swaps_are_counted(root: Path) -> None:
    composite = Composite(open_sequence(root, "red"), open_sequence(root, "blue"))
    scores = composites_bench.track_composite(composite, SwappingSegmenter(composite))
    assert scores.swap_frames == tuple(range(2, FRAMES))
    # Frames 0-1 exact, 2-5 hold the other object (disjoint from its own): J per frame 1 then 0.
    for side in (scores.background, scores.foreground):
        assert side.j_per_frame == (1.0, 1.0, 0.0, 0.0, 0.0, 0.0)
        assert side.j_mean == pytest.approx(0.25)  # frames 1-4 scored


def test_composites_are_tracked_without_swaps(root: Path, segmenter: VideoSegmenter) -> None:
    composite = Composite(open_sequence(root, "blue"), open_sequence(root, "red"))
    scores = composites_bench.track_composite(composite, segmenter)
    assert scores.frames == FRAMES and scores.swap_frames == ()
    assert scores.background.jf_mean > 0.6 and scores.foreground.jf_mean > 0.6


def test_composites_command_writes_every_pair(root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "composites.json"
    argv = [str(root), "--split", "tuning", "--split-file", str(root / "split.yaml")]
    assert composites_bench.main([*argv, "--device", "cpu", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert set(data["composites"]) == {"red-over-blue", "blue-over-red"}
    assert "frames where an id holds the other object" in capsys.readouterr().out


@pytest.mark.slow
def test_track_output_scores_as_the_evaluation(
    root: Path, segmenter: VideoSegmenter, tmp_path: Path
) -> None:
    out = tmp_path / "track.json"
    argv = [str(root), "--sequences", "red", "--json", str(out), "--track-args=--device cpu"]
    assert davis_track.main(argv) == 0
    run = json.loads(out.read_text())["sequences"]["red"]
    assert run["frames"] == FRAMES and run["frames_per_s"] > 0 and run["cpu_s"] > 0
    report = evaluate_davis(root, segmenter, sequences=["red"])
    assert run["JF"] == pytest.approx(report.sequences[0].jf_mean, abs=1e-12)


def test_one_step_scores_each_stage_from_the_true_previous_mask(root: Path) -> None:
    sequence = open_sequence(root, "red")
    model = build_classic("cpu")
    stages = one_step.step_from_truth(model, sequence, 3, TrackerSettings())
    assert stages is not None and set(stages) == set(one_step.STAGES)
    # A textured block translating 3 px a frame: the flow alone carries the true mask almost
    # exactly, and the tracker's output covers the block well.
    assert stages["warp"] > 0.85
    assert stages["step"] > 0.7
    assert all(0.0 <= j <= 1.0 for j in stages.values())


def test_one_step_skips_steps_without_the_object(root: Path) -> None:
    sequence = open_sequence(root, "red")

    class Hidden:
        name = "hidden"

        def __len__(self) -> int:
            return len(sequence)

        def mask(self, index: int) -> np.ndarray:
            truth = sequence.mask(index)
            return np.zeros_like(truth) if index == 1 else truth

        def frame(self, index: int) -> np.ndarray:
            return sequence.frame(index)

    model = build_classic("cpu")
    assert one_step.step_from_truth(model, Hidden(), 2, TrackerSettings()) is None  # prev empty
    assert one_step.step_from_truth(model, Hidden(), 1, TrackerSettings()) is None  # now empty
    result = one_step.run(model, Hidden(), 1, TrackerSettings())
    assert result.steps == FRAMES - 1 - 2  # steps 1->2 and 0->1 skipped


def test_one_step_command_averages_over_steps(root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "steps.json"
    argv = [str(root), "--sequences", "red", "blue", "--every", "2", "--json", str(out)]
    assert one_step.main(argv) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"red", "blue"}
    for figures in data.values():
        assert figures["steps"] == len(range(1, FRAMES, 2))
    last = capsys.readouterr().out.strip().splitlines()[-1].split()
    assert last[:3] == ["all", "steps", str(2 * len(range(1, FRAMES, 2)))]
    for stage, printed in zip(one_step.STAGES, last[3:], strict=True):
        mean = np.mean([data[name][stage] for name in ("red", "blue")])  # equal step counts
        assert float(printed) == pytest.approx(mean, abs=1e-3)
    with pytest.raises(ConfigError):
        one_step.main([str(root), "--every", "0"])


def test_one_step_command_steps_over_the_stride(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "steps.json"
    argv = [str(root), "--sequences", "red", "--every", "1", "--stride", "2", "--json", str(out)]
    assert one_step.main(argv) == 0
    figures = json.loads(out.read_text())["red"]
    # Frames 0, 2, 4: two steps, each spanning two frames of motion.
    assert figures["steps"] == len(range(0, FRAMES, 2)) - 1
    strided = open_sequence(root, "red").every(2)
    model = build_classic("cpu")
    steps = [one_step.step_from_truth(model, strided, t, TrackerSettings()) for t in (1, 2)]
    assert all(step is not None for step in steps)  # the block is on every frame
    for stage in one_step.STAGES:
        mean = np.mean([step[stage] for step in steps])  # type: ignore[index]
        assert figures[stage] == pytest.approx(mean, abs=1e-9)
    # Six pixels a frame between strided frames: the flow still carries the block.
    assert figures["warp"] > 0.8
    with pytest.raises(SystemExit):
        one_step.main([str(root), "--stride", "0"])


def test_frames_after_crossing_follow_the_pole(root: Path) -> None:
    sequence = open_sequence(root, "red")
    # The block spans columns 20+3i .. 56+3i; a still pole at columns 50-53 touches it until
    # the block's left edge passes 53 (frame 11), beyond this clip: no frame after.
    still = Pole(x0=50, speed=0.0, width=4, colour=(0, 0, 0))
    assert occluders_bench.frames_after_crossing(sequence, still) == ()
    # A pole rushing left leaves the block after frame 1 (at frame 2 it stands at 10-13).
    rushing = Pole(x0=40, speed=-15.0, width=4, colour=(0, 0, 0))
    assert occluders_bench.frames_after_crossing(sequence, rushing) == tuple(range(2, FRAMES - 1))


def test_occluders_command_scores_both_versions(root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "occluders.json"
    argv = [str(root), "--sequences", "red", "--device", "cpu", "--json", str(out)]
    assert occluders_bench.main(argv) == 0
    data = json.loads(out.read_text())["red"]
    config = Config(runtime=RuntimeSettings(device="cpu"))
    clean = evaluate_davis(root, VideoSegmenter(config=config), sequences=["red"])
    assert data["clean_jf"] == pytest.approx(clean.sequences[0].jf_mean)
    assert 0.0 <= data["occluded_jf"] <= 1.0
    assert "red" in capsys.readouterr().out


def test_occluders_command_behind_reports_leaks(root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "band.json"
    argv = [str(root), "--sequences", "red", "--device", "cpu", "--behind", "--json", str(out)]
    assert occluders_bench.main(argv) == 0
    data = json.loads(out.read_text())["red"]
    config = Config(runtime=RuntimeSettings(device="cpu"))
    clean = evaluate_davis(root, VideoSegmenter(config=config), sequences=["red"])
    trace = clean.traces["red"]
    ratios = np.array(trace.areas) / np.maximum(np.array(trace.true_areas), 1)
    assert data["clean_over_2"] == pytest.approx(np.mean(ratios > 2))
    assert 0.0 <= data["occluded_over_2"] <= 1.0
    header = capsys.readouterr().out.splitlines()[-2]
    assert "band" in header and "pole" not in header


def test_nudged_configs_change_one_setting_each() -> None:
    config = Config(tracker=TrackerSettings(prior_blur=0.3, max_growth=0.1))
    runs = jitter.nudged_configs(config)
    assert runs[0] == ("configured", {}, config)
    assert len(runs) == 1 + len(jitter.NUDGES)
    for (name, factor), (_, changed, nudged) in zip(jitter.NUDGES, runs[1:], strict=True):
        expected = {"prior_blur": 0.3, "max_growth": 0.1}[name] * factor
        assert changed == {name: pytest.approx(expected)}
        assert getattr(nudged.tracker, name) == pytest.approx(expected)
        # Everything else is the configured run's.
        assert dataclasses.replace(nudged.tracker, **{name: getattr(config.tracker, name)}) == (
            config.tracker
        )
        assert nudged.runtime == config.runtime


def test_a_setting_at_the_edge_of_its_range_cannot_be_nudged() -> None:
    config = Config(tracker=TrackerSettings(prior_blur=2.0))  # the largest blur allowed
    with pytest.raises(ConfigError, match="bench jitter: the configured prior_blur"):
        jitter.nudged_configs(config)


def test_jitter_command_reports_every_run(root: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "jitter.json"
    argv = [str(root), "--sequences", "red", "blue", "--device", "cpu", "--json", str(out)]
    assert jitter.main(argv) == 0
    data = json.loads(out.read_text())
    assert [run["label"] for run in data["runs"]] == [
        "configured",
        *(f"{name} x{factor:g}" for name, factor in jitter.NUDGES),
    ]
    config = Config(runtime=RuntimeSettings(device="cpu"))
    plain = evaluate_davis(root, VideoSegmenter(config=config), sequences=["red", "blue"])
    assert data["runs"][0]["jf"] == {s.name: pytest.approx(s.jf_mean) for s in plain.sequences}
    printed = capsys.readouterr().out
    assert "blue" in printed and "max_growth x1.04" in printed


def test_jitter_runs_each_nudged_setting(root: Path, tmp_path: Path, monkeypatch) -> None:
    # On the synthetic clips no nudge changes a mask, so the evaluation is replaced by one
    # whose J&F reads the settings it was run with.
    strides = []

    def fake_evaluate(root, segmenter, prompt, clicks, sequences, stride):
        strides.append(stride)
        tracker = segmenter.config.tracker
        scores = [
            SimpleNamespace(name=name, jf_mean=tracker.prior_blur + n * tracker.max_growth)
            for n, name in enumerate(sequences)
        ]
        return SimpleNamespace(sequences=scores)

    monkeypatch.setattr(jitter, "evaluate_davis", fake_evaluate)
    out = tmp_path / "jitter.json"
    argv = [str(root), "--sequences", "red", "blue", "--device", "cpu", "--json", str(out)]
    assert jitter.main([*argv, "--stride", "2"]) == 0
    data = json.loads(out.read_text())
    assert data["stride"] == 2 and strides == [2] * (len(jitter.NUDGES) + 1)
    blur, growth = TrackerSettings().prior_blur, TrackerSettings().max_growth
    expected = [(blur, growth)] + [
        (blur * f if name == "prior_blur" else blur, growth * f if name == "max_growth" else growth)
        for name, f in jitter.NUDGES
    ]
    for run, (b, g) in zip(data["runs"], expected, strict=True):
        assert run["jf"] == {"red": pytest.approx(b), "blue": pytest.approx(b + g)}
        assert run["mean"] == pytest.approx(b + g / 2)
    assert data["mean_of_runs"] == pytest.approx(np.mean([b + g / 2 for b, g in expected]))


def test_occluders_command_still_band_stands_in_the_scene(
    root: Path, tmp_path: Path, monkeypatch
) -> None:
    drawn = []
    real = occluders_bench.write_occluded

    def spy(*args, **kwargs):
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(occluders_bench, "write_occluded", spy)
    argv = [str(root), "--sequences", "red", "--device", "cpu", "--behind", "--still"]
    assert occluders_bench.main(argv) == 0
    (band,) = drawn
    assert isinstance(band, Band) and len(band.path) == FRAMES


def test_occluders_command_still_needs_the_band(root: Path, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        occluders_bench.main([str(root), "--sequences", "red", "--still"])
    assert stop.value.code == 2
    assert "--still" in capsys.readouterr().err
