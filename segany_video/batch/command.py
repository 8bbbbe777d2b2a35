"""``segany-video batch MANIFEST``: parse the options, run the batch, print, exit.

Exit codes: 0 every job done (or skipped as finished); 1 some jobs failed (the report and the
last line say which and why); 2 a mistake in the manifest or the options; 130 Ctrl-C (running
jobs keep their journals; rerun with ``--resume``).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence

from segany_video.errors import ConfigError, SegAnyVideoError, UserInputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video batch",
        description="Run a manifest of videos (YAML, JSON or CSV) locally or on a Ray cluster.",
    )
    parser.add_argument("manifest", help="manifest file: a jobs: list (YAML/JSON) or a CSV")
    parser.add_argument(
        "--workers", type=int, default=2, metavar="N", help="local worker processes (default 2)"
    )
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run each job as a Ray task on this cluster: auto (this node's cluster), "
        "HOST:PORT, or ray://HOST:10001 (Ray Client)",
    )
    parser.add_argument(
        "--cpus-per-job", type=float, metavar="F", help="Ray CPUs per job (default 1)"
    )
    parser.add_argument(
        "--gpus-per-job",
        type=float,
        metavar="F",
        help="Ray GPUs per job, fractions allowed (e.g. 0.25 = four jobs per GPU; default 0)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="skip jobs that finished, continue interrupted ones from their journals",
    )
    parser.add_argument(
        "--fail-fast", action="store_true", help="start no more jobs after the first failure"
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=3,
        metavar="N",
        help="times a job whose worker died is run again, from its journal (default 3)",
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        help="folder for batch.json and batch.csv (default: the folder holding the jobs' outputs)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``segany-video batch``; returns the exit code."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from segany_video.batch.report import describe
    from segany_video.batch.run import run_batch

    try:
        if args.ray is None and (args.cpus_per_job is not None or args.gpus_per_job is not None):
            raise ConfigError(
                "--cpus-per-job and --gpus-per-job are Ray resources and need --ray; "
                "local runs use --workers N"
            )
        report = run_batch(
            args.manifest,
            workers=args.workers,
            ray_address=args.ray,
            cpus_per_job=1.0 if args.cpus_per_job is None else args.cpus_per_job,
            gpus_per_job=0.0 if args.gpus_per_job is None else args.gpus_per_job,
            resume=args.resume,
            fail_fast=args.fail_fast,
            max_retries=args.max_retries,
            report_dir=args.report,
        )
    except KeyboardInterrupt:
        print(
            "segany-video batch: interrupted; interrupted jobs keep their journals "
            "(rerun with --resume to skip finished jobs and continue the others)",
            file=sys.stderr,
        )
        return 130
    except UserInputError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"segany-video batch: error: {exc}", file=sys.stderr)
        return 2
    except SegAnyVideoError as exc:  # e.g. the report folder cannot be written
        if args.debug:
            traceback.print_exc()
        print(f"segany-video batch: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"segany-video batch: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    if report.ok:
        return 0
    print(f"segany-video batch: {describe(report.jobs)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
