"""SAM 2 video mode against Meta's ``SAM2VideoPredictor``: speed and peak memory.

Both sides get the same random weights (seeded; the object-score head widened so objects are
found on some frames and lost on others), the same decoded frames and the same prompts (one
click per object on frame 0). Meta's predictor receives our preprocessed frames through its
frame loader (it would otherwise read JPEGs), so masks can be compared exactly; its hole filling
needs a CUDA extension and is skipped on CPU, so ours runs with ``fill_hole_area=0`` too.

- ``speed``: one run of each, in this process, one after the other on the same clip: frames/s of
  our whole pipeline (decode, batched encoder thread, memory tracker) and of Meta's
  ``init_state`` + ``add_new_points_or_box`` + ``propagate_in_video``, over the whole clip and
  from the frame on which the memory bank is full (``num_maskmem``, 7); masks compared. The
  default 16 frames fill the bank, where memory attention rather than the image encoder
  dominates. Each side's CPU time (all its threads) and the load average are printed too: on
  a shared machine whose load changes between the two runs, the CPU-time ratio is the steadier
  figure. ``--device cuda --dtype bfloat16`` runs both sides on a GPU as their users run them
  there: Meta's predictor entirely under bf16 autocast (its README's usage), ours with the
  runtime's precision rule (bf16 encoder, float32 memory and heads); the masks then differ a
  little, and the command prints by how much.
- ``memory``: peak RSS of a fresh process running each side over an N-frame clip (run it for
  300 and 3000 frames); Meta's predictor holds every frame and every output, ours a window.
  ``--formats`` makes our side write those outputs (``VideoSegmenter.run``, resume journal
  included) instead of only yielding masks.

Run::

    segany-video bench sam2 speed --frames 16
    segany-video bench sam2 speed --frames 64 --device cuda --dtype bfloat16
    segany-video bench sam2 memory --frames 300 --image-size 256
    segany-video bench sam2 memory --frames 3000 --image-size 128 --objects 1 --meta-track 20

Needs Meta's ``sam2`` package (``pip install --no-deps sam2`` plus hydra-core, omegaconf, iopath).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import numpy as np
import torch

from segany_video.benchmarks.machine import describe
from segany_video.benchmarks.peak_memory import peak_rss_mib
from segany_video.errors import DeviceError
from segany_video.models.base import EngineInfo
from segany_video.models.sam2.image_engine import Sam2ImageSegmenter
from segany_video.models.sam2.variants import SAM2_CONFIGS, Sam2Config, build_sam2
from segany_video.runtime.device import resolve_device, resolve_dtype
from segany_video.synthetic.clips import make_clip

META_YAML = "configs/sam2.1/sam2.1_hiera_t.yaml"
# Children run this module by name (``__name__`` is "__main__" when it is run with -m itself).
CHILD_MODULE = "segany_video.benchmarks.sam2_video"


def bench_config(image_size: int) -> Sam2Config:
    """sam2.1_hiera_tiny, at a smaller input size when asked (the same weights fit any size)."""
    return dataclasses.replace(SAM2_CONFIGS["sam2.1_hiera_tiny"], image_size=image_size)


def random_weights(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random values for every entry, scaled like trained weights."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, value in model.state_dict().items():
        noise = torch.randn(value.shape, generator=generator)
        leaf = name.rsplit(".", 1)[-1]
        if "norm" in name and leaf == "weight":
            out[name] = 1.0 + 0.1 * noise
        elif leaf == "weight" and value.ndim >= 2:
            out[name] = noise / value[0].numel() ** 0.5
        else:
            out[name] = 0.1 * noise
    head = "sam_mask_decoder.pred_obj_score_head.layers.2"
    out[f"{head}.weight"] = out[f"{head}.weight"] * 20.0
    return out


def build_ours(image_size: int, seed: int) -> Sam2ImageSegmenter:
    model = build_sam2(bench_config(image_size), model_class=Sam2ImageSegmenter)
    model.load_state_dict(random_weights(model, seed), strict=True)
    model.info = EngineInfo("sam2.1_hiera_tiny", "SAM 2.1 hiera_tiny (random weights)")
    return model.eval()


def build_meta(
    image_size: int, state: dict[str, torch.Tensor], device: str = "cpu"
) -> tuple[torch.nn.Module, object]:
    """Meta's video predictor with ``state`` loaded, and its module (for the frame loader)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build = importlib.import_module("sam2.build_sam")
        module = importlib.import_module("sam2.sam2_video_predictor")
    predictor = build.build_sam2_video_predictor(
        META_YAML, None, device=device, hydra_overrides_extra=[f"++model.image_size={image_size}"]
    )
    predictor.load_state_dict(state, strict=True)
    return predictor.eval(), module


