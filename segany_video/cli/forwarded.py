"""Commands that own their whole argument list: the rest of argv goes to ``module.main(argv)``.

Adding one is one line in :data:`FORWARDED`: the module needs only
``main(argv: Sequence[str] | None = None) -> int`` and may raise the errors of
:mod:`segany_video.errors`; the top-level ``main`` turns those into messages and exit codes.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

from segany_video.cli.bench import BENCHES

__all__ = ["FORWARDED", "ForwardedCommand", "run_forwarded"]


@dataclass(frozen=True)
class ForwardedCommand:
    """A command whose module parses its own arguments.

    Attributes:
        module: dotted module name with a ``main(argv) -> int``; imported only when run.
        help: one line for ``segany-video --help``, showing the usage.
    """

    module: str
    help: str


FORWARDED: dict[str, ForwardedCommand] = {
    "weights": ForwardedCommand(
        "segany_video.cli.weights",
        "list, download, verify SAM weights: weights {list,download,verify,path}",
    ),
    "eval": ForwardedCommand(
        "segany_video.evaluation.davis_eval",
        "score tracking on a DAVIS-format folder: eval DATA_ROOT [options]",
    ),
    "score": ForwardedCommand(
        "segany_video.evaluation.label_scores",
        "score a run's davis/ labels against ground truth: score RUN_OUT TRUTH_DIR",
    ),
    "studio": ForwardedCommand(
        "segany_video.studio.command",
        "a local web page to click objects, preview, track and export: studio [INPUT] [options]",
    ),
    "batch": ForwardedCommand(
        "segany_video.batch.command",
        "run a manifest of videos on local workers or a Ray cluster: batch MANIFEST [options]",
    ),
    "bench": ForwardedCommand(
        "segany_video.cli.bench", f"benchmarks: bench {{{','.join(BENCHES)}}} [options]"
    ),
}


def run_forwarded(name: str, argv: Sequence[str]) -> int:
    """Run forwarded command ``name`` with its own arguments; its exit code."""
    module = importlib.import_module(FORWARDED[name].module)
    return int(module.main(list(argv)) or 0)
