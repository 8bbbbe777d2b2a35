"""Convolution + GELU and Linear (+ GELU) as one oneDNN kernel each, for CPU inference.

TinyViT applies an exact (erf) GELU after most of its convolutions and after the first Linear of
every MLP. Run separately, the GELU is one more pass over the largest activations of the
network: in stage 0 (``(B, 256, 256, 256)`` per MBConv) it cost about as much as the
convolution before it on a 2-core CPU. oneDNN applies the same erf GELU as a post-op while the
convolution or matmul output is still in cache, and its Linear adds the bias inside the matmul
where torch's ``addmm`` first copies the bias into every output row. These are the kernels
``torch.compile``'s CPU backend emits for the same patterns
(``torch.ops.mkldnn._convolution_pointwise`` / ``_linear_pointwise``); calling them directly
gives the gain without compiling. Besides TinyViT, SAM's shared MLP block (the ViT encoders'
GELU MLPs) and the mask decoder's attention projections use them.

They are used only where they compute the same function as the unfused ops: float32 tensors on
the CPU, gradients off, no autocast, and an oneDNN-enabled torch. Everywhere else (CUDA, MPS,
bf16/fp16 autocast, training, int8-quantised Linear layers) the plain ``F.gelu(F.conv2d(...))``
runs, so results do not depend on which path was taken beyond float rounding (the model tests
compare the fused path against Meta's code at the usual 1e-4 tolerance, and against the unfused
ops directly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _mkldnn_op(name: str) -> object | None:
    try:
        return getattr(torch.ops.mkldnn, name)
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return None


_CONV_POINTWISE = _mkldnn_op("_convolution_pointwise")
_LINEAR_POINTWISE = _mkldnn_op("_linear_pointwise")


def can_fuse(x: torch.Tensor) -> bool:
    """Whether the fused oneDNN kernels compute exactly what the unfused pair does on ``x``."""
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


def conv2d_gelu(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    conv: nn.Conv2d,
) -> torch.Tensor:
    """``gelu(conv2d(x, weight, bias))`` with ``conv``'s stride, padding, dilation and groups.

    Args:
        x: ``(B, C, H, W)`` input (channels-last memory keeps the output channels-last).
        weight: ``(C', C / groups, k, k)`` kernel (may differ from ``conv.weight``, e.g. with
            a BatchNorm folded in).
        bias: ``(C',)`` or None.
        conv: where the geometry comes from.

    Returns:
        ``(B, C', H', W')`` activations.
    """
    if _CONV_POINTWISE is not None and isinstance(conv.padding, tuple) and can_fuse(x):
        return _CONV_POINTWISE(  # type: ignore[operator]
            x,
            weight,
            bias,
            list(conv.padding),
            list(conv.stride),
            list(conv.dilation),
            conv.groups,
            "gelu",
            [],
            "none",  # the erf GELU, as F.gelu's default
        )
    return F.gelu(F.conv2d(x, weight, bias, conv.stride, conv.padding, conv.dilation, conv.groups))


def _fusable_linear(x: torch.Tensor, module: nn.Module) -> bool:
    """A plain float32 :class:`torch.nn.Linear` applied where :func:`can_fuse` allows."""
    return (
        _LINEAR_POINTWISE is not None
        and type(module) is nn.Linear
        and module.weight.dtype == torch.float32
        and can_fuse(x)
    )


def linear_gelu(x: torch.Tensor, linear: nn.Module) -> torch.Tensor:
    """``gelu(linear(x))`` for ``(..., C_in) -> (..., C_out)``.

    Fused only for a plain :class:`torch.nn.Linear`; any other module (an int8 dynamic
    quantised Linear, say) runs as itself followed by :func:`torch.nn.functional.gelu`.
    """
    if _fusable_linear(x, linear):
        return _LINEAR_POINTWISE(x, linear.weight, linear.bias, "gelu", [], "none")  # type: ignore[operator]
    return F.gelu(linear(x))


def linear_relu(x: torch.Tensor, linear: nn.Module) -> torch.Tensor:
    """``relu(linear(x))`` for ``(..., C_in) -> (..., C_out)``, fused like :func:`linear_gelu`
    (SAM 2's memory-attention MLP)."""
    if _fusable_linear(x, linear):
        return _LINEAR_POINTWISE(x, linear.weight, linear.bias, "relu", [], "")  # type: ignore[operator]
    return F.relu(linear(x))


def linear(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    """``module(x)`` for ``(..., C_in) -> (..., C_out)``, through oneDNN for a plain
    :class:`torch.nn.Linear` where :func:`can_fuse` allows (see the module docstring)."""
    if _fusable_linear(x, module):
        return _LINEAR_POINTWISE(x, module.weight, module.bias, "none", [], "")  # type: ignore[operator]
    return module(x)
