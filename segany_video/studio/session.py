"""One studio session: the open video, its objects, previews, tracked results and jobs.

The HTTP layer (:mod:`.app`) only parses requests and calls these methods; everything here is
plain Python and tested in-process.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from segany_video.errors import FrameIndexError, PromptError, UserInputError
from segany_video.readers.reader import VideoSource, open_video
from segany_video.results import mask_box
from segany_video.segmenter import VideoSegmenter
from segany_video.studio.export import ExportRequest, export_results
from segany_video.studio.files import RootFolder
from segany_video.studio.jobs import JobRunner
from segany_video.studio.objects import ObjectBoard
from segany_video.studio.preview import FeatureCache, Preview, preview_keyframe
from segany_video.studio.retrack import TrackedPrompts, first_changed_frame
from segany_video.studio.store import ResultStore
from segany_video.studio.tracking_run import Tick, run_tracking

JPEG_QUALITY = 90
T = TypeVar("T")


class NoVideoError(UserInputError, RuntimeError):
    """An action that needs an open video before one is opened."""


class StaleResultsError(UserInputError, RuntimeError):
    """Export asked for while the results do not match the prompts (track first)."""


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run a session method holding the session's edit lock."""

    @functools.wraps(method)
    def run(self: StudioSession, *args: Any, **kwargs: Any) -> T:
        with self._edits:
            return method(self, *args, **kwargs)

    return run


