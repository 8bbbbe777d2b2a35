"""Prompt flags of ``track``: ``--prompts FILE`` plus ``--point``, ``--box``, ``--mask`` objects.

Each flag adds one object; flag order gives the objects' ids after the prompts file's. Frame
positions (``@FRAME``, ``--start``, ``--end``) are frame indices or times.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from segany_video.cli.values import non_empty
from segany_video.errors import PromptError

__all__ = [
    "add_prompt_flags",
    "build_prompts",
    "object_from_flag",
    "parse_position",
]

_TIME = re.compile(r"^(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)s?$")


class _ObjectFlag(argparse.Action):
    """Appends ``(kind, text)`` to one shared list, so flag order gives object ids."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        namespace.object_flags.append((self.dest, values))


def add_prompt_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--prompts`` and the per-object flags; parsed flags land in ``args.object_flags``."""
    parser.add_argument("--prompts", type=non_empty, help="prompts file (JSON or YAML)")
    parser.set_defaults(object_flags=[])
    for kind, metavar, what in (
        ("point", "X,Y[,LABEL][;X,Y[,LABEL]...][@FRAME]", "clicks (label 1 = on, 0 = off)"),
        ("box", "X0,Y0,X1,Y1[@FRAME]", "a box in pixels"),
        ("mask", "PNG[@FRAME]", "a mask image (non-zero = object)"),
    ):
        parser.add_argument(
            f"--{kind}",
            dest=kind,
            action=_ObjectFlag,
            metavar=metavar,
            help=f"one more object from {what}; FRAME is an index or a time like 2.5s",
        )


def parse_position(text: str, what: str) -> int | float:
    """``"12"`` is frame 12; ``"1.5s"``, ``"1.5"`` with a dot or ``"00:01.5"`` are seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    if text.startswith("-"):
        raise PromptError(
            f"{what} {text!r} is negative; frames and times count from 0 at the video's start"
        )
    match = _TIME.match(text)
    if not match:
        raise PromptError(
            f"{what} {text!r}: expected a frame index (e.g. 75) or a time (e.g. 2.5s, 00:02.5)"
        )
    hours, minutes, seconds = match.groups()
    if hours is not None and minutes is None:
        hours, minutes = None, hours
    return float(int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds))


def _split_frame(text: str, flag: str) -> tuple[str, dict[str, Any]]:
    body, at, frame = text.rpartition("@")
    if not at or (flag == "--mask" and not _TIME.match(frame.strip())):
        # A mask file may itself contain "@" (e.g. "shot@2x.png"): no position follows it.
        return text, {"frame": 0}
    position = parse_position(frame, f"{flag} {text!r}: frame")
    return body, {"frame": position} if isinstance(position, int) else {"time": position}


def _numbers(text: str, flag: str, whole: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise PromptError(f"{flag} {whole!r}: {text!r} is not a list of numbers") from None


def object_from_flag(kind: str, text: str, object_id: int) -> dict[str, Any]:
    """One prompts-file object from a ``--point``/``--box``/``--mask`` flag value."""
    flag = f"--{kind}"
    body, keyframe = _split_frame(text, flag)
    if kind == "point":
        points = []
        for part in filter(None, (p.strip() for p in body.split(";"))):
            values = _numbers(part, flag, text)
            if len(values) not in (2, 3):
                raise PromptError(f"{flag} {text!r}: each point is X,Y or X,Y,LABEL, got {part!r}")
            label = int(values[2]) if len(values) == 3 else 1
            points.append([values[0], values[1], label])
        if not points:
            raise PromptError(f"{flag} {text!r}: no point given")
        keyframe["points"] = points
    elif kind == "box":
        values = _numbers(body, flag, text)
        if len(values) != 4:
            raise PromptError(f"{flag} {text!r}: a box is X0,Y0,X1,Y1, got {len(values)} numbers")
        keyframe["box"] = values
    else:
        mask = Path(body).resolve()
        if not mask.is_file():
            problem = "is a folder" if mask.is_dir() else "does not exist"
            raise PromptError(f"{flag} {text!r}: {mask} {problem}; give a mask image file")
        keyframe["mask"] = str(mask)
    return {"id": object_id, "keyframes": [keyframe]}


def build_prompts(prompts_file: str | None, flags: Sequence[tuple[str, str]]):
    """The run's :class:`PromptSet`: the file's objects, then one object per flag.

    Flag objects take the next free integer ids after the file's (1, 2, ... without a file).
    """
    from segany_video.tracking.prompts import PromptSet

    if prompts_file is None and not flags:
        raise PromptError(
            "no prompts: give --prompts FILE or at least one --point, --box or --mask"
        )
    if prompts_file is not None and Path(prompts_file).is_dir():
        raise PromptError(
            f"--prompts {prompts_file}: is a folder; give a JSON or YAML prompts file"
        )
    objects = list(PromptSet.load(prompts_file).objects) if prompts_file is not None else []
    next_id = max((o.id for o in objects if isinstance(o.id, int)), default=0) + 1
    flag_objects = [
        object_from_flag(kind, text, next_id + n) for n, (kind, text) in enumerate(flags)
    ]
    if flag_objects:
        objects += PromptSet.from_dict({"objects": flag_objects}).objects
    return PromptSet(objects=objects)
