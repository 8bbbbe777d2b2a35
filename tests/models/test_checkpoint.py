"""Checkpoint loading: refusals with clear errors, round trips, variant detection, build_model."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file
from torch import nn

from segany_video.errors import (
    CheckpointError,
    DeviceError,
    DigestMismatchError,
    ModelNotFoundError,
)
from segany_video.models import registry
from segany_video.models.checkpoint import (
    detect_variant,
    load_state_dict_strict,
    read_state_dict,
)
from segany_video.models.registry import MODEL_SPECS, build_model
from segany_video.models.sam.mobile_sam import build_mobile_sam

REPO = Path(__file__).resolve().parents[2]
CALLS: list[str] = []


def _record_call(what: str) -> None:
    CALLS.append(what)


class CodePayload:
    """An object whose unpickling would run code (``_record_call``)."""

    def __reduce__(self):
        return (_record_call, ("unpickled",))


class PlainObject:
    def __init__(self) -> None:
        self.weights = torch.zeros(2)


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch) -> Path:
    """A private weights cache; no digest override from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv(registry.HOME_ENV, str(home))
    monkeypatch.delenv(registry.SKIP_DIGEST_ENV, raising=False)
    return home / "weights"


@pytest.fixture(scope="module")
def mobile_state() -> dict[str, torch.Tensor]:
    """A full MobileSAM state dict in the official layout, random weights."""
    torch.manual_seed(0)
    return build_mobile_sam().state_dict()


@pytest.fixture(scope="module")
def mobile_file(tmp_path_factory, mobile_state) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "my_mobile_sam.pth"
    torch.save(mobile_state, path)
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- variant detection ---------------------------------------------------------------------


def _vit_keys(dim: int, depth: int) -> dict[str, torch.Tensor]:
    state = {"image_encoder.patch_embed.proj.weight": torch.empty(dim, 3, 16, 16, device="meta")}
    for i in range(depth):
        state[f"image_encoder.blocks.{i}.norm1.weight"] = torch.empty(dim, device="meta")
    state["mask_decoder.iou_token.weight"] = torch.empty(1, 256, device="meta")
    return state


def _keys(*names: str) -> dict[str, torch.Tensor]:
    return {n: torch.empty(1, device="meta") for n in names}


@pytest.mark.parametrize(
    ("state", "variant"),
    [
        (_vit_keys(768, 12), "sam_vit_b"),
        (_vit_keys(1024, 24), "sam_vit_l"),
        (_vit_keys(1280, 32), "sam_vit_h"),
        (
            _keys("image_encoder.patch_embed.seq.0.c.weight", "image_encoder.neck.0.weight"),
            "mobile_sam",
        ),
    ],
    ids=["vit_b", "vit_l", "vit_h", "mobile_sam"],
)
def test_variant_is_detected_from_keys_and_shapes(state, variant) -> None:
    assert detect_variant(state) == variant


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (_vit_keys(768, 6), "embed dim 768 and depth 6, which matches no known variant"),
        (_vit_keys(1024, 12), "embed dim 1024 and depth 12"),
        (_keys("image_encoder.trunk.blocks.0.attn.qkv.weight"), "SAM 2"),
        (_keys("patch_embed.proj.weight", "blocks.0.norm1.weight"), "lack the 'image_encoder.'"),
        (_keys("fc.weight", "fc.bias"), "not a SAM or MobileSAM checkpoint"),
        ({}, "contains no tensors"),
    ],
    ids=["vit_depth6", "vit_l_width_b_depth", "sam2", "encoder_only", "other_model", "empty"],
)
def test_unknown_checkpoints_are_named(state, message) -> None:
    with pytest.raises(CheckpointError, match=message):
        detect_variant(state, source="x.pth")


# -- reading: refusals ---------------------------------------------------------------------


def test_pickle_with_code_is_refused_without_running_it(tmp_path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"w": torch.zeros(2), "payload": CodePayload()}, path)
    CALLS.clear()
    with pytest.raises(CheckpointError) as info:
        read_state_dict(path)
    message = str(info.value)
    assert "refusing to load" in message and str(path) in message
    assert "_record_call" in message  # names what it would have run
    assert "official" in message and "arbitrary code" in message
    assert CALLS == []


def test_class_instance_is_refused(tmp_path) -> None:
    path = tmp_path / "object.pt"
    torch.save({"w": torch.zeros(2), "obj": PlainObject()}, path)
    with pytest.raises(CheckpointError, match=r"PlainObject.*weights_only=True"):
        read_state_dict(path)


def test_truncated_zip_is_refused(tmp_path, mobile_file) -> None:
    data = mobile_file.read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"truncated or corrupt.*zip archive is incomplete"):
        read_state_dict(path)


