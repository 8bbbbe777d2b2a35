"""Device and precision: resolve what the user asked for, set the device up, move frames onto it.

Everything here either succeeds with what was asked for or raises :class:`DeviceError` saying
what is missing and what to use instead; nothing silently falls back to another device.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from segany_video.errors import DeviceError
from segany_video.runtime.settings import RuntimeSettings

log = logging.getLogger(__name__)

#: Largest batch the automatic choice picks: past this, GPUs gain little throughput while
#: the window of frames alive (and the latency to the first result) keeps growing.
MAX_AUTO_BATCH = 16
#: Batch on CPU/MPS when none is given: batching barely speeds up CPU matmuls, and a small
#: batch keeps the first result quick and memory low.
DEFAULT_HOST_BATCH = 2
#: Share of free GPU memory the encoder's activations may take; the rest is left to the
#: decoder, the embeddings waiting in the queue, and allocator fragmentation.
FREE_MEMORY_SHARE = 0.6

_FLOAT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """Turn a device string into an available ``torch.device``.

    Args:
        name: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns:
        The device; ``"cuda"`` becomes ``cuda:<current index>`` so devices compare equal.

    Raises:
        DeviceError: the string is not a device, or the device is absent on this machine.
    """
    if not isinstance(name, str):
        raise DeviceError(f"device must be a string such as 'cpu' or 'cuda:0', got {name!r}")
    text = name.strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise DeviceError(
                "device 'mps' was requested but Apple's Metal backend is not available "
                "(needs macOS 12.3+ on Apple silicon and a torch build with MPS); use 'cpu'"
            )
        return torch.device("mps")
    if text == "cuda" or text.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name!r} was requested but CUDA is not available here (torch "
                f"{torch.__version__}, built with CUDA {torch.version.cuda}); install a CUDA "
                f"build of torch with a working driver, or use device 'cpu' or 'auto'"
            )
        if text == "cuda":
            return torch.device("cuda", torch.cuda.current_device())
        index_text = text.split(":", 1)[1]
        if not index_text.isdigit():
            raise DeviceError(f"device {name!r} is not valid: expected cuda:N with N an integer")
        index = int(index_text)
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceError(
                f"device {name!r} was requested but only {count} CUDA device(s) exist "
                f"(cuda:0 .. cuda:{count - 1})"
            )
        return torch.device("cuda", index)
    raise DeviceError(f"device {name!r} is not valid: use auto, cpu, cuda, cuda:N or mps")


def resolve_dtype(device: torch.device, name: str) -> torch.dtype:
    """The compute dtype for ``device``.

    ``"auto"`` picks bfloat16 on CUDA where the GPU supports it (float16 before Ampere) and
    float32 on CPU and MPS. bfloat16/float16 run as autocast, so weights stay float32.

    Raises:
        DeviceError: the dtype is unknown or this device cannot run it.
    """
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if _cuda_bf16(device) else torch.float16
        return torch.float32
    if name not in _FLOAT_DTYPES:
        raise DeviceError(f"dtype {name!r} is not valid: use auto, float32, bfloat16 or float16")
    dtype = _FLOAT_DTYPES[name]
    if dtype == torch.float32:
        return dtype
    if device.type == "cpu":
        raise DeviceError(
            f"dtype {name} is not supported on the CPU runtime (half-precision CPU matmuls "
            f"are emulated and slower than float32 on most CPUs); use dtype float32, or "
            f"quantize_int8 to speed up the encoder"
        )
    if device.type == "mps" and dtype == torch.bfloat16:
        raise DeviceError("dtype bfloat16 is not supported on 'mps'; use float16 or float32")
    if device.type == "cuda" and dtype == torch.bfloat16 and not _cuda_bf16(device):
        name_gpu = torch.cuda.get_device_name(device)
        raise DeviceError(
            f"dtype bfloat16 is not supported on {device} ({name_gpu}, needs compute "
            f"capability 8.0+); use float16 or float32"
        )
    return dtype


def _cuda_bf16(device: torch.device) -> bool:
    with torch.cuda.device(device):
        return bool(torch.cuda.is_bf16_supported())


def usable_cpu_count() -> int:
    """CPU cores this process may run on (respects affinity masks, unlike ``os.cpu_count``)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class DevicePlan:
    """A resolved device with its precision; the contexts and copies the runtime uses.

    Attributes:
        device: where the model runs.
        dtype: compute dtype; anything but float32 runs under autocast.
    """

    device: torch.device
    dtype: torch.dtype

    @property
    def uses_autocast(self) -> bool:
        return self.dtype != torch.float32

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """``torch.inference_mode`` plus autocast where the dtype asks for it.

        Both are thread-local, so every thread that runs the model enters this itself.
        """
        with torch.inference_mode():
            if self.uses_autocast:
                with torch.autocast(device_type=self.device.type, dtype=self.dtype):
                    yield
            else:
                yield

    def upload(self, frames: np.ndarray) -> torch.Tensor:
        """Copy ``(B, H, W, 3)`` uint8 frames to the device.

        On CUDA the host copy goes through pinned memory and the transfer is asynchronous
        (``non_blocking``): kernels queued after it on the same stream wait for it, while the
        host thread goes on. Elsewhere it is a plain (zero-copy on CPU) conversion.
        """
        host = torch.from_numpy(np.ascontiguousarray(frames))
        if self.is_cuda:
            return host.pin_memory().to(self.device, non_blocking=True)
        return host.to(self.device)


