"""``segany-video bench NAME [options]``: hands the options to the named benchmark's ``main``."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from segany_video.errors import ConfigError

__all__ = ["BENCHES", "main"]

BENCHES = {
    "io": "segany_video.benchmarks.io",
    "writers": "segany_video.benchmarks.writers",
    "models": "segany_video.benchmarks.models",
    "classic": "segany_video.benchmarks.classic",
    "pipeline": "segany_video.benchmarks.pipeline",
    "tracker": "segany_video.benchmarks.tracker",
    "composites": "segany_video.benchmarks.composites",
    "davis-track": "segany_video.benchmarks.davis_track",
    "one-step": "segany_video.benchmarks.one_step",
    "occluders": "segany_video.benchmarks.occluders",
    "jitter": "segany_video.benchmarks.jitter",
    "sam2": "segany_video.benchmarks.sam2_video",
    "studio": "segany_video.benchmarks.studio",
    "batch": "segany_video.benchmarks.batch",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run benchmark ``argv[0]`` with the remaining arguments.

    Raises:
        ConfigError: no benchmark name, or an unknown one (the message lists them).
    """
    argv = list(argv or [])
    if not argv or argv[0] not in BENCHES:
        raise ConfigError(f"bench needs one of {sorted(BENCHES)}, e.g. segany-video bench io CLIP")
    module = importlib.import_module(BENCHES[argv[0]])
    return int(module.main(argv[1:]) or 0)
