"""``segany-video info``: what the reader sees in a video."""

from __future__ import annotations

import argparse

from segany_video.cli.values import non_empty

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``info`` on the top-level subparsers."""
    info = sub.add_parser("info", help="show what the reader sees in a video")
    info.add_argument("input", type=non_empty)
    info.add_argument("--backend", default="auto", choices=("auto", "pyav", "decord", "images"))
    info.add_argument("--count", action="store_true", help="decode every frame and count them")
    info.set_defaults(func=run)
    return info


def run(args: argparse.Namespace) -> int:
    """Print the stream's properties and its first frame (all frames with ``--count``)."""
    from segany_video.readers.reader import open_video

    with open_video(args.input, backend=args.backend) as video:
        info = video.info
        rows = [
            ("source", info.source),
            ("backend", info.backend),
            ("codec", info.codec),
            ("size", f"{info.width}x{info.height} (after rotation)"),
            ("rotation", f"{info.rotation} degrees"),
            ("fps", f"{info.fps} ({float(info.fps):.3f})"),
            ("frames", "unknown" if info.frame_count is None else str(info.frame_count)),
            ("duration", "unknown" if info.duration is None else f"{info.duration:.3f} s"),
        ]
        # One pass: a pipe or live stream cannot be read from its start a second time.
        batches = video.batches(16 if args.count else 1)
        first = next(batches, None)
        if first is None:
            rows.append(("first frame", "none decodable"))
        else:
            rows.append(("first frame", f"index 0 at {first.timestamps[0]:.3f} s, RGB uint8"))
        if args.count:
            count, last_t = 0, None
            for batch in [first, *batches] if first is not None else []:
                count += len(batch)
                last_t = float(batch.timestamps[-1])
            rows.append(("decoded", f"{count} frames, last at {last_t:.3f} s"))
        batches.close()
    for key, value in rows:
        print(f"{key:12s} {value}")
    return 0
