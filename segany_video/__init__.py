"""segany-video: segment and track objects through video with Segment Anything-family models.

Public API: :class:`VideoSegmenter`, :func:`open_video`, :func:`build_model` and the errors in
:mod:`segany_video.errors`. Attributes load on first use so ``import segany_video`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from segany_video import errors

__version__ = "0.1.0"

_LAZY = {
    "VideoSegmenter": "segany_video.segmenter",
    "open_video": "segany_video.readers.reader",
    "build_model": "segany_video.models.registry",
}

if TYPE_CHECKING:
    from segany_video.models.registry import build_model
    from segany_video.readers.reader import open_video
    from segany_video.segmenter import VideoSegmenter

__all__ = ["VideoSegmenter", "__version__", "build_model", "errors", "open_video"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'segany_video' has no attribute {name!r}")
