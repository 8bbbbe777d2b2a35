"""Frame resizing bit for bit as Pillow's bicubic ``Image.resize`` does it, in torch.

Meta's video predictor reads a JPEG folder (its documented input, and how SAM 2's published
video results were computed) and resizes every frame to the square model input with
``PIL.Image.resize(..., BICUBIC)``, keeping uint8. To feed the model exactly those pixels
without Pillow, this module reproduces Pillow's 8-bit resampling: a separable two-pass filter
(horizontal first), the bicubic kernel with ``a = -0.5`` stretched by the scale when shrinking
(antialiasing), coefficients normalised per output pixel and rounded to 22-bit fixed point,
integer accumulation with a rounding offset, and clipping to ``0..255`` after each pass.

The coefficients are computed in float64 in the same order of operations as Pillow's C code, so
they round to the same integers; the accumulation is exact integer arithmetic. The order of the
two passes follows Pillow 13 (checked against its source and output): older releases always run
the horizontal pass first, which differs by a grey level on some pixels of frames whose height
shrinks much more than their width (portrait video); landscape frames resize alike in both.
"""

from __future__ import annotations

import math

import numpy as np
import torch

_PRECISION_BITS = 32 - 8 - 2  # Pillow's fixed point: 8 result bits, 2 guard bits
_SUPPORT = 2.0  # the bicubic kernel's half-width at scale 1
_A = -0.5  # Pillow's bicubic parameter


def _bicubic(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    inner = ((_A + 2.0) * x - (_A + 3.0)) * x * x + 1
    outer = (((x - 5) * x + 8) * x - 4) * _A
    return np.where(x < 1.0, inner, np.where(x < 2.0, outer, 0.0))


def pil_bicubic_taps(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices and fixed-point weights of each output pixel along one axis.

    Args:
        in_size: Source length.
        out_size: Target length.

    Returns:
        ``(out_size, K)`` int64 source indices and ``(out_size, K)`` int64 weights (``2**22``
        = 1); taps past an output pixel's window have weight 0.
    """
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = _SUPPORT * filterscale
    ksize = math.ceil(support) * 2 + 1
    center = (np.arange(out_size) + 0.5) * scale
    # C casts truncate toward zero.
    first = np.maximum(np.trunc(center - support + 0.5).astype(np.int64), 0)
    last = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), in_size)
    count = last - first
    taps = np.arange(ksize)
    valid = taps[None, :] < count[:, None]
    position = (first[:, None] + taps[None, :]).astype(np.float64)
    weights = np.where(valid, _bicubic((position - center[:, None] + 0.5) * (1.0 / filterscale)), 0)
    total = np.zeros(out_size)
    for j in range(ksize):  # summed in the kernel's order, as Pillow does
        total = total + weights[:, j]
    weights = np.where(
        total[:, None] != 0.0, weights / np.where(total == 0, 1, total)[:, None], weights
    )
    scaled = weights * (1 << _PRECISION_BITS)
    fixed = np.trunc(np.where(scaled < 0, scaled - 0.5, scaled + 0.5)).astype(np.int64)
    index = np.where(valid, first[:, None] + taps[None, :], first[:, None])
    return index, np.where(valid, fixed, 0)


def _resample(x: torch.Tensor, dim: int, out_size: int) -> torch.Tensor:
    """One pass along ``dim`` of a uint8 ``(B, H, W, C)`` tensor.

    The pass is a sparse (banded) matrix product in float64: every product and partial sum is
    an integer below ``2**31``, which float64 holds exactly, so the result is Pillow's integer
    accumulation whatever the summation order. The resampled axis is moved to the front while
    the data is still uint8, where the copy is cheap.
    """
    index, weight = pil_bicubic_taps(x.shape[dim], out_size)
    rows = np.repeat(np.arange(out_size), index.shape[1])
    matrix = torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([rows, index.reshape(-1)])),
        torch.from_numpy(weight.reshape(-1).astype(np.float64)),
        (out_size, x.shape[dim]),
        device=x.device,
        check_invariants=True,
    ).coalesce()  # zero-weight padding taps repeat an index: coalescing adds 0 to it
    moved = x.movedim(dim, 0).contiguous()
    flat = moved.reshape(moved.shape[0], -1).to(torch.float64)
    acc = torch.sparse.mm(matrix, flat) + (1 << (_PRECISION_BITS - 1))
    out = torch.floor(acc * (1.0 / (1 << _PRECISION_BITS))).clamp_(0, 255).to(torch.uint8)
    return out.reshape(out_size, *moved.shape[1:]).movedim(0, dim)


def resize_like_pil(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize frames as ``PIL.Image.fromarray(frame).resize((w, h), BICUBIC)`` does.

    Args:
        frames: ``(B, H, W, 3)`` uint8 RGB.
        size: ``(h, w)`` of the output.

    Returns:
        ``(B, h, w, 3)`` uint8, equal to Pillow's result pixel for pixel.
    """
    if frames.device.type == "mps":  # no float64 there: resample on the CPU
        return resize_like_pil(frames.cpu(), size).to(frames.device)
    height, width = size
    in_height, in_width = int(frames.shape[1]), int(frames.shape[2])
    if (in_height, in_width) == (height, width):
        return frames.clone()
    x = frames
    # Pillow runs the vertical pass first when the height shrinks by more than twice as many
    # pixels as the width does (the pass order changes the rounding of the uint8 intermediate).
    shrink_h, shrink_w = in_height - height, in_width - width
    passes = [(2, width), (1, height)]
    if shrink_h > 0 and shrink_h > 2 * shrink_w:
        passes.reverse()
    for dim, length in passes:
        if x.shape[dim] != length:
            x = _resample(x, dim, length)
    return x.contiguous()
