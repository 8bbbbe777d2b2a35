"""Safe checkpoint reading: plain tensors only, variant detection, strict key and shape checks.

Meta's and MobileSAM's loaders call ``torch.load`` with full unpickling, which runs whatever code
a file names. Here a PyTorch file is read with ``weights_only=True`` (tensors, numbers, strings,
lists and dicts only) and ``.safetensors`` through safetensors; anything that needs more is
refused with :class:`~segany_video.errors.CheckpointError`.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from segany_video.errors import CheckpointError, ModelNotFoundError

#: Checkpoint variants this package can build, keyed as in the model registry.
SAM_VIT_VARIANTS: dict[tuple[int, int], str] = {
    (768, 12): "sam_vit_b",
    (1024, 24): "sam_vit_l",
    (1280, 32): "sam_vit_h",
}
MOBILE_SAM = "mobile_sam"
#: SAM 2 Hiera trunks by (patch-embedding width, block count), as in Meta's configs.
SAM2_HIERA_SIZES: dict[tuple[int, int], str] = {
    (96, 12): "hiera_tiny",
    (96, 16): "hiera_small",
    (112, 24): "hiera_base_plus",
    (144, 48): "hiera_large",
}
#: Keys only SAM 2.1 checkpoints carry (projected pointer distances, spatial no-object embedding).
SAM2_1_KEYS = ("no_obj_embed_spatial", "obj_ptr_tpos_proj.weight")

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # pickle protocol >= 2, how legacy (pre-1.6) torch.save files start
_NESTING_KEYS = ("model", "state_dict")
_LIST_LIMIT = 12


def _short_list(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    more = len(items) - _LIST_LIMIT
    return f"{shown}, ... and {more} more" if more > 0 else shown


def _read_torch(path: Path, zipped: bool) -> object:
    try:
        # mmap keeps a 2.5 GB ViT-H file out of RAM until its tensors are copied into the model.
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipped)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f" (it references {found.group(1)})" if found else ""
        raise CheckpointError(
            f"refusing to load {path}: it needs Python code to be unpickled{what}. "
            "segany-video reads checkpoints with torch.load(weights_only=True), which accepts "
            "tensors and plain containers only; the official SAM/MobileSAM loaders unpickle "
            "arbitrary code, which can run anything on your machine. If you trust the file, "
            "re-save its plain state dict (torch.save(model.state_dict(), 'clean.pth')) or "
            "convert it to .safetensors, then load that."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        if zipped:
            reason = "truncated or corrupt (its zip archive is incomplete)"
        else:
            reason = "truncated or corrupt"
        raise CheckpointError(
            f"cannot read {path} ({path.stat().st_size:,} bytes): the file is {reason}. "
            f"Re-download it (segany-video weights download NAME) or re-save it. Detail: {exc}"
        ) from exc


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except SafetensorError as exc:
        raise CheckpointError(
            f"cannot read {path} ({path.stat().st_size:,} bytes) as safetensors: the file is "
            f"truncated or corrupt ({exc}). Re-download or re-export it."
        ) from exc


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    return len(head) >= 9 and head[8:9] == b"{"


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """The tensor mapping inside a loaded object: top level, or under "model"/"state_dict"."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a state dict (a mapping of parameter "
            "names to tensors)."
        )
    for key in _NESTING_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner:
            obj = inner
            break
    if not obj:
        raise CheckpointError(f"{path} holds an empty state dict: it contains no tensors.")
    not_tensors = [str(k) for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{path} is not a plain state dict: these entries are not tensors: "
            f"{_short_list(not_tensors)}. Expected parameter names mapped to tensors, at the top "
            f"level or under one of {list(_NESTING_KEYS)}."
        )
    state = {str(k): v for k, v in obj.items()}
    # Checkpoints saved from DistributedDataParallel prefix every key with "module.".
    if all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a checkpoint's tensors without running any code from it.

    The format is recognised from the file's first bytes, not its suffix: a PyTorch zip or legacy
    file (read with ``torch.load(..., weights_only=True)``) or safetensors. A state dict nested
    under ``"model"`` or ``"state_dict"`` is unwrapped; a uniform ``"module."`` prefix is removed.

    Args:
        path: checkpoint file.

    Returns:
        Parameter name -> tensor on the CPU (possibly memory-mapped).

    Raises:
        ModelNotFoundError: the file does not exist.
        CheckpointError: empty, truncated, not a checkpoint, not a plain state dict, or needing
            code to be unpickled.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"{path} is empty (0 bytes): an interrupted download or copy? Re-download it."
        )
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(_ZIP_MAGIC):
        obj = _read_torch(path, zipped=True)
    elif _looks_like_safetensors(head):
        obj = _read_safetensors(path)
    elif head.startswith(_PICKLE_MAGIC):
        obj = _read_torch(path, zipped=False)
    else:
        raise CheckpointError(
            f"{path} ({size:,} bytes, starts with {head[:8]!r}) is neither a PyTorch checkpoint "
            "nor a safetensors file."
        )
    return _unwrap(obj, path)


