"""The machine line printed by the speed benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

from segany_video.benchmarks.machine import cpu_model, describe


def test_cpu_model_reads_the_first_model_name(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: Test CPU 9000\n\n"
        "processor\t: 1\nmodel name\t: Test CPU 9000\n"
    )
    assert cpu_model(str(cpuinfo)) == "Test CPU 9000"


def test_cpu_model_falls_back_without_cpuinfo(tmp_path: Path) -> None:
    name = cpu_model(str(tmp_path / "missing"))
    assert name and name != "Test CPU 9000"


def test_describe_names_model_cores_and_torch(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Test CPU 9000\n")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    line = describe(str(cpuinfo))
    assert line.startswith(f"Test CPU 9000, {cores} cores, torch ")
