"""Geometry between source frames and SAM's square encoder input, all on the model's device.

A source frame of ``(H, W)`` pixels is resized so its longest side is ``img_size`` (1024) —
the "input size" ``(h, w)`` — normalised, and zero-padded at the bottom and right to
``img_size x img_size``. Prompts are mapped into that frame, and mask logits come back from the
decoder's low-res grid (``img_size / 4``: 256) by the reverse path.

Resizing follows Meta's ``ResizeLongestSide``: the same output-size rule, and the resampling of
its tensor path (``apply_image_torch``): bilinear, ``align_corners=False``, antialiased. Meta's
numpy path resizes with PIL and rounds to uint8; we keep the float result (within half a grey
level of PIL's), which avoids a host round trip.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Dense mask prompts: a [0, 1] prior p becomes the logit 20 p - 10 on SAM's low-res grid, i.e.
# -10 (background) .. +10 (object): the magnitude of confident SAM logits, and the same affine
# map SAM 2 uses when it turns a given mask into logits.
MASK_PRIOR_LOGIT_SCALE = 20.0
MASK_PRIOR_LOGIT_BIAS = -10.0


def input_size_for(original_size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """``(h, w)`` after resizing ``(H, W)`` so the longest side is ``long_side`` (Meta's rule)."""
    height, width = original_size
    scale = long_side * 1.0 / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


def prepare_images(
    frames: torch.Tensor,
    img_size: int,
    pixel_mean: torch.Tensor,
    pixel_std: torch.Tensor,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Resize, normalise and pad a batch of frames for the image encoder.

    Args:
        frames: ``(B, H, W, 3)`` uint8 RGB.
        img_size: Side of the square encoder input.
        pixel_mean: ``(3,)`` per-channel mean in 0..255 units.
        pixel_std: ``(3,)`` per-channel standard deviation in 0..255 units.
        dtype: Output dtype.

    Returns:
        ``(B, 3, img_size, img_size)`` images in channels-last memory layout, and the input size
        ``(h, w)`` of the resized frames inside them.
    """
    b, height, width, _ = frames.shape
    h, w = input_size_for((height, width), img_size)
    # (B, H, W, 3) -> (B, 3, H, W): a channels-last view, kept channels-last throughout.
    x = frames.permute(0, 3, 1, 2).to(torch.float32)
    if (h, w) != (height, width):
        x = F.interpolate(x, (h, w), mode="bilinear", align_corners=False, antialias=True)
    mean = pixel_mean.to(x.device, torch.float32).view(1, 3, 1, 1)
    std = pixel_std.to(x.device, torch.float32).view(1, 3, 1, 1)
    out = torch.zeros(b, 3, img_size, img_size, device=frames.device, dtype=dtype).contiguous(
        memory_format=torch.channels_last
    )
    out[:, :, :h, :w] = (x - mean) / std
    return out, (h, w)


def map_points(
    points: np.ndarray, original_size: tuple[int, int], input_size: tuple[int, int]
) -> np.ndarray:
    """Scale ``(..., 2)`` ``(x, y)`` source pixels into the resized frame (float64, as Meta)."""
    (height, width), (h, w) = original_size, input_size
    out = np.array(points, dtype=np.float64)
    out[..., 0] *= w / width
    out[..., 1] *= h / height
    return out


def map_boxes(
    boxes: np.ndarray, original_size: tuple[int, int], input_size: tuple[int, int]
) -> np.ndarray:
    """Scale ``(..., 4)`` ``XYXY`` source boxes into the resized frame."""
    boxes = np.asarray(boxes)
    corners = boxes.reshape(*boxes.shape[:-1], 2, 2)
    return map_points(corners, original_size, input_size).reshape(boxes.shape)


def upscale_logits(
    low_res: torch.Tensor,
    input_size: tuple[int, int],
    original_size: tuple[int, int],
    img_size: int,
) -> torch.Tensor:
    """Low-res mask logits -> logits at source-frame size, as Meta's ``postprocess_masks``.

    Meta upsamples the whole ``img_size`` square and then crops the padding away. Bilinear
    upsampling by an exact factor only reads source rows near each output row, so we crop the
    source to what the kept region reads (plus one guard row and column) first and upsample
    with the same factor: identical values, without the padded area's work.

    Args:
        low_res: ``(N, K, s, s)`` logits on the decoder grid.
        input_size: ``(h, w)`` of the resized frame in the padded input.
        original_size: ``(H, W)`` of the source frame.
        img_size: Side of the padded input.

    Returns:
        ``(N, K, H, W)`` float logits.
    """
    s = low_res.shape[-1]
    factor = img_size // s
    h, w = input_size
    rows = min(s, -(-h // factor) + 1)
    cols = min(s, -(-w // factor) + 1)
    x = F.interpolate(
        low_res[..., :rows, :cols], scale_factor=float(factor), mode="bilinear", align_corners=False
    )
    x = x[..., :h, :w]
    return F.interpolate(x, original_size, mode="bilinear", align_corners=False)


def mask_prior_logits(
    priors: torch.Tensor, input_size: tuple[int, int], img_size: int, low_res_size: int
) -> torch.Tensor:
    """Source-size ``[0, 1]`` mask priors -> low-res logits in the decoder's mask-prompt space.

    The prior goes through the image's geometry (resize to the input size, zero-pad to the
    square) and is averaged down onto the ``low_res_size`` grid, so a prior equal to a mask
    SAM produced lands on the cells that mask's low-res logits came from; then
    ``p -> 20 p - 10`` (see :data:`MASK_PRIOR_LOGIT_SCALE`).

    Args:
        priors: ``(M, H, W)`` float priors at source-frame size.
        input_size: ``(h, w)`` of the resized frame.
        img_size: Side of the padded input.
        low_res_size: Side of the decoder's low-res grid.

    Returns:
        ``(M, 1, low_res_size, low_res_size)`` logits.
    """
    h, w = input_size
    x = priors[:, None].to(torch.float32)
    if x.shape[-2:] != (h, w):
        x = F.interpolate(x, (h, w), mode="bilinear", align_corners=False, antialias=True)
    x = F.pad(x.clamp(0.0, 1.0), (0, img_size - w, 0, img_size - h))
    x = F.avg_pool2d(x, img_size // low_res_size)
    return x * MASK_PRIOR_LOGIT_SCALE + MASK_PRIOR_LOGIT_BIAS
