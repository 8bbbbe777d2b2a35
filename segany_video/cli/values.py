"""How option values are read from the command line, before any command sees them.

Two ways a value typed by a user used to go wrong: a value that starts with "-" (``--point
-5,20``) was taken for an option, and an empty value (``--out "$UNSET"``) was taken for
"not given" or for the current folder.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["join_dash_values", "non_empty", "positive_int"]


def non_empty(text: str) -> str:
    """argparse ``type`` of options whose empty value can only be a mistake.

    Raises:
        argparse.ArgumentTypeError: ``text`` is empty or blank (printed as one usage line).
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "the value is empty (an unset shell variable?); give a value or leave the option out"
        )
    return text


def positive_int(text: str) -> int:
    """argparse ``type`` of counts that must be at least 1 (checked before any folder is made).

    Raises:
        argparse.ArgumentTypeError: ``text`` is not a whole number >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def join_dash_values(argv: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``--point -5,20`` as ``--point=-5,20``: values that start with "-" stay values.

    argparse takes any word starting with "-" (other than a plain negative number) for an
    option, so ``--point -5,20@0`` or ``--box -1,2,30,40`` would end in a usage error instead
    of the prompt check's message (the point lies outside the frame). A word after an option
    that takes a value is joined to it unless it is itself one of the parser's options.

    Args:
        argv: the command line after the program name.
        parser: the top-level parser (its subcommands' options are included).

    Returns:
        ``argv`` with such pairs joined; everything after ``--`` untouched.
    """
    takes_value, known = _option_strings(parser)
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined.extend([word, *words])
            break
        if word in takes_value:
            value = next(words, None)
            if value is None:
                joined.append(word)
            elif value.startswith("-") and value != "-" and not _is_option(value, known):
                joined.append(f"{word}={value}")
            else:
                joined.extend([word, value])
            continue
        joined.append(word)
    return joined


def _option_strings(parser: argparse.ArgumentParser) -> tuple[set[str], set[str]]:
    """Options that take one value, and every option, of ``parser`` and its subcommands."""
    takes_value: set[str] = set()
    known: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub_takes, sub_known = _option_strings(sub)
                takes_value |= sub_takes
                known |= sub_known
        known.update(action.option_strings)
        if action.option_strings and action.nargs is None:
            takes_value.update(action.option_strings)
    return takes_value, known


def _is_option(word: str, known: set[str]) -> bool:
    name = word.split("=", 1)[0]
    # argparse also accepts unambiguous prefixes of long options (--form for --formats).
    return name in known or (name.startswith("--") and any(k.startswith(name) for k in known))
