"""Meta's SAM 2 models and image predictor built for comparisons with ours (test-only).

``sam2`` is installed with ``--no-deps``. Its image predictor imports torchvision's
``Normalize``, ``Resize`` and ``ToTensor`` (torchvision is not installed and must never be);
while importing, a stand-in ``torchvision`` with small implementations of those three is put in
``sys.modules`` and taken out afterwards. They follow torchvision's documented tensor semantics:
``ToTensor`` maps ``(H, W, 3)`` uint8 to ``(3, H, W)`` float in ``[0, 1]``; ``Resize`` on a tensor
is bilinear, ``align_corners=False``, antialiased (torchvision's default since 0.17);
``Normalize`` subtracts the mean and divides by the standard deviation per channel.

Meta's models are built from its own YAML configs through its Hydra builder; reduced test sizes
are applied as Hydra overrides, so the architecture is assembled by Meta's code, not ours.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from oracle import import_sam2
from torch import nn

from segany_video.models.sam2.variants import Sam2Config

#: Meta's YAML for each official variant.
META_YAML = {
    **{
        f"sam2_hiera_{size}": f"configs/sam2/sam2_hiera_{short}.yaml"
        for size, short in (("tiny", "t"), ("small", "s"), ("base_plus", "b+"), ("large", "l"))
    },
    **{
        f"sam2.1_hiera_{size}": f"configs/sam2.1/sam2.1_hiera_{short}.yaml"
        for size, short in (("tiny", "t"), ("small", "s"), ("base_plus", "b+"), ("large", "l"))
    },
}


class ToTensor:
    def __call__(self, image: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0


class Resize(nn.Module):
    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.size = [int(size[0]), int(size[1])]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.interpolate(
            x.unsqueeze(0), size=self.size, mode="bilinear", align_corners=False, antialias=True
        )
        return out.squeeze(0)


class Normalize(nn.Module):
    def __init__(self, mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.mean = torch.tensor(mean).view(-1, 1, 1)
        self.std = torch.tensor(std).view(-1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


@contextlib.contextmanager
def torchvision_stand_in() -> Iterator[None]:
    """``torchvision.transforms`` with the three classes above, while importing ``sam2``."""
    if importlib.util.find_spec("torchvision") is not None:
        yield  # the real package is installed: use it
        return
    root = types.ModuleType("torchvision")
    transforms = types.ModuleType("torchvision.transforms")
    transforms.Normalize, transforms.Resize, transforms.ToTensor = Normalize, Resize, ToTensor
    root.transforms = transforms
    added = {"torchvision": root, "torchvision.transforms": transforms}
    sys.modules.update(added)
    try:
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def import_meta() -> types.SimpleNamespace:
    """Meta's builder, image predictor and base model (skips the test when ``sam2`` is absent)."""
    build = import_sam2("sam2.build_sam")
    with torchvision_stand_in():
        return types.SimpleNamespace(
            build=build,
            image_predictor=importlib.import_module("sam2.sam2_image_predictor"),
            base=importlib.import_module("sam2.modeling.sam2_base"),
        )


