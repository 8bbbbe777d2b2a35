"""Start a run in its own process and SIGKILL it part-way, once its resume journal is long."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def kill_once_journaled(
    command: Sequence[str],
    out: Path,
    frames: int,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run ``command`` (writing into ``out``) and SIGKILL it once ``out``'s journal holds
    ``frames`` frames; fails the test if it ends first or journals too few in ``timeout_s``."""
    journal = out / ".resume" / "journal.jsonl"
    process = subprocess.Popen(
        list(command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if journal.is_file() and journal.read_bytes().count(b"\n") >= frames:
                break
            if process.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {process.stderr.read()}")
            time.sleep(0.01)
        else:
            pytest.fail(f"the run journaled too few frames in {timeout_s:g} s")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL
