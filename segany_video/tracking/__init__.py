"""Tracking: keyframe prompts seed tracks, motion propagates them, Hungarian matching keeps ids."""

from __future__ import annotations

from segany_video.tracking.prompts import (
    KeyframeSpec,
    ObjectSpec,
    PromptSet,
    ResolvedKeyframe,
    ResolvedObject,
    ResolvedPrompts,
)
from segany_video.tracking.settings import TrackerSettings
from segany_video.tracking.tracker import Tracker

__all__ = [
    "KeyframeSpec",
    "ObjectSpec",
    "PromptSet",
    "ResolvedKeyframe",
    "ResolvedObject",
    "ResolvedPrompts",
    "Tracker",
    "TrackerSettings",
]
