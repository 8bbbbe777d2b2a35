"""The classic engine: promptable segmentation without learned weights (the default engine)."""

from __future__ import annotations

from segany_video.models.classic.engine import ClassicEngine, build_classic
from segany_video.models.classic.features import ClassicFeatures
from segany_video.models.classic.settings import ClassicSettings

__all__ = ["ClassicEngine", "ClassicFeatures", "ClassicSettings", "build_classic"]