def test_truncated_safetensors_is_refused(tmp_path) -> None:
    path = tmp_path / "cut.safetensors"
    save_file({"a": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="as safetensors: the file is truncated"):
        read_state_dict(path)


def test_empty_file_is_refused(tmp_path) -> None:
    path = tmp_path / "empty.pth"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is empty \(0 bytes\)"):
        read_state_dict(path)


def test_other_file_types_are_refused(tmp_path) -> None:
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights")
    with pytest.raises(CheckpointError, match="neither a PyTorch checkpoint nor a safetensors"):
        read_state_dict(path)


def test_missing_file_is_model_not_found(tmp_path) -> None:
    with pytest.raises(ModelNotFoundError, match="not found"):
        read_state_dict(tmp_path / "nope.pth")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"w": torch.zeros(1), "epoch": 3}, "not tensors: epoch"),
        ({}, "empty state dict"),
        ([torch.zeros(1)], "holds a list, not a state dict"),
    ],
    ids=["mixed", "empty_dict", "list"],
)
def test_non_state_dicts_are_refused(tmp_path, content, message) -> None:
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=message):
        read_state_dict(path)


# -- reading: accepted forms ---------------------------------------------------------------

SMALL_STATE = {"a.weight": torch.arange(6.0).view(2, 3), "a.bias": torch.tensor([1.0, -1.0])}