def reduced_overrides(config: Sam2Config) -> list[str]:
    """Hydra overrides turning Meta's YAML model into ``config``'s reduced sizes."""
    t, c, mem = config.trunk, config.hidden_dim, config.mem_dim
    grid = config.feature_size
    channels = list(t.stage_dims[::-1])
    m = "++model"
    mem_layer = f"{m}.memory_attention.layer"
    return [
        f"{m}.image_size={config.image_size}",
        f"{m}.image_encoder.trunk.embed_dim={t.embed_dim}",
        f"{m}.image_encoder.trunk.num_heads={t.num_heads}",
        f"{m}.image_encoder.trunk.stages={list(t.stages)}",
        f"{m}.image_encoder.trunk.global_att_blocks={list(t.global_att_blocks)}",
        f"{m}.image_encoder.trunk.window_spec={list(t.window_spec)}",
        f"{m}.image_encoder.trunk.window_pos_embed_bkg_spatial_size="
        f"{list(t.window_pos_embed_bkg_spatial_size)}",
        f"{m}.image_encoder.neck.d_model={c}",
        f"{m}.image_encoder.neck.backbone_channel_list={channels}",
        f"{m}.image_encoder.neck.position_encoding.num_pos_feats={c}",
        f"{m}.memory_attention.d_model={c}",
        f"{m}.memory_attention.num_layers={config.memory_attention_layers}",
        f"{mem_layer}.d_model={c}",
        f"{mem_layer}.dim_feedforward={config.memory_attention_ffn}",
        f"{mem_layer}.self_attention.embedding_dim={c}",
        f"{mem_layer}.self_attention.feat_sizes={[grid, grid]}",
        f"{mem_layer}.cross_attention.embedding_dim={c}",
        f"{mem_layer}.cross_attention.kv_in_dim={mem}",
        f"{mem_layer}.cross_attention.feat_sizes={[grid, grid]}",
        f"{m}.memory_encoder.out_dim={mem}",
        f"{m}.memory_encoder.in_dim={c}",
        f"{m}.memory_encoder.position_encoding.num_pos_feats={mem}",
        f"{m}.memory_encoder.mask_downsampler.embed_dim={c}",
        f"{m}.memory_encoder.fuser.layer.dim={c}",
    ]


def build_meta_sam2(
    oracle: types.SimpleNamespace,
    config: Sam2Config,
    *,
    base_variant: str,
    reduced: bool,
    predictor: str = "image",
    device: str = "cpu",
) -> nn.Module:
    """Meta's model for ``config`` built by Meta's ``build_sam2`` (image) or video builder.

    Args:
        oracle: From :func:`import_meta`.
        config: Our config (only its sizes are used, as overrides, when ``reduced``).
        base_variant: Official variant whose YAML is the starting point.
        reduced: Apply :func:`reduced_overrides`.
        predictor: ``"image"`` (``build_sam2``) or ``"video"`` (``build_sam2_video_predictor``).
        device: ``"meta"`` inside :func:`on_meta_device` for shapes only.
    """
    overrides = reduced_overrides(config) if reduced else []
    yaml = META_YAML[base_variant]
    if predictor == "video":
        model = oracle.build.build_sam2_video_predictor(
            yaml, None, device=device, hydra_overrides_extra=overrides
        )
    else:
        model = oracle.build.build_sam2(yaml, None, device=device, hydra_overrides_extra=overrides)
    return model.eval()


def random_state_dict(
    template: nn.Module | Mapping[str, torch.Tensor], seed: int
) -> dict[str, torch.Tensor]:
    """A random CPU value for every entry of a state dict (or a model's), scaled like weights.

    Only names, shapes and dtypes of ``template`` are read, so meta tensors serve too.

    Weights get ``N(0, 1/fan_in)``-like spread, biases and embeddings ``N(0, 0.1)``-ish, layer
    norms weights around 1, so activations stay in a sane range through deep stacks.
    """
    gen = torch.Generator().manual_seed(seed)
    out = {}
    state = template.state_dict() if isinstance(template, nn.Module) else template
    for name, value in state.items():
        if not value.is_floating_point():
            out[name] = torch.zeros(value.shape, dtype=value.dtype)
            continue
        noise = torch.randn(value.shape, generator=gen)
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name and leaf == "weight":
            out[name] = 1.0 + 0.1 * noise
        elif leaf == "weight" and value.ndim >= 2:
            fan_in = value[0].numel()
            out[name] = noise / fan_in**0.5
        elif leaf == "gamma":
            out[name] = 0.5 + 0.1 * noise
        else:
            out[name] = 0.1 * noise
    return out


@contextlib.contextmanager
def on_meta_device() -> Iterator[None]:
    """Build modules on the ``meta`` device (shapes only, no memory).

    Meta's Hiera reads its drop-path rates with ``.item()`` from a ``torch.linspace``, which a
    meta tensor cannot answer; that one call is sent to the CPU.
    """
    real_linspace = torch.linspace

    def cpu_linspace(*args: object, **kwargs: object) -> torch.Tensor:
        kwargs["device"] = "cpu"
        return real_linspace(*args, **kwargs)

    torch.linspace = cpu_linspace
    try:
        with torch.device("meta"):
            yield
    finally:
        torch.linspace = real_linspace
