"""Run SAM 2 video mode on a clip with the reduced random model (a subprocess of the resume test).

Usage: ``python sam2_resume_run.py VIDEO PROMPTS_JSON OUT [--resume]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from sam2_video_clips import lively_sam2

from segany_video.config import load_config
from segany_video.segmenter import VideoSegmenter

SNAPSHOT_EVERY = 4
FORMATS = ["json", "davis"]


def main(argv: list[str]) -> int:
    video, prompts, out = argv[:3]
    torch.manual_seed(0)
    config = load_config(
        overrides={"runtime": {"device": "cpu", "batch_size": 2}, "writers": {"formats": FORMATS}}
    )
    segmenter = VideoSegmenter(lively_sam2(3), config=config)
    segmenter.run(
        video,
        json.loads(Path(prompts).read_text()),
        out,
        resume="--resume" in argv,
        snapshot_every=SNAPSHOT_EVERY,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