def _block_count(state: Mapping[str, torch.Tensor], prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for k in state if (m := pattern.match(k))}
    return max(found) + 1 if found else 0


def detect_variant(state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> str:
    """Name the model a state dict belongs to, from its keys and shapes.

    SAM ViTs are told apart by the patch-embedding width and the number of encoder blocks
    (vit_b 768/12, vit_l 1024/24, vit_h 1280/32); MobileSAM by its TinyViT keys. SAM 2 Hiera
    trunks by the same two numbers (tiny 96/12, small 96/16, base_plus 112/24, large 144/48),
    and SAM 2.1 from SAM 2 by the keys only 2.1 has (:data:`SAM2_1_KEYS`).

    Args:
        state: parameter name -> tensor, as from :func:`read_state_dict`.
        source: what to call the state dict in error messages (usually its path).

    Returns:
        One of ``"sam_vit_b"``, ``"sam_vit_l"``, ``"sam_vit_h"``, ``"mobile_sam"``,
        ``"sam2_hiera_{tiny,small,base_plus,large}"``, ``"sam2.1_hiera_{...}"``.

    Raises:
        CheckpointError: the keys match no supported model; the message says what they look like.
    """
    if not state:
        raise CheckpointError(f"{source} contains no tensors.")
    if "image_encoder.patch_embed.seq.0.c.weight" in state:
        return MOBILE_SAM
    proj = state.get("image_encoder.patch_embed.proj.weight")
    if proj is not None:
        dim = int(proj.shape[0])
        depth = _block_count(state, "image_encoder.blocks.")
        name = SAM_VIT_VARIANTS.get((dim, depth))
        if name is None:
            known = ", ".join(f"{n[4:]} {d}/{k}" for (d, k), n in SAM_VIT_VARIANTS.items())
            raise CheckpointError(
                f"{source} holds a SAM ViT encoder with embed dim {dim} and depth {depth}, which "
                f"matches no known variant (embed dim/depth: {known})."
            )
        return name
    if any(k.startswith("image_encoder.trunk.") for k in state):
        return _detect_sam2(state, source)
    if any(k.startswith("vision_encoder.") for k in state):
        raise CheckpointError(
            f"{source} looks like a Hugging Face transformers export (its keys start with "
            "'vision_encoder.'); segany-video loads Meta's original checkpoints "
            "(sam_vit_*.pth, sam2_hiera_*.pt, sam2.1_hiera_*.pt; see `segany-video weights list`)."
        )
    if any(k.startswith(("patch_embed.", "blocks.0.", "layers.0.")) for k in state):
        raise CheckpointError(
            f"{source} looks like an image encoder alone (its keys lack the 'image_encoder.' "
            "prefix); a full SAM/MobileSAM checkpoint with prompt encoder and mask decoder is "
            "needed."
        )
    first = sorted(state)[:5]
    raise CheckpointError(
        f"{source} is not a SAM or MobileSAM checkpoint: no 'image_encoder.patch_embed' keys "
        f"(first keys: {', '.join(first)})."
    )


def _detect_sam2(state: Mapping[str, torch.Tensor], source: str) -> str:
    """The SAM 2 / 2.1 variant of a state dict with Hiera trunk keys."""
    proj = state.get("image_encoder.trunk.patch_embed.proj.weight")
    if proj is None:
        raise CheckpointError(
            f"{source} looks like a SAM 2 (Hiera) checkpoint but has no "
            "'image_encoder.trunk.patch_embed.proj.weight'; it is incomplete or not a SAM 2 model."
        )
    dim = int(proj.shape[0])
    depth = _block_count(state, "image_encoder.trunk.blocks.")
    size = SAM2_HIERA_SIZES.get((dim, depth))
    if size is None:
        known = ", ".join(
            f"{n.removeprefix('hiera_')} {d}/{k}" for (d, k), n in SAM2_HIERA_SIZES.items()
        )
        raise CheckpointError(
            f"{source} holds a SAM 2 Hiera trunk with embed dim {dim} and {depth} blocks, which "
            f"matches no known variant (embed dim/blocks: {known})."
        )
    present = [k for k in SAM2_1_KEYS if k in state]
    if len(present) not in (0, len(SAM2_1_KEYS)):
        missing = [k for k in SAM2_1_KEYS if k not in state]
        raise CheckpointError(
            f"{source} mixes SAM 2 and SAM 2.1: it has {present} but not {missing} (a SAM 2.1 "
            "checkpoint has both, a SAM 2 checkpoint neither)."
        )
    return f"sam2.1_{size}" if present else f"sam2_{size}"


def _derived_buffers(model: nn.Module) -> dict[str, torch.Tensor]:
    """Buffers the model computes itself and does not save (``persistent=False``)."""
    saved = set(model.state_dict())
    return {k: v for k, v in model.named_buffers() if k not in saved}


def has_derived_buffers(model: nn.Module) -> bool:
    """Whether ``model`` computes buffers at construction (then it cannot be built on meta)."""
    return bool(_derived_buffers(model))


def load_state_dict_strict(
    model: nn.Module,
    state: Mapping[str, torch.Tensor],
    source: str,
    variant: str,
    *,
    assign: bool = False,
) -> None:
    """Copy ``state`` into ``model`` after checking every key and shape.

    A file that also carries buffers the model derives itself (e.g. TinyViT's
    ``attention_bias_idxs``, which some re-exports save) is accepted when they equal the
    model's own; different values are reported as mismatches.

    Args:
        model: the freshly built model of ``variant``.
        state: parameter name -> tensor.
        source: what to call the state dict in error messages (usually its path).
        variant: the model's name, for messages.
        assign: make the file's tensors the parameters instead of copying them (for a model
            built on the ``meta`` device); floating tensors are cast to the model's dtypes.

    Raises:
        CheckpointError: missing keys, unexpected keys or shape mismatches, each listed.
    """
    expected = model.state_dict()
    derived = _derived_buffers(model) if not assign else {}
    state = dict(state)
    mismatched = []
    for key in sorted(set(state) & set(derived)):
        theirs, ours = state.pop(key), derived[key]
        if theirs.shape != ours.shape or not torch.equal(theirs.to(ours.device), ours):
            mismatched.append(f"{key}: file values differ from the ones this model derives")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched += sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_short_list(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_short_list(unexpected)}")
    if mismatched:
        problems.append(f"{len(mismatched)} mismatches: {_short_list(mismatched)}")
    if problems:
        raise CheckpointError(
            f"{source} does not fit the {variant} model: " + "; ".join(problems) + "."
        )
    if assign:
        state = {
            k: v.to(expected[k].dtype) if v.is_floating_point() else v for k, v in state.items()
        }
    model.load_state_dict(state, strict=True, assign=assign)


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in chunks (checkpoints reach 2.5 GB)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
