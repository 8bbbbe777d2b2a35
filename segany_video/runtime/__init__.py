"""Batched, streaming runtime: device and precision, threads and bounded queues."""

from __future__ import annotations

from segany_video.runtime.encoded import EncodedFrame, encode_sequentially
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings

__all__ = ["EncodedFrame", "Runtime", "RuntimeSettings", "encode_sequentially"]
