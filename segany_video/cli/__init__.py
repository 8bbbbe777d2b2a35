"""The ``segany-video`` command: parse, call the API, print.

One module per command (:mod:`~segany_video.cli.track`, :mod:`~segany_video.cli.info`), plus
commands that parse their own arguments (:mod:`~segany_video.cli.forwarded`: weights, eval,
score, bench). User mistakes (bad paths, prompts, options) print one line and exit 2; other
failures exit 1 with the traceback behind ``--debug``; Ctrl-C exits 130 leaving no output that
looks complete.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from segany_video.cli import info, track
from segany_video.cli.forwarded import FORWARDED, run_forwarded
from segany_video.cli.values import join_dash_values
from segany_video.errors import SegAnyVideoError, UserInputError

__all__ = ["PROG", "build_parser", "main"]

PROG = "segany-video"


def build_parser() -> argparse.ArgumentParser:
    """The parser of the commands parsed here (``track``, ``info``); forwarded ones are listed."""
    parser = _OneLineParser(
        prog=PROG,
        description="Segment and track objects through video (SAM family or classic engine).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in (track, info):
        _debug_flag(command.add_parser(sub))
    for name, forwarded in FORWARDED.items():
        sub.add_parser(name, help=forwarded.help, add_help=False).add_argument(
            "rest", nargs=argparse.REMAINDER
        )
    return parser


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (like every other error) instead of the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


def _debug_flag(parser: argparse.ArgumentParser) -> None:
    # Also accepted after the command (where people type it); SUPPRESS keeps the top-level
    # value when the flag is not repeated here.
    parser.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse, handing everything after a forwarded command to its own parser untouched.

    argparse's REMAINDER does not take a leading option (``eval --help`` would be refused), so
    forwarded commands are split off by hand.
    """
    head = 0
    while head < len(argv) and argv[head] == "--debug":
        head += 1
    if head < len(argv) and argv[head] in FORWARDED:
        name, rest = argv[head], argv[head + 1 :]
        return argparse.Namespace(debug=head > 0, func=lambda _: run_forwarded(name, rest))
    parser = build_parser()
    return parser.parse_args(join_dash_values(argv, parser))


def run_guarded(call: Callable[[], int], debug: bool) -> int:
    """Run one command; turn its errors into the exit codes and one-line messages above."""
    try:
        return call()
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; unfinished outputs were removed "
            "(rerun the same command with --resume to continue)",
            file=sys.stderr,
        )
        return 130
    except SegAnyVideoError as exc:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2 if isinstance(exc, UserInputError) else 1
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {exc} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def one_line(message: str) -> str:
    """``message`` on one line; a parser's source excerpt and its ``^`` marker are dropped.

    Messages are written as one line, but some quote a library's own (YAML's parse errors
    span several lines, with the offending source line and a caret under it).
    """
    lines = message.splitlines()
    caret = [line.strip() == "^" for line in lines]
    kept = [
        line.strip()
        for i, line in enumerate(lines)
        if line.strip() and not caret[i] and not (i + 1 < len(lines) and caret[i + 1])
    ]
    return " ".join(kept).rstrip(":")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``segany-video`` console script; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    return run_guarded(lambda: args.func(args), args.debug)
