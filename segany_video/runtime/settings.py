"""The runtime's one settings object: device, precision, batching, queues, threads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segany_video.errors import ConfigError
from segany_video.settings_mapping import checked_fields

#: Device strings the runtime understands; availability is checked later, in ``engine.device``.
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class RuntimeSettings:
    """How the encoder runs.

    Attributes:
        device: ``"auto"`` (CUDA, else MPS, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or
            ``"mps"``.
        batch_size: frames per encoder forward; None chooses one (from free GPU memory on
            CUDA, a small fixed batch elsewhere).
        dtype: compute precision of the encoder and decoder: ``"auto"`` (bfloat16 autocast on
            CUDA where supported, else float16; float32 on CPU and MPS), or an explicit one.
        compile: wrap the engine's image encoder in ``torch.compile`` (first batches are slow
            while it compiles; worth it for long GPU jobs).
        quantize_int8: int8 dynamic quantisation of the encoder's Linear layers (CPU only).
        queue_depth: batches each stage may hold ahead of the next (reader -> encoder ->
            consumer); bounds memory to about ``2 * queue_depth + 2`` batches.
        num_threads: torch CPU threads; None uses every core this process may run on.
    """

    device: str = "auto"
    batch_size: int | None = None
    dtype: str = "auto"
    compile: bool = False
    quantize_int8: bool = False
    queue_depth: int = 2
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not DEVICE_PATTERN.match(self.device):
            raise ConfigError(
                f"runtime device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}"
            )
        if self.batch_size is not None and (not _is_int(self.batch_size) or self.batch_size < 1):
            raise ConfigError(
                f"runtime batch_size must be a positive integer or None, got {self.batch_size!r}"
            )
        if self.dtype not in DTYPES:
            raise ConfigError(f"runtime dtype must be one of {DTYPES}, got {self.dtype!r}")
        for name in ("compile", "quantize_int8"):
            if not isinstance(getattr(self, name), bool):
                value = getattr(self, name)
                raise ConfigError(f"runtime {name} must be true or false, got {value!r}")
        if not _is_int(self.queue_depth) or self.queue_depth < 1:
            raise ConfigError(
                f"runtime queue_depth must be a positive integer, got {self.queue_depth!r}"
            )
        if self.num_threads is not None and (not _is_int(self.num_threads) or self.num_threads < 1):
            raise ConfigError(
                f"runtime num_threads must be a positive integer or None, got {self.num_threads!r}"
            )
        if self.quantize_int8 and self.dtype in ("bfloat16", "float16"):
            raise ConfigError(
                f"runtime quantize_int8 runs the encoder in int8/float32; it cannot be combined "
                f"with dtype {self.dtype!r} (use dtype auto or float32)"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RuntimeSettings:
        """Build from a plain mapping (a config file's ``runtime`` section).

        Raises:
            ConfigError: on unknown keys or invalid values.
        """
        return cls(**checked_fields(cls, data, "runtime"))


def _is_int(value: object) -> bool:
    # bool is an int subclass; "batch_size: true" in YAML is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool)
