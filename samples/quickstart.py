"""Quick start with the Python API: stream per-frame results, then write outputs.

Run from the repository root (the classic engine needs no weights)::

    python samples/quickstart.py                     # the whole bundled sample
    python samples/quickstart.py --end 10 --out /tmp/qs

``VideoSegmenter.track`` yields one result per frame without holding the video;
``VideoSegmenter.run`` writes the outputs (here masks, overlay and tracks.json) and returns
the summary that also lands in ``<out>/run.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segany_video import VideoSegmenter

SAMPLE = Path(__file__).resolve().parent / "sample"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SAMPLE / "clip.mp4")
    parser.add_argument("--prompts", type=Path, default=SAMPLE / "prompts.json")
    parser.add_argument("--out", type=Path, default=Path("out/quickstart"))
    parser.add_argument("--end", type=int, help="stop before this frame (default: the end)")
    args = parser.parse_args(argv)

    segmenter = VideoSegmenter()  # model="sam_vit_b" once its weights are downloaded

    # 1. Streaming: one FrameResult per frame; masks are (H, W) bool, boxes XYXY pixels.
    for frame in segmenter.track(args.video, args.prompts, end=args.end):
        states = "  ".join(
            f"{object_id}:{obj.state.value}:{int(obj.mask.sum())}px"
            for object_id, obj in frame.objects.items()
        )
        print(f"frame {frame.index:4d} at {frame.timestamp:5.2f} s  {states}")

    # 2. A whole run: outputs under temporary names, renamed when complete.
    summary = segmenter.run(args.video, args.prompts, args.out, end=args.end)
    print(f"{summary.frames} frames in {summary.wall_time_s:.1f} s with {summary.engine}")
    for obj in summary.objects:
        print(f"object {obj.id} ({obj.name}): {obj.frames}")
    for fmt, paths in summary.outputs.items():
        print(f"{fmt:8s} {', '.join(paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
