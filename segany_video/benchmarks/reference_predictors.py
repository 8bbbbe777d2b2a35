"""Meta's ``segment_anything`` and MobileSAM's ``mobile_sam`` predictors, for benchmarks only.

Both packages import torchvision (PIL resizing, NMS) and MobileSAM's TinyViT imports timm;
neither is a dependency of segany-video, and torchvision must never be installed next to a CPU
torch here (it drags a CUDA build). While importing, this module puts small stand-ins for the
few names they use into ``sys.modules`` and removes them afterwards:

- ``torchvision.transforms.functional.to_pil_image`` / ``resize``: the predictor's
  ``ResizeLongestSide.apply_image`` does ``np.array(resize(to_pil_image(image), (h, w)))``;
  the stand-in keeps the array and resizes it with OpenCV's bilinear filter (PIL's bilinear
  filter also antialiases when shrinking, so pixels differ slightly; the cost is comparable).
- ``torchvision.ops.boxes.batched_nms`` / ``box_area``: used only by the automatic mask
  generator, which the benchmarks never run; the stand-ins raise if called.
- ``timm.models.layers.DropPath`` / ``to_2tuple`` / ``trunc_normal_`` and
  ``timm.models.registry.register_model``: what ``mobile_sam``'s TinyViT needs to be built.

Where the real packages are installed they are used instead. Nothing in the library imports
this module.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator, Mapping

import cv2
import numpy as np
import torch
from torch import nn


def _keep_array(image: np.ndarray) -> np.ndarray:
    return np.asarray(image)


def _resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    return cv2.resize(np.asarray(image), (int(width), int(height)), interpolation=cv2.INTER_LINEAR)


def _refuse(name: str) -> Callable[..., object]:
    def call(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"{name} is a benchmark stand-in and cannot run (install the real one)")

    return call


class _DropPath(nn.Module):
    """Stochastic depth (identity at inference, which is all the benchmarks run)."""

    def __init__(self, drop_prob: float | None = None) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob or 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.0:
            return x
        keep = 1.0 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * x.new_empty(shape).bernoulli_(keep) / keep


def _to_2tuple(value: object) -> tuple[object, object]:
    if isinstance(value, (tuple, list)):
        return tuple(value)  # type: ignore[return-value]
    return (value, value)


def _trunc_normal(tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a=-2.0, b=2.0):
    return nn.init.trunc_normal_(tensor, mean=mean, std=std, a=a, b=b)


TORCHVISION_STAND_IN: Mapping[str, Mapping[str, object]] = {
    "torchvision.transforms.functional": {
        "to_pil_image": _keep_array,
        "resize": _resize_bilinear,
    },
    "torchvision.ops.boxes": {
        "batched_nms": _refuse("torchvision.ops.boxes.batched_nms"),
        "box_area": _refuse("torchvision.ops.boxes.box_area"),
    },
}

TIMM_STAND_IN: Mapping[str, Mapping[str, object]] = {
    "timm.models.layers": {
        "DropPath": _DropPath,
        "to_2tuple": _to_2tuple,
        "trunc_normal_": _trunc_normal,
    },
    "timm.models.registry": {"register_model": lambda fn: fn},
}


@contextlib.contextmanager
def stand_ins(modules: Mapping[str, Mapping[str, object]]) -> Iterator[None]:
    """Register stand-in modules (with parents) while importing; real packages win."""
    added: list[str] = []
    for dotted, attrs in modules.items():
        root = dotted.split(".")[0]
        if root not in sys.modules and importlib.util.find_spec(root) is not None:
            continue  # the real package is installed
        parts = dotted.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name not in sys.modules:
                sys.modules[name] = types.ModuleType(name)
                added.append(name)
                if depth > 1:
                    parent = sys.modules[".".join(parts[: depth - 1])]
                    setattr(parent, parts[depth - 1], sys.modules[name])
        if dotted in added:
            for attr, value in attrs.items():
                setattr(sys.modules[dotted], attr, value)
    try:
        yield
    finally:
        for name in reversed(added):
            sys.modules.pop(name, None)


def import_segment_anything() -> types.ModuleType:
    """Meta's ``segment_anything`` (``sam_model_registry``, ``SamPredictor``)."""
    with stand_ins(TORCHVISION_STAND_IN):
        return importlib.import_module("segment_anything")


def import_mobile_sam() -> types.ModuleType:
    """MobileSAM's ``mobile_sam`` (``sam_model_registry["vit_t"]``, ``SamPredictor``)."""
    with stand_ins({**TORCHVISION_STAND_IN, **TIMM_STAND_IN}):
        return importlib.import_module("mobile_sam")


def reference_model(kind: str, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """The reference implementation of ``kind`` with the given weights (strict load).

    Args:
        kind: ``"sam_vit_b"``, ``"sam_vit_l"``, ``"sam_vit_h"`` or ``"mobile_sam"``.
        state: a state dict in the official key layout (our engines use it).
    """
    if kind == "mobile_sam":
        model = import_mobile_sam().sam_model_registry["vit_t"]()
    else:
        model = import_segment_anything().sam_model_registry[kind.removeprefix("sam_")]()
    model.load_state_dict(dict(state), strict=True)
    return model.eval()


def reference_predictor(kind: str, model: nn.Module) -> object:
    """The package's ``SamPredictor`` wrapped around ``model``."""
    package = import_mobile_sam() if kind == "mobile_sam" else import_segment_anything()
    return package.SamPredictor(model)
