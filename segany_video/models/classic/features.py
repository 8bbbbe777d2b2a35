"""Per-frame features of the classic engine, computed for a whole batch with torch.

The graph cut itself (OpenCV) needs the uint8 frame on the host, so the features keep it as a
numpy array next to the batched products: a grey guide image for full-resolution refinement and
the gradient magnitude used to judge how well a mask boundary follows image edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights: the guide only needs a perceptual brightness.
_LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class ClassicFeatures:
    """One frame as the classic engine sees it.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB, C-contiguous (grabCut's input).
        guide: ``(H, W)`` float32 luma in ``[0, 1]`` (guided-filter guide).
        gradient: ``(H, W)`` float32 Sobel gradient magnitude of the luma, in ``[0, ~1.4]``.
    """

    image: np.ndarray
    guide: np.ndarray
    gradient: np.ndarray

    @property
    def frame_size(self) -> tuple[int, int]:
        """``(H, W)`` of the source frame."""
        return int(self.image.shape[0]), int(self.image.shape[1])


def compute_features(frames: torch.Tensor) -> list[ClassicFeatures]:
    """Compute the classic features of a batch of frames in one pass.

    Args:
        frames: ``(B, H, W, 3)`` uint8 RGB on any device.

    Returns:
        B :class:`ClassicFeatures`, their arrays on the host.
    """
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == torch.uint8, (
        frames.shape,
        frames.dtype,
    )
    # An elementwise weighted sum, not a matmul: a BLAS reduction may be blocked differently for
    # different batch sizes, and a frame's features must not depend on which batch it came in.
    rgb = frames.to(torch.float32)
    luma = (rgb[..., 0] * _LUMA[0] + rgb[..., 1] * _LUMA[1] + rgb[..., 2] * _LUMA[2]) / 255.0
    sobel_x = torch.tensor(
        [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=frames.device
    ).div_(4.0)
    kernels = torch.stack([sobel_x, sobel_x.T]).unsqueeze(1)  # (2, 1, 3, 3)
    padded = F.pad(luma.unsqueeze(1), (1, 1, 1, 1), mode="replicate")  # (B, 1, H+2, W+2)
    grads = F.conv2d(padded, kernels)  # (B, 2, H, W)
    magnitude = grads.square().sum(dim=1).sqrt()  # (B, H, W)

    images = frames.cpu().numpy()
    guides = luma.cpu().numpy()
    magnitudes = magnitude.cpu().numpy()
    return [
        ClassicFeatures(
            image=np.ascontiguousarray(images[i]),
            guide=np.ascontiguousarray(guides[i]),
            gradient=np.ascontiguousarray(magnitudes[i]),
        )
        for i in range(len(images))
    ]
