"""A reduced-size SAM 2.1 with seeded random weights and a prompted clip, for video-mode tests.

No oracle is needed here: Meta's predictor is compared with our video mode in
``tests/models/sam2``; these tests check the pipeline around it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from segany_video.models.base import EngineInfo
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.variants import build_sam2, reduced_config
from segany_video.synthetic.clips import ClipPaths, SyntheticClip, make_clip, write_clip

SIZE = (160, 96)  # (W, H)


def lively_sam2(seed: int = 0) -> Sam2ImageSegmenter:
    """A reduced SAM 2.1 whose random weights find objects on some frames and lose them on
    others: the object-score head is widened and shifted so its logits straddle 0."""
    model = build_sam2(reduced_config("sam2.1_hiera_tiny"), model_class=Sam2ImageSegmenter)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            leaf = name.rsplit(".", 1)[-1]
            if "norm" in name and leaf == "weight":
                param.copy_(1.0 + 0.1 * noise)
            elif leaf == "weight" and param.ndim >= 2:
                param.copy_(noise / param[0].numel() ** 0.5)
            else:
                param.copy_(0.1 * noise)
        head = model.sam_mask_decoder.pred_obj_score_head.layers[2]
        head.weight.mul_(20.0)
        head.bias.fill_(-10.6)
    model.info = EngineInfo("sam2.1_hiera_tiny_reduced", "SAM 2.1 (reduced, random weights)")
    return model.eval()


def centre(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [float(xs.mean()), float(ys.mean())]


def video_prompts(clip: SyntheticClip) -> dict:
    """Clicks on object 1 at frame 0 with a correction at 12, a box on object 2 at frame 0,
    and object 3 starting at frame 6 (tracked backward to frame 0)."""
    boxes0, masks12, boxes6 = clip.boxes(0), clip.masks(12), clip.boxes(6)
    masks0 = clip.masks(0)
    return {
        "objects": [
            {
                "id": 1,
                "keyframes": [
                    {"frame": 0, "points": [[*centre(masks0[1]), 1]]},
                    {"frame": 12, "points": [[*centre(masks12[1]), 1]]},
                ],
            },
            {"id": 2, "keyframes": [{"frame": 0, "box": [float(v) for v in boxes0[2]]}]},
            {"id": 3, "keyframes": [{"frame": 6, "box": [float(v) for v in boxes6[3]]}]},
        ]
    }


def write_prompted_clip(
    folder: Path, num_frames: int, seed: int = 2
) -> tuple[SyntheticClip, ClipPaths, dict]:
    clip = make_clip(seed, num_frames=num_frames, size=SIZE)
    return clip, write_clip(clip, folder, preset="ultrafast"), video_prompts(clip)