class StudioSession:
    """State of the page for one server.

    Args:
        root: the only folder read and written.
        segmenter: the engine, runtime and config that previews, tracking and export use.
        model_flag, device_flag: the ``--model``/``--device`` the user gave (for the equivalent
            command line), or None.
    """

    def __init__(
        self,
        root: RootFolder,
        segmenter: VideoSegmenter,
        model_flag: str | None = None,
        device_flag: str | None = None,
    ) -> None:
        self.root = root
        self.segmenter = segmenter
        self.model_flag = model_flag
        self.device_flag = device_flag
        self.jobs = JobRunner()
        self.video: VideoSource | None = None
        self.video_path: Path | None = None
        self.board: ObjectBoard | None = None
        self.features: FeatureCache | None = None
        self.store: ResultStore | None = None
        self.tracked: TrackedPrompts | None = None
        self.range: tuple[int, int | None] = (0, None)
        self.last_export: dict | None = None
        self._previews: dict[tuple[int, int], tuple[tuple, Preview]] = {}
        self._lock = threading.Lock()  # guards the shared VideoSource
        # Edits, previews and the job's look at the prompts take turns: requests run in a
        # thread pool and the tracking job in its own thread.
        self._edits = threading.RLock()

    # --------------------------------------------------------------------------- video

    def open(self, relative: str) -> dict:
        """Open a video under the root; resets objects and results."""
        if self.jobs.busy:
            self.jobs.cancel()
            self.jobs.wait(30)
        with self._edits:
            return self._open(relative)

    def _open(self, relative: str) -> dict:
        path = self.root.resolve(relative)
        video = open_video(path, settings=self.segmenter.config.reader)
        if self.video is not None:
            self.video.close()
        self.video, self.video_path = video, path
        info = video.info
        self.board = ObjectBoard((info.height, info.width))
        self.features = FeatureCache(self.segmenter.runtime, video, self._lock)
        self.store, self.tracked, self.last_export = None, None, None
        self.range = (0, None)
        self._previews = {}
        return self.describe()

    def close(self) -> None:
        self.jobs.cancel()
        self.jobs.wait(30)
        if self.video is not None:
            self.video.close()
            self.video = None

    @property
    def frame_count(self) -> int:
        count = self._video().info.frame_count
        if count is None:
            raise NoVideoError("this source has no frame count (a live stream?); open a file")
        return count

    @_locked
    def describe(self) -> dict:
        """Metadata of the open video, the engine and the objects (None fields when none)."""
        model = self.segmenter.model.info
        out: dict = {
            "root": str(self.root.path),
            "engine": {"name": model.name, "description": model.description},
            "video": None,
            "objects": [],
        }
        if self.video is not None and self.board is not None:
            info = self.video.info
            out["video"] = {
                "path": self.root.relative(self.video_path),
                "width": info.width,
                "height": info.height,
                "fps": float(info.fps),
                "frame_count": info.frame_count,
                "duration": info.duration,
                "codec": info.codec,
                "rotation": info.rotation,
            }
            out["objects"] = self.board.describe()
        return out

    def frame_jpeg(self, index: int) -> bytes:
        """Frame ``index`` as a JPEG."""
        video = self._video()
        self._check_frame(index)
        with self._lock:
            batch = video.read_frames([index])
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(batch.frames[0], cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY],
        )  # fmt: skip
        assert ok
        return data.tobytes()

    def prepare(self, index: int) -> None:
        """Encode frame ``index`` for previews ahead of the first click on it."""
        self._check_frame(index)
        self._features().get(index)

    # --------------------------------------------------------------------------- prompts

    @_locked
    def add_object(self, name: str | None = None, colour: str | None = None) -> dict:
        return self._board().add(name, colour).describe()

    @_locked
    def update_object(self, object_id: int, name: str | None, colour: str | None) -> None:
        self._board().update(object_id, name, colour)

    @_locked
    def delete_object(self, object_id: int) -> None:
        self._board().remove(object_id)

    @_locked
    def click(self, object_id: int | None, frame: int, x: float, y: float, label: int) -> dict:
        """Add a click; with no object on the page yet, the first click creates object 1."""
        self._check_frame(frame)
        board = self._board()
        if object_id is None:
            if board.objects:
                raise PromptError("select an object first (or add one)")
            object_id = board.add().id
        board.add_point(object_id, frame, x, y, label)
        return self.preview(object_id, frame)

    @_locked
    def box(self, object_id: int | None, frame: int, box: list[float]) -> dict:
        self._check_frame(frame)
        board = self._board()
        if object_id is None:
            if board.objects:
                raise PromptError("select an object first (or add one)")
            object_id = board.add().id
        if len(box) != 4:
            raise PromptError(f"a box needs 4 numbers x0, y0, x1, y1, got {box!r}")
        board.set_box(object_id, frame, tuple(box))
        return self.preview(object_id, frame)

    @_locked
    def upload_mask(self, object_id: int, frame: int, data: bytes) -> dict:
        """Set a keyframe mask from an uploaded PNG/JPEG (non-zero = object)."""
        self._check_frame(frame)
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise PromptError("the uploaded mask is not an image OpenCV can read (PNG, JPEG)")
        if image.ndim == 3:
            image = image[..., :3].max(axis=2)
        self._board().set_mask(object_id, frame, image > 0, "upload")
        return self.preview(object_id, frame)

    @_locked
    def choose_candidate(self, object_id: int, frame: int, index: int) -> dict:
        """Make candidate ``index`` of the last preview this object's mask on ``frame``."""
        cached = self._previews.get((int(object_id), int(frame)))
        preview = None if cached is None else cached[1]
        if preview is None or not 0 <= index < len(preview.candidates):
            raise PromptError(f"object {object_id}, frame {frame}: no candidate {index} to pick")
        board = self._board()
        keyframe = board.get(object_id).keyframes.get(int(frame))
        if keyframe is None:
            raise PromptError(f"object {object_id} has no keyframe on frame {frame}")
        if index != preview.chosen:
            board.set_mask(object_id, frame, preview.candidates[index].mask, "candidate")
            preview = dataclasses.replace(preview, chosen=index)
            self._previews[(int(object_id), int(frame))] = (keyframe.signature(), preview)
        return self._preview_dict(object_id, frame, preview)

    @_locked
    def clear_keyframe(self, object_id: int, frame: int) -> None:
        self._board().clear_keyframe(object_id, frame)

    @_locked
    def undo(self) -> bool:
        return self._board().undo()

    @_locked
    def preview(self, object_id: int, frame: int, all_candidates: bool = False) -> dict:
        """The object's mask candidates on ``frame`` from its keyframe there (decoded once per
        distinct prompt; a picked candidate keeps the list it was picked from)."""
        self._check_frame(frame)
        key = (int(object_id), int(frame))
        keyframe = self._board().get(object_id).keyframes.get(int(frame))
        if keyframe is None:
            raise PromptError(f"object {object_id} has no prompt on frame {frame}")
        cached = self._previews.get(key)
        signature = keyframe.signature()
        if cached is not None and (
            cached[0] == signature and (len(cached[1].candidates) > 1 or not all_candidates)
        ):
            return self._preview_dict(object_id, frame, cached[1])
        features = self._features().get(int(frame))
        preview = preview_keyframe(
            self.segmenter.runtime, features, keyframe, all_candidates=all_candidates
        )
        self._previews[key] = (signature, preview)
        return self._preview_dict(object_id, frame, preview)

    def _preview_dict(self, object_id: int, frame: int, preview: Preview) -> dict:
        return {
            "object": int(object_id),
            "frame": int(frame),
            "chosen": preview.chosen,
            "candidates": [
                {
                    "score": round(c.score, 4),
                    "area": int(c.mask.sum()),
                    "box": _box_list(c.mask),
                    "mask": c.mask,
                }
                for c in preview.candidates
            ],
            "objects": self._board().describe(),
        }

    # --------------------------------------------------------------------------- tracking

    def start_tracking(self, start: int = 0, end: int | None = None) -> None:
        """Track (or re-track what the prompt changes require) in the background."""
        count = self.frame_count
        end = None if end is None or end >= count else int(end)
        if not 0 <= start < (end if end is not None else count):
            raise FrameIndexError(f"track range [{start}, {end}) is empty or outside the video")
        self.range = (int(start), end)
        self.jobs.start("track", self._track_work)

    def _track_work(self, tick: Tick) -> str:
        board = self._board()
        start, end = self.range
        with self._edits:
            prompts = board.prompt_set()
            wanted = TrackedPrompts.of(board.prompted(), start, end)

        def publish(store: ResultStore, first: int) -> None:
            # The kept frames are exactly what ``wanted`` gives; the rest is on its way.
            self.store, self.tracked = store, wanted
            self.jobs.progress.first = first

        return run_tracking(self.segmenter, self.video_path, prompts, wanted, self.tracked,
                            self.store, publish, tick)  # fmt: skip

    def frame_results(self, index: int) -> dict:
        """Every object's state, box and score on a frame and its label map (None when the
        frame is not tracked): pixel = 1-based position in ``ids``, later objects on top."""
        self._check_frame(index)
        result = None if self.store is None else self.store.frame(index)
        if result is None:
            return {"frame": index, "tracked": False, "ids": [], "objects": [], "labels": None}
        labels = result.label_map()
        objects = [
            {
                "id": object_id,
                "state": obj.state.value,
                "score": round(obj.score, 4),
                "box": None if obj.box is None else [float(v) for v in obj.box],
                "area": int(obj.mask.sum()),
            }
            for object_id, obj in result.objects.items()
        ]
        return {
            "frame": index,
            "tracked": True,
            "ids": list(result.objects),
            "objects": objects,
            "labels": labels,
            "stale": self.results_stale_from(),
        }

    @_locked
    def strips(self) -> dict:
        """Per object, a letter per frame (see :meth:`ResultStore.states`)."""
        count = self.frame_count
        if self.store is None:
            return {"frame_count": count, "objects": {}, "stale_from": None}
        rows = self.store.states(0, count)
        return {
            "frame_count": count,
            "objects": {str(k): v for k, v in rows.items()},
            "stale_from": self.results_stale_from(),
        }

    @_locked
    def results_stale_from(self) -> int | None:
        """The first frame whose results no longer match the prompts (None: all current)."""
        if self.store is None or self.board is None:
            return None
        start, end = self.range
        objects = self.board.prompted()
        if not objects:
            return start
        return first_changed_frame(self.tracked, TrackedPrompts.of(objects, start, end))

    # --------------------------------------------------------------------------- export

    @_locked
    def start_export(self, formats: list[str], folder: str) -> None:
        """Write the tracked results in ``formats`` to ``folder`` (under the root)."""
        out_dir = self.root.resolve(folder, must_exist=False)
        if out_dir == self.root.path:
            raise UserInputError("give an output folder inside the root, not the root itself")
        store = self.store
        start, end = self.range
        stop = end if end is not None else self.frame_count
        if store is None:
            raise StaleResultsError("nothing is tracked yet: press Track first")
        stale = self.results_stale_from()
        if stale is not None or store.done_until() < stop:
            first = stale if stale is not None else store.done_until()
            raise StaleResultsError(
                f"the results from frame {first} do not match the prompts: press Track first"
            )
        request = ExportRequest(
            video_path=self.video_path,
            out_dir=out_dir,
            formats=tuple(formats),
            start=start,
            end=end,
            model_flag=self.model_flag,
            device_flag=self.device_flag,
        )
        writers = self.segmenter.config.writers
        prompts, masks = self._board().prompts_file()

        def work(tick) -> str:
            self.last_export = export_results(
                request, self.root, store, prompts, masks, writers, self.segmenter.config.reader,
                tick,
            )  # fmt: skip
            return f"exported {len(self.last_export['files'])} files"

        self.last_export = None
        self.jobs.start("export", work)

    # --------------------------------------------------------------------------- helpers

    def _video(self) -> VideoSource:
        if self.video is None:
            raise NoVideoError("no video is open: pick one first")
        return self.video

    def _board(self) -> ObjectBoard:
        self._video()
        assert self.board is not None
        return self.board

    def _features(self) -> FeatureCache:
        self._video()
        assert self.features is not None
        return self.features

    def _check_frame(self, index: int) -> None:
        count = self._video().info.frame_count
        limit = count if count is not None else math.inf
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < limit:
            raise FrameIndexError(f"frame {index!r} is outside the video (0..{limit - 1})")


def _box_list(mask: np.ndarray) -> list[float] | None:
    """A mask's tight ``XYXY`` box as plain numbers, None when empty."""
    box = mask_box(mask)
    return None if box is None else [float(v) for v in box]
