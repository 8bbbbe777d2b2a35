"""Which tracker drives an engine: SAM 2 video mode (memory) or the per-frame tracker."""

from __future__ import annotations

from segany_video.errors import ConfigError
from segany_video.models.base import PromptableSegmenter
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.model import Sam2Model
from segany_video.models.sam2.video_settings import VideoSettings
from segany_video.tracking.memory_tracker import MemoryTracker
from segany_video.tracking.prompts import ResolvedPrompts
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker


def tracking_mode(model: PromptableSegmenter, settings: TrackerSettings) -> str:
    """``"video"`` or ``"image"`` for this engine and settings.

    Raises:
        ConfigError: video mode asked for an engine without a memory (not SAM 2).
    """
    is_sam2 = isinstance(model, Sam2Model)
    if settings.mode == "auto":
        return "video" if is_sam2 else "image"
    if settings.mode == "video" and not is_sam2:
        raise ConfigError(
            f"tracker mode 'video' needs SAM 2 weights; engine {model.info.name} has no "
            "video memory (use mode 'image' or 'auto')"
        )
    return settings.mode


def video_settings(settings: TrackerSettings) -> VideoSettings:
    """The SAM 2 video-mode part of the tracker settings."""
    return VideoSettings(
        fill_hole_area=settings.fill_hole_area,
        non_overlap=settings.non_overlap,
        corrections_as_conditioning=settings.corrections_as_conditioning,
    )


def make_tracker(
    model: PromptableSegmenter,
    prompts: ResolvedPrompts,
    settings: TrackerSettings | None = None,
    num_frames: int | None = None,
) -> Tracker | MemoryTracker:
    """The tracker for ``model``: :class:`MemoryTracker` in video mode, else :class:`Tracker`.

    A SAM 2 engine's frame resizing follows the mode, so the runtime's ``embed`` prepares frames
    as the matching Meta predictor does: Pillow's bicubic filter in video mode (the video
    predictor's JPEG loader), antialiased bilinear in image mode (``SAM2ImagePredictor``).
    Call it before streaming frames.

    Args:
        num_frames: The video's frame count when known (used by video mode).
    """
    settings = settings or TrackerSettings()
    mode = tracking_mode(model, settings)
    if isinstance(model, Sam2ImageSegmenter):
        model.frame_resize = "pil_bicubic" if mode == "video" else "bilinear"
    if mode == "video":
        assert isinstance(model, Sam2Model)
        return MemoryTracker(model, prompts, video_settings(settings), num_frames)
    return Tracker(model, prompts, settings)