def plan_device(settings: RuntimeSettings) -> DevicePlan:
    """Resolve ``settings.device``/``settings.dtype`` and check they fit together.

    Raises:
        DeviceError: absent device, unsupported dtype, or int8 quantisation off the CPU.
    """
    device = resolve_device(settings.device)
    dtype = resolve_dtype(device, settings.dtype)
    if settings.quantize_int8:
        if device.type != "cpu":
            raise DeviceError(
                f"quantize_int8 runs on the CPU only (torch's dynamic int8 kernels), but the "
                f"device is {device}; drop quantize_int8 or use device 'cpu'"
            )
        dtype = torch.float32
    return DevicePlan(device, dtype)


def configure_device(plan: DevicePlan, num_threads: int | None) -> None:
    """Process-wide setup for ``plan``: TF32 matmuls on CUDA, CPU thread count.

    Args:
        plan: the resolved device.
        num_threads: torch intra-op threads; None keeps torch's choice on GPUs and uses the
            cores this process may run on for CPU work (torch counts all cores of the machine,
            which oversubscribes a container limited to a few).
    """
    if plan.is_cuda:
        # TF32 keeps float32 layers (outside autocast) on tensor cores; SAM's masks do not
        # change measurably at TF32's 10-bit mantissa.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    elif plan.device.type == "cpu":
        torch.set_num_threads(usable_cpu_count())


def choose_batch_size(
    free_bytes: int, bytes_per_frame: int, *, max_batch: int = MAX_AUTO_BATCH
) -> int:
    """The largest batch whose activations fit a share of free device memory.

    Args:
        free_bytes: free device memory now.
        bytes_per_frame: peak extra memory one frame's forward takes (measured).
        max_batch: upper bound.

    Returns:
        A batch size in ``[1, max_batch]``.
    """
    if bytes_per_frame <= 0:
        return max_batch
    fits = int(free_bytes * FREE_MEMORY_SHARE) // bytes_per_frame
    return max(1, min(max_batch, fits))


def measure_frame_bytes(plan: DevicePlan, encode_one: Callable[[], object]) -> int:
    """Peak CUDA memory one call of ``encode_one`` (a one-frame forward) allocates."""
    assert plan.is_cuda, plan.device
    torch.cuda.synchronize(plan.device)
    before = torch.cuda.memory_allocated(plan.device)
    torch.cuda.reset_peak_memory_stats(plan.device)
    result = encode_one()
    torch.cuda.synchronize(plan.device)
    peak = torch.cuda.max_memory_allocated(plan.device)
    del result
    return max(0, peak - before)


def auto_batch_size(plan: DevicePlan, encode_one: Callable[[], object]) -> int:
    """Choose the batch size for ``plan`` when the user gave none.

    On CUDA: probe one frame's peak memory and divide the free memory
    (``torch.cuda.mem_get_info``) by it. Elsewhere: :data:`DEFAULT_HOST_BATCH`.
    """
    if not plan.is_cuda:
        return DEFAULT_HOST_BATCH
    per_frame = measure_frame_bytes(plan, encode_one)
    free, _total = torch.cuda.mem_get_info(plan.device)
    batch = choose_batch_size(free, per_frame)
    log.info(
        "batch size %d chosen on %s: %.0f MiB free, %.0f MiB per frame",
        batch,
        plan.device,
        free / 2**20,
        per_frame / 2**20,
    )
    return batch
