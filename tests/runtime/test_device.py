"""Settings validation and device/dtype resolution (CPU always; CUDA paths where a GPU exists)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segany_video.errors import ConfigError, DeviceError
from segany_video.runtime import device as device_mod
from segany_video.runtime.device import (
    DevicePlan,
    choose_batch_size,
    plan_device,
    resolve_device,
    resolve_dtype,
)
from segany_video.runtime.settings import RuntimeSettings

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"device": "cuda:1", "batch_size": 4, "dtype": "bfloat16"},
        {"device": "cpu", "quantize_int8": True, "num_threads": 2, "queue_depth": 1},
        {"device": "mps", "compile": True, "batch_size": None},
    ],
)
def test_settings_accept_valid(data):
    settings = RuntimeSettings.from_dict(data)
    for key, value in data.items():
        assert getattr(settings, key) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"device": "gpu"}, "device must be"),
        ({"device": "cuda:x"}, "device must be"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"dtype": "int8"}, "dtype"),
        ({"compile": "yes"}, "compile"),
        ({"queue_depth": 0}, "queue_depth"),
        ({"num_threads": -1}, "num_threads"),
        ({"quantize_int8": True, "dtype": "float16"}, "quantize_int8"),
        ({"batchsize": 4}, r"unknown runtime setting\(s\) \['batchsize'\]"),
    ],
)
def test_settings_reject_invalid(data, message):
    with pytest.raises(ConfigError, match=message):
        RuntimeSettings.from_dict(data)


@pytest.fixture
def cpu_only(monkeypatch):
    """Pretend this machine has neither CUDA nor MPS, whatever it really has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: False)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("cpu", "cpu"), ("auto", "cpu"), (" CPU ", "cpu")],
)
def test_resolve_on_cpu_only_machine(cpu_only, name, expected):
    assert resolve_device(name) == torch.device(expected)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("cuda", "CUDA is not available"),
        ("cuda:0", "CUDA is not available"),
        ("mps", "Metal backend is not available"),
        ("gpu", "not valid"),
        ("cuda:one", "CUDA is not available"),
        ("", "not valid"),
    ],
)
def test_resolve_absent_or_bad_device(cpu_only, name, message):
    with pytest.raises(DeviceError, match=message):
        resolve_device(name)


def test_resolve_cuda_index_out_of_range(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(DeviceError, match=r"only 2 CUDA device\(s\)"):
        resolve_device("cuda:2")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


def test_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")


@pytest.mark.parametrize(
    ("device", "name", "expected"),
    [
        ("cpu", "auto", torch.float32),
        ("cpu", "float32", torch.float32),
        ("mps", "auto", torch.float32),
        ("mps", "float16", torch.float16),
    ],
)
def test_dtype_table(device, name, expected):
    assert resolve_dtype(torch.device(device), name) == expected


@pytest.mark.parametrize(
    ("device", "name"),
    [("cpu", "float16"), ("cpu", "bfloat16"), ("mps", "bfloat16"), ("cpu", "int4")],
)
def test_dtype_unsupported_on_device(device, name):
    with pytest.raises(DeviceError, match=name):
        resolve_dtype(torch.device(device), name)


def test_quantize_refused_off_cpu(monkeypatch):
    monkeypatch.setattr(device_mod, "_mps_available", lambda: True)
    with pytest.raises(DeviceError, match="quantize_int8 runs on the CPU only"):
        plan_device(RuntimeSettings(device="mps", quantize_int8=True))


@pytest.mark.parametrize(
    ("free", "per_frame", "expected"),
    [
        (10 * 2**30, 2**30, 6),  # 60% of 10 GiB / 1 GiB
        (100 * 2**30, 2**20, 16),  # capped
        (2**20, 2**30, 1),  # never below one
        (2**30, 0, 16),  # nothing measured: cap
    ],
)
def test_choose_batch_size(free, per_frame, expected):
    assert choose_batch_size(free, per_frame) == expected


def test_cpu_plan_upload_and_inference_context():
    plan = plan_device(RuntimeSettings(device="cpu"))
    assert plan == DevicePlan(torch.device("cpu"), torch.float32)
    frames = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)
    tensor = plan.upload(frames)
    assert tensor.dtype == torch.uint8 and tensor.device.type == "cpu"
    np.testing.assert_array_equal(tensor.numpy(), frames)
    with plan.inference():
        assert torch.is_inference_mode_enabled()
        assert not torch.is_autocast_enabled("cpu")


@pytest.mark.gpu
@needs_cuda
def test_cuda_plan_autocast_pinned_upload():
    plan = plan_device(RuntimeSettings(device="cuda"))
    assert plan.device.type == "cuda" and plan.uses_autocast
    assert plan.dtype in (torch.bfloat16, torch.float16)
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    tensor = plan.upload(frames)
    assert tensor.device == plan.device
    np.testing.assert_array_equal(tensor.cpu().numpy(), frames)
    with plan.inference():
        weight = torch.randn(8, 8, device=plan.device)
        assert (weight @ weight).dtype == plan.dtype


@pytest.mark.gpu
@needs_cuda
def test_cuda_auto_batch_size_from_probe():
    plan = plan_device(RuntimeSettings(device="cuda"))

    def encode_one() -> torch.Tensor:
        return torch.empty(64 * 2**20, dtype=torch.uint8, device=plan.device)

    assert device_mod.measure_frame_bytes(plan, encode_one) >= 64 * 2**20
    assert 1 <= device_mod.auto_batch_size(plan, encode_one) <= device_mod.MAX_AUTO_BATCH
