"""Writing a synthetic clip to disk: the video, its ground truth and its first-frame prompts.

Layout of ``out_dir``::

    clip.mp4              H.264 (yuv420p) at the clip's frame rate, timestamps i / fps
    ground_truth/00000.png one DAVIS-style palette PNG per frame: pixel = object id, 0 = none
    prompts.json          {"objects": [{"id", "name", "keyframes": [{"frame": 0, "box": [...]}]}]}

Palette PNGs were chosen over one ``.npz`` because they are the DAVIS convention (the same format
the ``davis`` output writes, so predictions and truth compare file by file), each frame reads on
its own, and for these smooth blobs they are about as small (a few kB per frame). Read one with
:func:`segany_video.writers.davis_png.read_davis_png`. Prompt boxes are the tight ``XYXY`` boxes of the
frame-0 masks in pixel edges (a lone pixel at (x, y) gives ``[x, y, x+1, y+1]``). Every output is
written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from segany_video.writers.atomic import AtomicPath, make_output_dir, writer_error
from segany_video.writers.davis_png import DavisPngWriter
from segany_video.writers.video_encoder import StreamSpec, VideoEncoder

if TYPE_CHECKING:
    from segany_video.synthetic.clips import SyntheticClip


@dataclass(frozen=True)
class ClipPaths:
    """Where :func:`write_clip` put things."""

    video: Path
    annotations: Path
    prompts: Path


def write_clip(
    clip: SyntheticClip,
    out_dir: Path | str,
    *,
    codec: str = "libx264",
    crf: int = 20,
    preset: str = "medium",
) -> ClipPaths:
    """Render every frame once and write video, ground truth and prompts to ``out_dir``.

    Args:
        clip: the clip (see :func:`segany_video.synthetic.clips.make_clip`).
        out_dir: folder, created if needed; existing outputs of the same names are replaced.
        codec: FFmpeg H.264-family encoder name (the stream is yuv420p in an MP4).
        crf: constant rate factor, 0..51 (higher = smaller, blurrier). 20 keeps the default
            5 s 640x360 clip well under 2 MB (smooth textures; sensor noise costs the most bits).
        preset: x264 speed/size trade-off.

    Returns:
        The three paths.

    Raises:
        WriterError: the folder or a file cannot be written, or the encoder is missing.
        ValueError: ``crf`` outside 0..51.
    """
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    out = make_output_dir(Path(out_dir))
    spec = StreamSpec(
        codec=codec,
        container="mp4",
        pix_fmt="yuv420p",
        input_format="rgb24",
        options={"crf": str(crf), "preset": preset},
        even_size=True,
    )
    fps = Fraction(clip.fps).limit_denominator(1001)
    video = VideoEncoder(out / "clip.mp4", clip.width, clip.height, fps, spec, "the synthetic clip")
    labels = DavisPngWriter(out / "ground_truth")
    try:
        for i in range(clip.num_frames):
            video.write(clip.frame(i), i / clip.fps)
            labels.write(clip.label_map(i), i)
        video.finish()
        labels.finish()
    except BaseException:
        video.abort()
        labels.abort()
        raise
    video_path, labels_path = video.commit(), labels.commit()
    prompts_path = out / "prompts.json"
    target = AtomicPath(prompts_path)
    try:
        # one object per line: short enough to read, still plain JSON
        lines = ",\n".join(f"  {json.dumps(obj)}" for obj in clip.prompts()["objects"])
        target.temp.write_text(f'{{"objects": [\n{lines}\n]}}\n')
    except OSError as exc:
        target.discard()
        raise writer_error(prompts_path, exc) from exc
    target.commit()
    return ClipPaths(video=video_path, annotations=labels_path, prompts=prompts_path)
