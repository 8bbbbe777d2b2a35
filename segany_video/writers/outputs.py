"""Every output of a run behind one object, :class:`OutputSet`, set up by :class:`WriterSettings`.

The caller hands over one :class:`~segany_video.results.FrameResult` and its frame at a time;
a worker thread per format (:mod:`writer_thread`) feeds that format's writers, each writing
under a temporary name. :meth:`OutputSet.close` finishes every output and only then renames
them all; an exception (or :meth:`OutputSet.abort`) deletes the temporary files instead, so a
failed or interrupted run never leaves a file that looks complete. Where each file goes is
:mod:`layout`'s documented layout.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from segany_video.errors import ConfigError, PromptError, SegAnyVideoError, WriterError
from segany_video.readers.frames import VideoInfo
from segany_video.results import FrameResult, ObjectResult, TrackState
from segany_video.settings_mapping import checked_fields
from segany_video.writers.atomic import StagedWriter, make_output_dir
from segany_video.writers.coco_json import TracksJsonWriter
from segany_video.writers.cutout import CUTOUT_CODECS, CutoutWriter, cutout_suffix
from segany_video.writers.davis_png import DavisPngWriter
from segany_video.writers.layout import OutputLayout, object_file_names, sanitize_id
from segany_video.writers.mask_video import MASK_CODECS, MaskVideoWriter, mask_video_suffix
from segany_video.writers.mot_csv import MotCsvWriter
from segany_video.writers.overlay import OverlayWriter
from segany_video.writers.png_sequence import PngSequenceWriter
from segany_video.writers.writer_thread import WriterThread

__all__ = [
    "FORMATS",
    "OutputLayout",
    "OutputSet",
    "WriterSettings",
    "object_file_names",
    "sanitize_id",
]

FORMATS = ("masks", "png", "cutout", "overlay", "json", "davis", "mot")
_NEEDS_IMAGE = {"cutout", "overlay"}


@dataclass(frozen=True)
class WriterSettings:
    """What to write and how.

    Attributes:
        formats: outputs to write, any of "masks" (per-object mask videos), "png" (per-object
            PNG sequences), "cutout" (alpha cutouts), "overlay" (preview video), "json"
            (``tracks.json``), "davis" (palette PNGs), "mot" (MOT CSV).
        mask_codec: "ffv1" (lossless ``.mkv``) or "h264" (lossy ``.mp4`` previews).
        cutout_codecs: cutout files per object: "prores" (``.mov``) and/or "vp9" (``.webm``).
        overlay_opacity: tint strength of masks in the overlay, in ``[0, 1]``.
        queue_size: frames that may wait for the writer thread (bounds memory).
        stall_timeout_s: seconds the caller waits for the writers to finish one frame before
            failing with ``WriterError`` (a hung disk must not hang the run).
    """

    formats: tuple[str, ...] = ("masks", "overlay", "json")
    mask_codec: str = "ffv1"
    cutout_codecs: tuple[str, ...] = ("prores", "vp9")
    overlay_opacity: float = 0.5
    queue_size: int = 8
    stall_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        # Config files give lists and the CLI gives "a,b"; store one canonical tuple.
        object.__setattr__(self, "formats", _name_tuple(self.formats, "formats", FORMATS))
        object.__setattr__(
            self, "cutout_codecs", _name_tuple(self.cutout_codecs, "cutout_codecs", CUTOUT_CODECS)
        )
        if self.mask_codec not in MASK_CODECS:
            raise ConfigError(
                f"writers mask_codec must be one of {sorted(MASK_CODECS)}, got {self.mask_codec!r}"
            )
        if "cutout" in self.formats and not self.cutout_codecs:
            raise ConfigError("writers format 'cutout' needs at least one of cutout_codecs")
        if not isinstance(self.overlay_opacity, (int, float)) or not (
            0.0 <= self.overlay_opacity <= 1.0
        ):
            raise ConfigError(
                f"writers overlay_opacity must be in [0, 1], got {self.overlay_opacity!r}"
            )
        if not _is_int(self.queue_size) or self.queue_size < 1:
            raise ConfigError(
                f"writers queue_size must be an integer >= 1, got {self.queue_size!r}"
            )
        if not isinstance(self.stall_timeout_s, (int, float)) or not self.stall_timeout_s > 0:
            raise ConfigError(
                f"writers stall_timeout_s must be a number > 0, got {self.stall_timeout_s!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WriterSettings:
        """Build from a plain mapping (a config file's ``writers`` section).

        Raises:
            ConfigError: on unknown keys or invalid values.
        """
        return cls(**checked_fields(cls, data, "writers"))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name_tuple(value: object, what: str, allowed: Sequence[str]) -> tuple[str, ...]:
    """Normalise "a,b" / ["a", "b"] / ("a", "b") to a duplicate-free tuple of known names."""
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise ConfigError(f"writers {what} must be a list of names, got {value!r}")
    bad = [item for item in items if item not in allowed]
    if bad:
        raise ConfigError(f"writers {what}: unknown {bad}; expected names from {list(allowed)}")
    return tuple(dict.fromkeys(items))


class OutputSet:
    """All outputs of one run, written in a worker thread and committed together.

    Args:
        out_dir: the output folder (created if missing).
        info: the source's metadata (frame size, fps).
        object_ids: every object in prompt order; the order fixes slots (DAVIS index, MOT id
            for non-integer ids, overlay colour).
        settings: formats and writer options.

    Raises:
        WriterError: the folder cannot be written, or a needed encoder is missing.
        PromptError: duplicate object ids, or more than 255 objects with "davis".

    Example:
        >>> with OutputSet(out, video.info, [1, 2], WriterSettings()) as outputs:
        ...     for result, image in zip(results, frames):
        ...         outputs.write(result, image)
        >>> outputs.paths["masks"]
    """

    def __init__(
        self,
        out_dir: Path,
        info: VideoInfo,
        object_ids: Sequence[int | str],
        settings: WriterSettings | None = None,
    ) -> None:
        self.settings = settings or WriterSettings()
        self.info = info
        try:
            self.layout = OutputLayout.build(out_dir, object_ids)
        except ValueError as exc:
            raise PromptError(str(exc)) from exc
        self.object_ids = list(self.layout.object_ids)
        if not self.object_ids:
            raise PromptError(f"no objects to write outputs for in {out_dir}; give at least one")
        if "davis" in self.settings.formats and len(self.object_ids) > 255:
            raise PromptError(
                f"DAVIS palette PNGs hold at most 255 objects, got {len(self.object_ids)}; "
                "drop the 'davis' format"
            )
        make_output_dir(self.layout.out_dir)
        self.paths: dict[str, list[Path]] = {}
        self.frames_written = 0
        self._writers: list[StagedWriter] = []
        self._last_index: int | None = None
        self._closed = False
        try:
            self._frame_writers = self._open_writers()
        except BaseException:
            self._abort_writers()
            raise
        # One thread per format: encoders release the GIL, so formats encode in parallel on
        # machines with cores to spare, and a slow format (ProRes) does not hold back the rest
        # until its queue fills. Items are shared, not copied, between the queues.
        self._threads: list[WriterThread[tuple[FrameResult, np.ndarray | None]]] = []
        try:
            for fmt, calls in self._frame_writers.items():
                self._threads.append(
                    WriterThread(
                        functools.partial(_write_frame, calls),
                        depth=self.settings.queue_size,
                        name=f"{fmt} writer for {self.layout.out_dir}",
                        stall_timeout_s=self.settings.stall_timeout_s,
                    )
                )
        except BaseException:
            self.abort()
            raise

    def _add(self, kind: str, writer: StagedWriter, path: Path) -> StagedWriter:
        self._writers.append(writer)
        self.paths.setdefault(kind, []).append(path)
        return writer

    def _open_writers(self) -> dict[str, list]:
        """Create each format's writers; returns format -> callables ``(result, image)``."""
        s, info, layout = self.settings, self.info, self.layout
        size = (info.width, info.height, info.fps)
        by_format: dict[str, list] = {}
        for fmt in s.formats:
            calls = by_format.setdefault(fmt, [])
            if fmt == "masks":
                suffix = mask_video_suffix(s.mask_codec)
                for oid in self.object_ids:
                    path = layout.mask_video(oid, suffix)
                    w = self._add(fmt, MaskVideoWriter(path, *size, s.mask_codec, oid), path)
                    calls.append(_per_object_mask_video(w, oid))
            elif fmt == "png":
                for oid in self.object_ids:
                    path = layout.png_dir(oid)
                    w = self._add(fmt, PngSequenceWriter(path), path)
                    calls.append(_per_object_png(w, oid))
            elif fmt == "cutout":
                for oid in self.object_ids:
                    for codec in s.cutout_codecs:
                        path = layout.cutout(oid, cutout_suffix(codec))
                        w = self._add(fmt, CutoutWriter(path, *size, codec, oid), path)
                        calls.append(_per_object_cutout(w, oid))
            elif fmt == "overlay":
                path = layout.overlay
                w = self._add(
                    fmt, OverlayWriter(path, *size, self.object_ids, s.overlay_opacity), path
                )
                calls.append(lambda r, img, w=w: w.write(img, r))
            elif fmt == "json":
                path = layout.tracks_json
                w = self._add(
                    fmt, TracksJsonWriter(path, info, self.object_ids, layout.names), path
                )
                calls.append(lambda r, img, w=w: w.write(r))
            elif fmt == "davis":
                path = layout.davis_dir
                w = self._add(fmt, DavisPngWriter(path), path)
                calls.append(
                    lambda r, img, w=w, ids=self.object_ids: w.write(_label_map(r, ids), r.index)
                )
            elif fmt == "mot":
                path = layout.mot_csv
                w = self._add(fmt, MotCsvWriter(path, self.object_ids), path)
                calls.append(lambda r, img, w=w: w.write(r))
        return by_format

    # -- the caller's side ---------------------------------------------------------------

    def write(self, result: FrameResult, image: np.ndarray | None = None) -> None:
        """Queue one frame for every output.

        Args:
            result: the frame's objects; masks ``(H, W)`` bool at source size. Objects missing
                from ``result`` are written as empty masks.
            image: ``(H, W, 3)`` uint8 RGB of the same frame; needed only by "cutout" and
                "overlay" (copied, so the caller may reuse its buffer).

        Raises:
            WriterError: bad shapes, frames out of order, or a writer failed earlier (its own
                error, e.g. disk full, is raised as it is).
            PromptError: an object id that was not declared.
        """
        if self._closed:
            raise WriterError(f"OutputSet for {self.layout.out_dir} is closed; write() after close")
        self._check_frame(result, image)
        needs_image = _NEEDS_IMAGE.intersection(self.settings.formats)
        result = _with_every_object(result, self.object_ids, (self.info.height, self.info.width))
        item = (result, np.array(image, copy=True) if needs_image else None)
        try:
            for thread in self._threads:
                thread.put(item)
        except BaseException:
            self.abort()
            raise
        self._last_index = result.index
        self.frames_written += 1

    def _check_frame(self, result: FrameResult, image: np.ndarray | None) -> None:
        shape = (self.info.height, self.info.width)
        if self._last_index is not None and result.index <= self._last_index:
            raise WriterError(
                f"frame {result.index} arrived after frame {self._last_index}; outputs need "
                "frames in increasing index order"
            )
        for object_id, obj in result.objects.items():
            if object_id not in self.object_ids:
                raise PromptError(
                    f"frame {result.index}: object {object_id!r} was not among the declared ids "
                    f"{self.object_ids}"
                )
            if obj.mask.shape != shape:
                raise WriterError(
                    f"frame {result.index}, object {object_id!r}: mask {obj.mask.shape} does not "
                    f"match the video's {shape}"
                )
        if _NEEDS_IMAGE.intersection(self.settings.formats):
            if image is None:
                raise WriterError(
                    f"frame {result.index}: the cutout/overlay outputs need the image"
                )
            if image.shape != (*shape, 3) or image.dtype != np.uint8:
                raise WriterError(
                    f"frame {result.index}: image {image.shape} {image.dtype} should be "
                    f"{(*shape, 3)} uint8 RGB"
                )

    def close(self) -> dict[str, list[Path]]:
        """Write what is queued, finish every output, then rename them all to final names.

        Returns:
            :attr:`paths`: format -> final paths (folders for "png" and "davis").

        Raises:
            WriterError and friends: a writer failed; every temporary output has been removed.
        """
        if self._closed:
            return self.paths
        self._closed = True
        try:
            for thread in self._threads:
                thread.close()
            for writer in self._writers:
                writer.finish()
            for writer in self._writers:
                writer.commit()
        except BaseException:
            self.abort()  # committed outputs stay; every other temporary output goes
            raise
        return self.paths

    def abort(self) -> None:
        """Stop writing and delete every temporary output; never raises."""
        self._closed = True
        for thread in getattr(self, "_threads", []):
            thread.abort()
        self._abort_writers()

    def _abort_writers(self) -> None:
        for writer in self._writers:
            # Cleanup must go on past a failing writer; the caller is raising the real error.
            with contextlib.suppress(Exception):
                writer.abort()

    # -- the worker's side ---------------------------------------------------------------

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _write_frame(calls: list, item: tuple[FrameResult, np.ndarray | None]) -> None:
    """Run one format's writers on one frame (in that format's thread)."""
    result, image = item
    try:
        for call in calls:
            call(result, image)
    except SegAnyVideoError:
        raise
    except OSError as exc:
        raise WriterError(f"writing frame {result.index} failed: {exc}") from exc


def _with_every_object(
    result: FrameResult, object_ids: Sequence[int | str], shape: tuple[int, int]
) -> FrameResult:
    """``result`` with an empty, inactive entry for each declared object it lacks."""
    if all(i in result.objects for i in object_ids):
        return result
    empty = np.zeros(shape, dtype=bool)
    objects = {
        i: result.objects.get(i) or ObjectResult(i, empty, None, 0.0, TrackState.INACTIVE)
        for i in object_ids
    }
    return FrameResult(result.index, result.timestamp, objects)


def _label_map(result: FrameResult, object_ids: Sequence[int | str]) -> np.ndarray:
    """``(H, W)`` uint8 slot per pixel in declared order (later objects win overlaps)."""
    first = result.objects[object_ids[0]].mask
    labels = np.zeros(first.shape, dtype=np.uint8)
    for slot, object_id in enumerate(object_ids, start=1):
        labels[result.objects[object_id].mask] = slot
    return labels


def _per_object_mask_video(writer: MaskVideoWriter, object_id: int | str):
    return lambda r, img: writer.write(r.objects[object_id].mask, r.timestamp)


def _per_object_png(writer: PngSequenceWriter, object_id: int | str):
    return lambda r, img: writer.write(r.objects[object_id].mask, r.index)


def _per_object_cutout(writer: CutoutWriter, object_id: int | str):
    return lambda r, img: writer.write(img, r.objects[object_id].mask, r.timestamp)