def _equal_states(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> bool:
    return got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


@pytest.mark.parametrize(
    ("wrap", "save"),
    [
        (lambda s: s, "zip"),
        (lambda s: s, "legacy"),
        (lambda s: s, "safetensors"),
        (lambda s: {"model": s, "epoch": 7}, "zip"),
        (lambda s: {"state_dict": s, "optimizer": {"lr": 0.1}}, "zip"),
        (lambda s: {f"module.{k}": v for k, v in s.items()}, "zip"),
    ],
    ids=["pth", "legacy_pth", "safetensors", "under_model", "under_state_dict", "ddp_prefix"],
)
def test_state_dict_round_trips(tmp_path, wrap, save) -> None:
    path = tmp_path / ("w.safetensors" if save == "safetensors" else "w.pth")
    if save == "safetensors":
        save_file(wrap(SMALL_STATE), path)
    else:
        torch.save(wrap(SMALL_STATE), path, _use_new_zipfile_serialization=save == "zip")
    assert _equal_states(read_state_dict(path), SMALL_STATE)


def test_format_is_recognised_from_content_not_suffix(tmp_path) -> None:
    path = tmp_path / "weights.bin"
    save_file(SMALL_STATE, path)
    assert _equal_states(read_state_dict(path), SMALL_STATE)


# -- strict loading ------------------------------------------------------------------------


def test_strict_load_lists_missing_unexpected_and_mismatched() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    state = dict(model.state_dict())
    del state["1.bias"]
    state["2.weight"] = torch.zeros(1)
    state["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_strict(model, state, source="f.pth", variant="toy")
    message = str(info.value)
    assert "f.pth does not fit the toy model" in message
    assert "1 missing keys: 1.bias" in message
    assert "1 unexpected keys: 2.weight" in message
    assert "0.weight: file (5, 3) vs model (2, 3)" in message


def test_saved_derived_buffers_are_checked_not_required(mobile_state) -> None:
    model = build_mobile_sam()
    key = "image_encoder.layers.1.blocks.0.attn.attention_bias_idxs"
    idxs = dict(model.named_buffers())[key]
    state = {**mobile_state, key: idxs.clone()}
    load_state_dict_strict(model, state, source="f.pt", variant="mobile_sam")
    state[key] = idxs.flip(0)
    with pytest.raises(CheckpointError, match="attention_bias_idxs: file values differ"):
        load_state_dict_strict(model, state, source="f.pt", variant="mobile_sam")


# -- build_model ---------------------------------------------------------------------------


def test_build_model_loads_mobile_sam_strictly(mobile_file, mobile_state) -> None:
    model = build_model(mobile_file)
    assert model.info.name == "mobile_sam"
    assert model.info.weights == str(mobile_file)
    assert "MobileSAM" in model.info.description
    assert not model.training
    assert _equal_states(model.state_dict(), mobile_state)


def test_build_model_loads_full_vit_b_from_half_precision_safetensors(tmp_path) -> None:
    from segany_video.models.sam.variants import build_sam_vit

    torch.manual_seed(1)
    # A float16 export: the model must still come out float32 (the runtime picks the dtype).
    state = {k: v.half() for k, v in build_sam_vit("vit_b").state_dict().items()}
    path = tmp_path / "vit_b_export.safetensors"
    save_file(state, path)
    model = build_model(path)
    assert model.info.name == "sam_vit_b"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert _equal_states(model.state_dict(), {k: v.float() for k, v in state.items()})


def test_build_model_refuses_a_mismatching_checkpoint(tmp_path, mobile_state) -> None:
    state = dict(mobile_state)
    del state["mask_decoder.iou_token.weight"]
    state["image_encoder.extra.weight"] = torch.zeros(1)
    state["image_encoder.neck.0.weight"] = torch.zeros(256, 160, 1, 1)
    path = tmp_path / "edited.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError) as info:
        build_model(path)
    message = str(info.value)
    assert "does not fit the mobile_sam model" in message
    assert "missing keys: mask_decoder.iou_token.weight" in message
    assert "unexpected keys: image_encoder.extra.weight" in message
    assert "image_encoder.neck.0.weight: file (256, 160, 1, 1) vs model (256, 320, 1, 1)" in message


def test_official_file_name_with_wrong_digest_is_refused(
    tmp_path, mobile_file, monkeypatch
) -> None:
    path = tmp_path / "mobile_sam.pt"
    path.write_bytes(mobile_file.read_bytes())
    with pytest.raises(DigestMismatchError) as info:
        build_model(path)
    message = str(info.value)
    assert MODEL_SPECS["mobile_sam"].sha256 in message
    assert _sha256(path) in message
    assert "SEGANY_VIDEO_SKIP_DIGEST=1" in message and "verify=False" in message
    assert build_model(path, verify=False).info.name == "mobile_sam"
    monkeypatch.setenv(registry.SKIP_DIGEST_ENV, "1")
    assert build_model(path).info.name == "mobile_sam"


def test_file_named_for_another_variant_is_refused(tmp_path, mobile_file) -> None:
    path = tmp_path / "sam_vit_b_01ec64.pth"
    path.write_bytes(mobile_file.read_bytes())
    with pytest.raises(
        CheckpointError, match="named like the sam_vit_b weights but holds a mobile_sam"
    ):
        build_model(path, verify=False)


def test_registry_name_needs_a_download(isolated_cache) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        build_model("sam_vit_b")
    message = str(info.value)
    assert "segany-video weights download sam_vit_b" in message
    assert str(isolated_cache / "sam_vit_b_01ec64.pth") in message


def test_registry_name_loads_the_cached_file(isolated_cache, mobile_file, monkeypatch) -> None:
    cached = isolated_cache / "mobile_sam.pt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(mobile_file.read_bytes())
    with pytest.raises(DigestMismatchError):
        build_model("mobile_sam")
    official = dataclasses.replace(
        MODEL_SPECS["mobile_sam"], sha256=_sha256(cached), size_bytes=cached.stat().st_size
    )
    monkeypatch.setitem(MODEL_SPECS, "mobile_sam", official)
    model = build_model("mobile_sam")
    assert model.info.name == "mobile_sam" and model.info.weights == str(cached)


def test_digest_is_remembered_until_the_file_changes(isolated_cache, tmp_path, monkeypatch) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    calls = []
    real = registry.file_sha256
    monkeypatch.setattr(registry, "file_sha256", lambda p: calls.append(p) or real(p))
    want = hashlib.sha256(b"abc").hexdigest()
    assert registry.cached_sha256(path) == want
    assert registry.cached_sha256(path) == want
    assert len(calls) == 1
    path.write_bytes(b"abcd")
    assert registry.cached_sha256(path) == hashlib.sha256(b"abcd").hexdigest()
    assert len(calls) == 2


def test_default_model_is_classic() -> None:
    engine = build_model()
    assert engine.info.name == "classic" and engine.info.weights is None


@pytest.mark.parametrize(
    ("name", "error", "message"),
    [
        ("sam_vit_z", ModelNotFoundError, "neither a model name"),
        ("/no/such/file.pth", ModelNotFoundError, "nor an existing checkpoint file"),
    ],
)
def test_bad_model_arguments(name, error, message) -> None:
    with pytest.raises(error, match=message):
        build_model(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_refused() -> None:
    with pytest.raises(DeviceError, match="no CUDA device"):
        build_model("classic", device="cuda")


def test_models_yaml_mirrors_the_registry() -> None:
    listed = yaml.safe_load((REPO / "configs" / "models.yaml").read_text())["models"]
    assert list(listed) == list(MODEL_SPECS)
    for name, spec in MODEL_SPECS.items():
        entry = listed[name]
        assert entry["description"] == spec.description
        assert entry.get("file") == spec.file_name
        assert entry.get("url") == spec.url
        assert entry.get("size_bytes") == spec.size_bytes
        assert entry.get("sha256") == spec.sha256
        assert entry.get("sha256_source") == (spec.sha256_source if spec.sha256 else None)


def test_registry_holds_the_official_files() -> None:
    # The figures, written out independently of the table.
    official = {
        "sam_vit_h": ("sam_vit_h_4b8939.pth", 2_564_550_879, "a7bf3b02f3eb"),
        "sam_vit_l": ("sam_vit_l_0b3195.pth", 1_249_524_607, "3adcc4315b64"),
        "sam_vit_b": ("sam_vit_b_01ec64.pth", 375_042_383, "ec2df6273261"),
        "mobile_sam": ("mobile_sam.pt", 40_728_226, "6dbb90523a35"),
    }
    for name, (file_name, size, digest_start) in official.items():
        spec = MODEL_SPECS[name]
        assert (spec.file_name, spec.size_bytes) == (file_name, size)
        assert spec.sha256.startswith(digest_start) and len(spec.sha256) == 64
        assert spec.url.endswith("/" + file_name)
