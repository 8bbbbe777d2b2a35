"""The memory benchmarks' peak reading is the child's own, not its parent's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from segany_video.benchmarks.peak_memory import peak_rss_mib

REPO = Path(__file__).resolve().parents[2]
PARENT_MIB = 256
LINUX_ONLY = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="VmHWM needs Linux /proc"
)

# A parent whose peak is PARENT_MIB above a bare interpreter starts a child, as the memory
# benchmarks do; the child reports both readings as JSON.
_PARENT = f"""
import subprocess, sys
block = b"x" * ({PARENT_MIB} * 2**20)  # written, so resident
del block
child = (
    "import json, resource\\n"
    "from segany_video.benchmarks.peak_memory import peak_rss_mib\\n"
    "print(json.dumps({{'own': peak_rss_mib(),"
    " 'ru_maxrss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))\\n"
)
done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
print(done.stdout)
"""


@LINUX_ONLY
def test_a_child_reports_its_own_peak_not_its_parents():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", _PARENT], capture_output=True, text=True, check=True, env=env
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # The trap being avoided: ru_maxrss carries the parent's peak into the child.
    assert figures["ru_maxrss"] >= PARENT_MIB
    assert figures["own"] < PARENT_MIB / 2


@LINUX_ONLY
def test_peak_is_at_least_the_current_resident_size():
    status = Path("/proc/self/status").read_text(encoding="ascii")
    current = next(
        int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
    )
    assert peak_rss_mib() >= current / 1024 > 0
