"""Generate the bundled sample clip: ``samples/sample/`` (video, ground truth, prompts).

Run from the repository root::

    python samples/make_sample.py                 # rewrites samples/sample/ (seed 0)
    python samples/make_sample.py --seed 3 --out /tmp/other

The clip is 5 s of 640x360 at 30 fps: three textured objects over a panning ground; the small one
hides fully behind the big one for over a second, the one in front crosses the big one, leaves the
frame and comes back (see ``segany_video/evaluation/synthetic.py``). The folder holds ``clip.mp4``,
``ground_truth/00000.png…`` (palette PNG, pixel = object id) and ``prompts.json`` (each object's
frame-0 box), ready for ``segany-video`` and for scoring its output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from segany_video.synthetic.clips import make_clip, write_clip

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="scenario seed (default 0)")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    parser.add_argument("--frames", type=int, default=150, help="length in frames (default 150)")
    args = parser.parse_args(argv)

    clip = make_clip(args.seed, num_frames=args.frames)
    paths = write_clip(clip, args.out)

    size_mb = paths.video.stat().st_size / 1e6
    print(f"wrote {paths.video} ({len(clip)} frames, {clip.width}x{clip.height}, {size_mb:.2f} MB)")
    print(f"ground truth in {paths.annotations}, prompts in {paths.prompts}")
    for obj in clip.objects:
        hidden = ", ".join(f"{r.start}-{r.stop - 1}" for r in clip.hidden_ranges(obj.id))
        print(f"  object {obj.id} {obj.name} ({obj.role}): hidden on frames {hidden or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
