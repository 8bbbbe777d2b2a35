"""The user's choices for SAM 2 video mode (the model's own flags live in ``Sam2Config``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoSettings:
    """How SAM 2 video mode runs.

    Attributes:
        fill_hole_area: Background regions of the low-res mask up to this many pixels become
            foreground: what Meta's predictor does with its compiled extension (it sets 8).
            0 turns it off, which is what the predictor does on installs without the extension.
        non_overlap: Each pixel goes to the object with the highest logit only (Meta's
            ``non_overlap_masks``; off by default there too).
        corrections_as_conditioning: A later keyframe of a tracked object becomes a
            conditioning frame that every later frame attends to (Meta's
            ``add_all_frames_to_correct_as_cond``); False keeps it as an ordinary recent memory.
    """

    fill_hole_area: int = 8
    non_overlap: bool = False
    corrections_as_conditioning: bool = True

    def __post_init__(self) -> None:
        if self.fill_hole_area < 0:
            raise ValueError(f"fill_hole_area must be >= 0, got {self.fill_hole_area}")
