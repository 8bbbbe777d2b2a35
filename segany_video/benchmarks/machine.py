"""One line naming the machine a benchmark ran on.

Speed ratios depend on the CPU: the same SAM 2 code ran 1.20x Meta's predictor on an Intel
2-core box and 1.00x on an AMD one (BENCHMARKS.md), so a printed figure says where it ran.
"""

from __future__ import annotations

import os
import platform

import torch

_CPUINFO = "/proc/cpuinfo"


def cpu_model(cpuinfo: str = _CPUINFO) -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux), else what ``platform`` knows."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe(cpuinfo: str = _CPUINFO) -> str:
    """``"<CPU model>, <N> cores, torch <version> (<SIMD level>)"``."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu_model(cpuinfo)}, {cores} cores, torch {torch.__version__} "
        f"({torch.backends.cpu.get_cpu_capability()})"
    )