def write_video(path: Path, frames: int, size: tuple[int, int], seed: int) -> list[list[float]]:
    """Encode a generated clip (H.264, ultrafast) and return one click per object on frame 0."""
    # The scripted scenario needs some length; a short benchmark encodes only its start.
    clip = make_clip(seed, num_frames=max(frames, 60), size=size)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "20"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(clip.frame(i), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    clicks = []
    for object_id, mask in clip.masks(0).items():
        ys, xs = np.nonzero(mask)
        clicks.append([object_id, float(xs.mean()), float(ys.mean())])
    return clicks


def prompts_dict(clicks: list[list[float]]) -> dict:
    return {
        "objects": [
            {"id": int(oid), "keyframes": [{"frame": 0, "points": [[x, y, 1]]}]}
            for oid, x, y in clicks
        ]
    }


# ---------------------------------------------------------------------------------- runs


def run_ours(
    model: Sam2ImageSegmenter,
    video: Path,
    clicks: list,
    device: str = "cpu",
    dtype: str = "float32",
) -> Iterator[np.ndarray]:
    """Our pipeline; yields ``(N, H, W)`` bool masks per frame."""
    from segany_video.config import load_config
    from segany_video.segmenter import VideoSegmenter

    runtime = {"device": device, "dtype": dtype}
    config = load_config(overrides={"runtime": runtime, "tracker": {"fill_hole_area": 0}})
    segmenter = VideoSegmenter(model, config=config)
    for result in segmenter.track(video, prompts_dict(clicks)):
        yield np.stack([o.mask for o in result.objects.values()])


def run_ours_outputs(
    model: Sam2ImageSegmenter, video: Path, clicks: list, formats: Sequence[str]
) -> int:
    """Our pipeline writing ``formats`` into a temporary folder; returns the frames written."""
    from segany_video.config import load_config
    from segany_video.segmenter import VideoSegmenter

    config = load_config(overrides={"runtime": {"device": "cpu"}, "tracker": {"fill_hole_area": 0}})
    with tempfile.TemporaryDirectory() as out:
        summary = VideoSegmenter(model, config=config).run(
            video, prompts_dict(clicks), Path(out) / "run", formats
        )
    return summary.frames


def run_meta(
    predictor,
    module,
    model,
    video: Path,
    clicks: list,
    track: int | None = None,
    dtype: str = "float32",
) -> Iterator[np.ndarray]:
    """Meta's predictor on the same frames; yields ``(N, H, W)`` bool masks per frame.

    Its own loader reads JPEGs and resizes them with Pillow's bicubic filter into one
    ``(N, 3, S, S)`` tensor on the model's device; here the same tensor (Pillow-exact resizing)
    is built from our decoded frames (16 at a time, so the harness holds no more than Meta's
    loader would), so the JPEG round trip does not change the pixels. ``track`` limits
    propagation to that many frames after the first (None: the whole clip). ``dtype`` bfloat16
    runs it under autocast, as its README does on a GPU.
    """
    chunks, size = [], (0, 0)
    with av.open(str(video)) as container:
        batch: list[np.ndarray] = []
        for frame in container.decode(video=0):
            batch.append(frame.to_ndarray(format="rgb24"))
            if len(batch) == 16:
                chunks.append(model.preprocess(torch.from_numpy(np.stack(batch)), "pil_bicubic"))
                size, batch = batch[0].shape[:2], []
        if batch:
            chunks.append(model.preprocess(torch.from_numpy(np.stack(batch)), "pil_bicubic"))
            size = batch[0].shape[:2]
    # What Meta's loader holds: every frame at the model's input, on the model's device.
    images = torch.cat(chunks).to(predictor.device)
    del chunks
    height, width = size
    original = module.load_video_frames
    module.load_video_frames = lambda **_: (images, height, width)
    precision = (
        torch.autocast(predictor.device.type, dtype=torch.bfloat16)
        if dtype == "bfloat16"
        else contextlib.nullcontext()
    )
    try:
        with warnings.catch_warnings(), precision:
            warnings.simplefilter("ignore")
            state = predictor.init_state("unused")
            for oid, x, y in clicks:
                predictor.add_new_points_or_box(
                    state, 0, int(oid), points=[[x, y]], labels=np.array([1], np.int32)
                )
            for _, _, masks in predictor.propagate_in_video(state, max_frame_num_to_track=track):
                yield (masks[:, 0] > 0).cpu().numpy()
    finally:
        module.load_video_frames = original


@contextlib.contextmanager
def _quiet_tqdm() -> Iterator[None]:
    """Meta's propagation prints a progress bar; keep the figures readable."""
    try:
        import tqdm

        original = tqdm.tqdm.__init__

        def init(self, *args, **kwargs):
            kwargs["disable"] = True
            original(self, *args, **kwargs)

        tqdm.tqdm.__init__ = init
        yield
        tqdm.tqdm.__init__ = original
    except ImportError:
        yield


@dataclasses.dataclass(frozen=True)
class _Timing:
    """One side's run: per-frame arrival times (wall, s from start), CPU time of the whole
    process over the run (every thread: ours includes its reader and encoder threads), and
    the 1-minute load average at start and end."""

    times: list[float]
    cpu_s: float
    load: tuple[float, float]

    @property
    def wall_s(self) -> float:
        return self.times[-1]


def _timed(frames: Iterator[np.ndarray]) -> tuple[list[np.ndarray], _Timing]:
    """Drain a mask stream, timing it."""
    masks, times = [], []
    load = os.getloadavg()[0]
    c0, t0 = time.process_time(), time.perf_counter()
    for mask in frames:
        masks.append(mask)
        times.append(time.perf_counter() - t0)
    return masks, _Timing(times, time.process_time() - c0, (load, os.getloadavg()[0]))


def _full_memory_rate(times: list[float], first: int) -> str:
    """Frames/s from frame ``first`` on (the memory bank full), or a note when too short."""
    if len(times) <= first + 1:
        return "clip too short to fill the memory"
    return f"{(len(times) - 1 - first) / (times[-1] - times[first]):.3f} frames/s"


def speed(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    size = _size(args.size)
    try:  # the runtime's own checks: a device this machine has, a dtype that device runs
        device = resolve_device(args.device)
        resolve_dtype(device, args.dtype)
    except DeviceError as exc:
        print(f"bench sam2 speed: {exc}", file=sys.stderr)
        return 2
    full = bench_config(args.image_size).num_maskmem  # first frame with every memory slot used
    with tempfile.TemporaryDirectory() as tmp, _quiet_tqdm(), torch.inference_mode():
        video = Path(tmp) / "clip.mp4"
        clicks = write_video(video, args.frames, size, args.seed)[: args.objects]
        ours = build_ours(args.image_size, args.seed)
        predictor, module = build_meta(args.image_size, ours.state_dict(), str(device))
        mine, t_ours = _timed(run_ours(ours, video, clicks, str(device), args.dtype))
        theirs, t_meta = _timed(run_meta(predictor, module, ours, video, clicks, dtype=args.dtype))
    if len(mine) != len(theirs):
        raise RuntimeError(f"ours gave {len(mine)} frames, Meta's predictor {len(theirs)}")
    differing = sum(int((a != b).sum()) for a, b in zip(mine, theirs, strict=True))
    pixels = sum(a.size for a in mine)
    found = sum(int(m.any(axis=(1, 2)).sum()) for m in mine)
    print(
        f"clip: {args.frames} frames {size[0]}x{size[1]}, {len(clicks)} objects, "
        f"sam2.1_hiera_tiny random weights at {args.image_size}x{args.image_size} input, "
        f"{args.threads} threads, {args.device}, {args.dtype}"
    )
    print(f"machine: {describe()}")
    if device.type == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(device)}")
    for name, t in (("ours", t_ours), ("meta", t_meta)):
        print(
            f"{name}: {t.wall_s:.1f} s, {args.frames / t.wall_s:.3f} frames/s "
            f"(CPU {t.cpu_s:.1f} s; load average {t.load[0]:.1f} -> {t.load[1]:.1f}); "
            f"from frame {full} (memory full): {_full_memory_rate(t.times, full)}"
        )
    print(f"speed ratio ours/meta: {t_meta.wall_s / t_ours.wall_s:.2f}x")
    if len(t_ours.times) > full + 1:
        steady_meta = t_meta.times[-1] - t_meta.times[full]
        steady_ours = t_ours.times[-1] - t_ours.times[full]
        print(f"speed ratio from frame {full} on: {steady_meta / steady_ours:.2f}x")
    print(f"CPU-time ratio meta/ours (less sensitive to load): {t_meta.cpu_s / t_ours.cpu_s:.2f}x")
    print(
        f"masks: {differing} of {pixels} object-pixels differ ({differing / pixels:.2e}); "
        f"{found} non-empty object masks of {len(mine) * len(clicks)}"
    )
    return 0


def _peak_rss_child(args: argparse.Namespace) -> int:
    """Runs in a fresh process: one side over the clip, then prints its own peak RSS."""
    torch.set_num_threads(args.threads)
    clicks = json.loads(args.clicks)
    with _quiet_tqdm(), torch.inference_mode():
        ours = build_ours(args.image_size, args.seed)
        if args.side == "ours" and args.formats:
            frames = run_ours_outputs(ours, Path(args.video), clicks, args.formats.split(","))
        elif args.side == "ours":
            frames = sum(1 for _ in run_ours(ours, Path(args.video), clicks))
        else:
            predictor, module = build_meta(args.image_size, ours.state_dict())
            run = run_meta(predictor, module, ours, Path(args.video), clicks, args.meta_track)
            frames = sum(1 for _ in run)
    peak = peak_rss_mib()
    print(json.dumps({"side": args.side, "frames": frames, "peak_rss_mib": round(peak, 1)}))
    return 0


def memory(args: argparse.Namespace) -> int:
    size = _size(args.size)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        clicks = write_video(video, args.frames, size, args.seed)[: args.objects]
        for side in args.sides.split(","):
            command = [
                sys.executable, "-m", CHILD_MODULE, "_peak", side, str(video), json.dumps(clicks),
                "--image-size", str(args.image_size), "--threads", str(args.threads),
                "--seed", str(args.seed),
                *(["--meta-track", str(args.meta_track)] if args.meta_track else []),
                *(["--formats", args.formats] if args.formats and side == "ours" else []),
            ]  # fmt: skip
            t0 = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            label = f"{side} writing {args.formats}" if args.formats and side == "ours" else side
            print(
                f"{label}: {figures['frames']} frames {size[0]}x{size[1]}, {len(clicks)} objects, "
                f"input {args.image_size}: peak RSS {figures['peak_rss_mib']:.0f} MiB "
                f"({time.perf_counter() - t0:.0f} s)"
            )
    return 0


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench sam2",
        description="SAM 2 video mode vs Meta's SAM2VideoPredictor (random weights).",
    )
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("speed", "memory"):
        p = sub.add_parser(name)
        p.add_argument("--frames", type=int, default=16 if name == "speed" else 300)
        p.add_argument("--size", default="854x480", help="WIDTHxHEIGHT of the clip")
        p.add_argument("--objects", type=int, default=3, choices=(1, 2, 3))
        p.add_argument("--image-size", type=int, default=1024 if name == "speed" else 256)
        p.add_argument("--threads", type=int, default=2)
        p.add_argument("--seed", type=int, default=0)
        if name == "speed":
            p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (both sides)")
            p.add_argument(
                "--dtype",
                default="float32",
                choices=("float32", "bfloat16"),
                help="bfloat16: Meta's side under autocast, ours with a bf16 encoder",
            )
        if name == "memory":
            p.add_argument("--sides", default="ours,meta", help="ours, meta or both")
            p.add_argument(
                "--meta-track",
                type=int,
                default=None,
                help="Meta: propagate only this many frames after frame 0 (it still loads all "
                "frames first); for clips too long to run it through on a CPU",
            )
            p.add_argument(
                "--formats",
                default=None,
                help="ours: write these outputs (e.g. masks,overlay,json) as a run does",
            )
    peak = sub.add_parser("_peak")
    peak.add_argument("side", choices=("ours", "meta"))
    peak.add_argument("video")
    peak.add_argument("clicks")
    peak.add_argument("--image-size", type=int, required=True)
    peak.add_argument("--threads", type=int, default=2)
    peak.add_argument("--seed", type=int, default=0)
    peak.add_argument("--meta-track", type=int, default=None)
    peak.add_argument("--formats", default=None)
    args = parser.parse_args(argv)
    return {"speed": speed, "memory": memory, "_peak": _peak_rss_child}[args.what](args)


if __name__ == "__main__":
    raise SystemExit(main())
