"""Batched, streaming runtime: device and precision, threads and bounded queues."""

from __future__ import annotations

from segany_video.engine.encoded import EncodedFrame, encode_sequentially
from segany_video.engine.runtime import Runtime
from segany_video.engine.settings import RuntimeSettings

__all__ = ["EncodedFrame", "Runtime", "RuntimeSettings", "encode_sequentially"]
