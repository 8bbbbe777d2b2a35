"""Export: the tracked results written by the package's writers, plus a prompts file and the
``segany-video track`` command that replays the same work headless."""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from segany_video.errors import WriterError
from segany_video.readers.reader import ReaderSettings, open_video
from segany_video.studio.files import RootFolder
from segany_video.studio.store import ResultStore
from segany_video.writers.atomic import AtomicPath
from segany_video.writers.outputs import FORMATS, OutputSet, WriterSettings

PROMPTS_NAME = "prompts.json"
COMMAND_NAME = "track_command.txt"


@dataclass(frozen=True)
class ExportRequest:
    """Where and what to export.

    Attributes:
        video_path: the source video (inside the root).
        out_dir: the output folder (inside the root).
        formats: output formats, any of ``FORMATS``.
        start, end: the tracked range ``[start, end)`` (``end`` None: to the video's end).
        model_flag, device_flag: ``--model`` / ``--device`` for the equivalent command.
    """

    video_path: Path
    out_dir: Path
    formats: tuple[str, ...]
    start: int
    end: int | None
    model_flag: str | None = None
    device_flag: str | None = None


def track_command(request: ExportRequest, root: RootFolder) -> str:
    """The ``segany-video track`` line that redoes this export, run from the root folder."""
    out = root.relative(request.out_dir)
    words = ["segany-video", "track", root.relative(request.video_path)]
    words += ["--prompts", f"{out}/{PROMPTS_NAME}", "--formats", ",".join(request.formats)]
    if request.model_flag:
        words += ["--model", request.model_flag]
    if request.device_flag:
        words += ["--device", request.device_flag]
    if request.start:
        words += ["--start", str(request.start)]
    if request.end is not None:
        words += ["--end", str(request.end)]
    words += ["--out", out]
    return shlex.join(words)


def export_results(
    request: ExportRequest,
    root: RootFolder,
    store: ResultStore,
    prompts: dict,
    masks: dict[str, np.ndarray],
    writers: WriterSettings,
    reader: ReaderSettings,
    tick: Callable[[int, int | None], None],
) -> dict:
    """Write outputs, the prompts file (and its masks) and the command into ``out_dir``.

    Returns:
        ``{"folder", "files", "prompts", "command", "cwd"}``; paths relative to the root.
    """
    settings = dataclasses.replace(writers, formats=_checked(request.formats))
    out = request.out_dir
    out.mkdir(parents=True, exist_ok=True)
    with open_video(request.video_path, settings=reader) as video:
        stop = request.end if request.end is not None else video.info.frame_count
        total = stop - request.start
        with OutputSet(out, video.info, store.object_ids, settings) as outputs:
            if {"overlay", "cutout"}.intersection(settings.formats):
                done = 0
                for batch in video.batches(8, start=request.start, end=stop):
                    for index, image in zip(batch.indices, batch.frames, strict=True):
                        outputs.write(store.frame(int(index)), image)
                        done += 1
                        tick(done, total)
            else:
                for done, index in enumerate(range(request.start, stop), start=1):
                    outputs.write(store.frame(index))
                    tick(done, total)
    for name, mask in masks.items():
        target = AtomicPath(out / name)
        if not cv2.imwrite(str(target.temp), mask.astype(np.uint8) * 255):
            raise WriterError(f"cannot write the prompt mask {out / name}")
        target.commit()
    rows = ",\n".join(f"  {json.dumps(obj)}" for obj in prompts["objects"])
    text = f'{{"objects": [\n{rows}\n]}}\n'
    _write_text(out / PROMPTS_NAME, text)
    command = track_command(request, root)
    _write_text(out / COMMAND_NAME, f"cd {shlex.quote(str(root.path))} && {command}\n")
    files = sorted(root.relative(p) for p in out.rglob("*") if p.is_file())
    return {
        "folder": root.relative(out),
        "files": [f for f in files if not Path(f).name.startswith(".")],
        "prompts": text,
        "command": command,
        "cwd": str(root.path),
    }


def _checked(formats: tuple[str, ...]) -> tuple[str, ...]:
    if formats == ("all",):
        return FORMATS
    return formats


def _write_text(path: Path, text: str) -> None:
    target = AtomicPath(path)
    target.temp.write_text(text, encoding="utf-8")
    target.commit()
