"""Benchmark of the streaming runtime: ``segany-video bench pipeline <part>``.

Parts (each prints its figures and the settings that produced them):

- ``speed``: the same clip, random-initialised weights and prompts for 3 objects, in one run:
  our pipeline (:class:`Runtime` encoding batches ahead in a thread, one batched decode of all
  objects per frame) against the loop people write with the reference package's
  ``SamPredictor`` (decode a frame, ``set_image``, ``predict`` once per object, next frame).
  Meta's ``segment_anything`` for the SAM ViTs; ``mobile_sam`` (MobileSAM's own TinyViT) for
  MobileSAM. Both load the same state dict. One untimed warm-up frame each (``--warmup``);
  with ``--rounds R`` the two alternate R times and the best round of each is compared.
  The reference packages import torchvision/timm; stand-ins are used for those imports (see
  :mod:`segany_video.benchmarks.reference_predictors`: the predictor's resize runs through OpenCV).
  ``--int8`` also times our pipeline with the int8-quantised encoder and reports the IoU of
  its masks against float32 on the first ``--agreement-frames`` frames.
- ``stages``: where the time goes, per frame, on each side (CPU): reading/decoding the video,
  preprocessing, the image encoder (ours also batched), the prompt/mask decoding of the 3
  objects (ours: one batched call; reference: one ``predict``'s decoder work per object),
  postprocessing (low-res logits to full-resolution boolean masks on the host), and the whole
  per-frame work. Stages run one at a time, best of ``--repeats``.
- ``memory``: peak RSS (and peak CUDA memory) streaming a 300- and a 3000-frame 480p clip
  through the runtime with the classic engine's ``embed``; each clip in a fresh process so the
  peaks are independent. Mask decoding is skipped: it is per-frame work whose memory does not
  grow with the clip.
- ``overlap``: a stub engine whose encoder costs a known time per frame (sleep); a decoded
  480p clip is read, encoded and consumed (with simulated per-frame tracking work). The
  pipeline's wall time is compared with the encoder's own busy time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from segany_video.benchmarks.peak_memory import peak_rss_mib
from segany_video.errors import ConfigError
from segany_video.models.base import EngineInfo, ObjectPrompt
from segany_video.readers.reader import open_video
from segany_video.runtime.device import resolve_device, usable_cpu_count
from segany_video.runtime.runtime import Runtime
from segany_video.runtime.settings import RuntimeSettings

# The real clip of the README's figures, found under the data folder that $SEGANY_VIDEO_DATA
# names (the package never guesses where data lives); without it a clip is generated.
DATA_ENV = "SEGANY_VIDEO_DATA"
DATA_CLIP = "videos/sam2_05_default_juggle.mp4"
_CLIP_HELP = f"video (default: ${DATA_ENV}/{DATA_CLIP}, else a generated one)"


# ---------------------------------------------------------------------------------- clips


def benchmark_clip(clip: str | None, frames: int, name: str) -> Path:
    """The clip to time: ``--clip``, else ``$SEGANY_VIDEO_DATA/videos/sam2_05_default_juggle.mp4``,
    else a generated clip of ``frames`` frames (in a temporary folder, named ``name``).

    Raises:
        ConfigError: ``--clip`` names no file, or ``$SEGANY_VIDEO_DATA`` is set but does not
            hold the clip.
    """
    if clip is not None:
        if not Path(clip).is_file():
            raise ConfigError(f"--clip {clip}: no such video file")
        return Path(clip)
    root = os.environ.get(DATA_ENV)
    if root:
        path = Path(root) / DATA_CLIP
        if not path.is_file():
            raise ConfigError(
                f"{DATA_ENV}={root}: {path} does not exist; point {DATA_ENV} at the data folder "
                f"that holds {DATA_CLIP}, pass --clip, or unset {DATA_ENV} to time a generated clip"
            )
        return path
    return write_clip(Path(tempfile.mkdtemp()) / name, frames)


def write_clip(path: Path, frames: int, width: int = 854, height: int = 480, seed: int = 0) -> Path:
    """Write a synthetic MPEG-4 clip: three textured squares drifting over a textured
    background (enough detail that the codec and the engines do real work)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 200, size=(height, width, 3), dtype=np.uint8)
    side = max(4, min(height, width) // 5)
    patches = [rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8) for _ in range(3)]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 2_000_000
        for i in range(frames):
            image = np.roll(background, i, axis=1)
            for k, patch in enumerate(patches):
                x = int((k + 1) * width / 4 - side / 2 + width / 16 * np.sin(i / 20 + k))
                y = int(height / 2 - side / 2 + height / 12 * np.cos(i / 25 + k))
                x, y = min(max(x, 0), width - side), min(max(y, 0), height - side)
                image[y : y + side, x : x + side] = patch
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def three_prompts(height: int, width: int) -> list[ObjectPrompt]:
    """A box and a positive click for each of 3 objects at 1/4, 1/2, 3/4 of the width."""
    prompts = []
    for k in range(3):
        cx, cy = (k + 1) * width / 4, height / 2
        half_w, half_h = width / 10, height / 5
        prompts.append(
            ObjectPrompt(
                points=np.array([[cx, cy]], np.float32),
                point_labels=np.array([1]),
                box=np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h], np.float32),
            )
        )
    return prompts


# ---------------------------------------------------------------------------------- speed


def build_engine(kind: str, device: torch.device, seed: int) -> torch.nn.Module:
    """Our engine ``kind`` with random weights drawn from ``seed``."""
    from segany_video.models.registry import get_spec

    torch.manual_seed(seed)
    return get_spec(kind).builder(device).eval()


def time_pipeline(
    model: object,
    clip: Path,
    frames: int,
    prompts: list[ObjectPrompt],
    settings: RuntimeSettings,
    warmup: int = 1,
) -> tuple[float, int | None]:
    """Seconds for our pipeline over the first ``frames`` frames (decode all objects/frame),
    and the batch size it ran at."""
    runtime = Runtime(model, settings)  # type: ignore[arg-type]
    if warmup:
        with open_video(clip) as video:  # the first forward allocates and picks kernels
            for encoded in runtime.stream(video, 0, warmup):
                runtime.decode(encoded.features, prompts).masks.cpu()
    begin = time.perf_counter()
    count = 0
    with open_video(clip) as video:
        for encoded in runtime.stream(video, 0, frames):
            runtime.decode(encoded.features, prompts).masks.cpu().numpy()
            count += 1
    assert count == frames, (count, frames)
    return time.perf_counter() - begin, runtime.batch_size


def time_naive_loop(
    predictor: object, clip: Path, frames: int, prompts: list[ObjectPrompt], warmup: int = 1
) -> float:
    """Seconds for the reference loop: decode, ``set_image``, ``predict`` per object."""

    def run(limit: int) -> int:
        count = 0
        with av.open(str(clip)) as container:
            for frame in container.decode(video=0):
                if count == limit:
                    break
                predictor.set_image(frame.to_ndarray(format="rgb24"))  # type: ignore[attr-defined]
                for prompt in prompts:
                    predictor.predict(  # type: ignore[attr-defined]
                        point_coords=prompt.points,
                        point_labels=prompt.point_labels,
                        box=prompt.box,
                        multimask_output=True,
                    )
                count += 1
        return count

    with torch.inference_mode():
        if warmup:
            run(warmup)
        begin = time.perf_counter()
        assert run(frames) == frames
        return time.perf_counter() - begin


NAIVE_DOES = (
    "per frame: PyAV decode to an RGB array; SamPredictor.set_image (resize longest side to "
    "1024 via the OpenCV stand-in, normalise, pad, image encoder, batch 1); then predict() "
    "once per object (box + 1 click, multimask): prompt encoder, mask decoder, upsampling of "
    "3 candidates to full resolution, threshold, to numpy"
)
PIPELINE_DOES = (
    "Runtime.stream: reader thread decodes frames, encoder thread preprocesses (resize, "
    "normalise, pad in torch) and encodes batch_size frames per forward, ahead of the caller; "
    "caller: one decode() of all 3 objects per frame (box + 1 click, multimask): prompt "
    "encoder, mask decoder, upsampling of 3x3 candidates to full resolution, threshold, to numpy"
)


def first_frame_agreement(
    model: object, predictor: object, clip: Path, prompts: list[ObjectPrompt]
) -> dict:
    """IoU between the two sides' full-resolution masks on the first frame (same weights and
    prompts; the resize differs slightly, see :mod:`reference_predictors`), so the timed
    work is seen to be the same work. Per object and candidate: mean and worst."""
    from segany_video.results import mask_iou

    with open_video(clip) as video:
        frame = video.read_frames([0]).frames[0]
    with torch.inference_mode():
        features = model.embed(torch.from_numpy(frame[None]))[0]  # type: ignore[attr-defined]
        ours = model.decode(features, prompts).masks  # type: ignore[attr-defined]
        predictor.set_image(frame)  # type: ignore[attr-defined]
        theirs = [
            torch.from_numpy(
                predictor.predict(  # type: ignore[attr-defined]
                    point_coords=p.points, point_labels=p.point_labels, box=p.box
                )[0]
            )
            for p in prompts
        ]
    iou = mask_iou(ours.flatten(0, 1).cpu().numpy(), torch.stack(theirs).flatten(0, 1).numpy())
    return {"mean": float(iou.mean()), "worst": float(iou.min()), "masks": int(iou.size)}


def run_speed(args: argparse.Namespace) -> dict:
    from segany_video.benchmarks.reference_predictors import reference_model, reference_predictor

    device = resolve_device(args.device)
    clip = benchmark_clip(args.clip, args.frames + 1, "speed.mp4")
    with open_video(clip) as video:
        info = video.info
    prompts = three_prompts(info.height, info.width)
    threads = args.threads or usable_cpu_count()
    torch.set_num_threads(threads)
    ours = build_engine(args.model, device, args.seed)
    reference = reference_model(args.model, ours.state_dict()).to(device)
    predictor = reference_predictor(args.model, reference)
    settings = RuntimeSettings(
        device=str(device),
        batch_size=args.batch_size,
        num_threads=threads,
        compile=args.compile,
        dtype=args.dtype,
    )
    # Alternate the two so that a change in load from other processes hits both; the best
    # round of each is compared.
    naive_rounds, ours_rounds = [], []
    for round_index in range(args.rounds):
        warmup = args.warmup if round_index == 0 else 0
        naive_rounds.append(time_naive_loop(predictor, clip, args.frames, prompts, warmup))
        ours_s, batch_size = time_pipeline(ours, clip, args.frames, prompts, settings, warmup)
        ours_rounds.append(ours_s)
    agreement = first_frame_agreement(ours, predictor, clip, prompts)
    del predictor, reference
    naive_s, ours_s = min(naive_rounds), min(ours_rounds)
    result = {
        "part": "speed",
        "model": args.model,
        "device": str(device),
        "clip": str(clip),
        "frame_size": [info.height, info.width],
        "frames": args.frames,
        "warmup_frames": args.warmup,
        "objects": 3,
        "threads": threads,
        "batch_size": batch_size,
        "dtype": settings.dtype,
        "rounds_naive_s": naive_rounds,
        "rounds_pipeline_s": ours_rounds,
        "naive_fps": args.frames / naive_s,
        "pipeline_fps": args.frames / ours_s,
        "speedup": naive_s / ours_s,
        # Rounds ran back to back, so each round's ratio saw about the same load.
        "speedup_per_round": [n / o for n, o in zip(naive_rounds, ours_rounds, strict=True)],
        "speedup_median_round": float(
            np.median([n / o for n, o in zip(naive_rounds, ours_rounds, strict=True)])
        ),
        "naive_does": NAIVE_DOES,
        "pipeline_does": PIPELINE_DOES,
        "weights": f"random, seed {args.seed}; our state dict loaded strictly into the reference",
        "mask_iou_first_frame": agreement,
    }
    if args.int8:
        int8_engine = build_engine(args.model, torch.device("cpu"), args.seed)
        int8_settings = RuntimeSettings(
            device="cpu", batch_size=args.batch_size, num_threads=threads, quantize_int8=True
        )
        int8_s, _ = time_pipeline(
            int8_engine, clip, args.frames, prompts, int8_settings, args.warmup
        )
        result["pipeline_int8_fps"] = args.frames / int8_s
        result["speedup_int8"] = naive_s / int8_s
        result["int8_mask_iou"] = int8_agreement(args, clip, prompts)
    return result


def int8_agreement(args: argparse.Namespace, clip: Path, prompts: list[ObjectPrompt]) -> dict:
    """Mean and worst mask IoU of the int8 encoder against float32 on the first frames."""
    from segany_video.runtime.quantize import int8_mask_agreement

    with open_video(clip) as video:
        frames = list(video.read_frames(list(range(args.agreement_frames))).frames)
    agreement = int8_mask_agreement(
        build_engine(args.model, torch.device("cpu"), args.seed), frames, prompts
    )
    return {"mean": agreement.mean, "worst": agreement.worst}


# --------------------------------------------------------------------------------- stages


def _best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one untimed call (allocations, kernel picks)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        begin = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - begin)
    return best


def _reference_stages(predictor: object, image: np.ndarray, prompts, repeats: int) -> dict:
    """Seconds per frame of each step ``set_image`` + 3x ``predict`` runs, called one by one
    the way those two methods call them (same objects, same arguments)."""
    p = predictor
    model = p.model  # type: ignore[attr-defined]

    def preprocess() -> torch.Tensor:
        resized = p.transform.apply_image(image)  # type: ignore[attr-defined]
        tensor = torch.as_tensor(resized).permute(2, 0, 1).contiguous()[None]
        return model.preprocess(tensor)

    p.set_image(image)  # type: ignore[attr-defined]
    original, input_size = p.original_size, p.input_size  # type: ignore[attr-defined]
    images = preprocess()

    def decode_one(prompt: ObjectPrompt) -> tuple[torch.Tensor, torch.Tensor]:
        coords = p.transform.apply_coords(prompt.points, original)  # type: ignore[attr-defined]
        box = p.transform.apply_boxes(prompt.box, original)  # type: ignore[attr-defined]
        points = (
            torch.as_tensor(coords, dtype=torch.float)[None],
            torch.as_tensor(prompt.point_labels, dtype=torch.int)[None],
        )
        sparse, dense = model.prompt_encoder(
            points=points, boxes=torch.as_tensor(box, dtype=torch.float)[None], masks=None
        )
        return model.mask_decoder(
            image_embeddings=p.features,  # type: ignore[attr-defined]
            image_pe=model.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=True,
        )

    low_res = [decode_one(prompt)[0] for prompt in prompts]

    def postprocess() -> list[np.ndarray]:
        return [
            (model.postprocess_masks(x, input_size, original) > model.mask_threshold)[0].numpy()
            for x in low_res
        ]

    return {
        "preprocess": _best_seconds(preprocess, repeats),
        "encoder": _best_seconds(lambda: model.image_encoder(images), repeats),
        "decode_3_objects": _best_seconds(lambda: [decode_one(q) for q in prompts], repeats),
        "postprocess_3_objects": _best_seconds(postprocess, repeats),
        "whole_frame": _best_seconds(
            lambda: (
                p.set_image(image),  # type: ignore[attr-defined]
                [
                    p.predict(  # type: ignore[attr-defined]
                        point_coords=q.points,
                        point_labels=q.point_labels,
                        box=q.box,
                        multimask_output=True,
                    )
                    for q in prompts
                ],
            ),
            repeats,
        ),
    }


def _our_stages(model: object, frames: np.ndarray, prompts, repeats: int) -> dict:
    """Seconds per frame of each step of our per-frame work (``embed``, one ``decode`` of
    all objects, masks to the host), on one frame; the encoder also at the batch size."""
    m = model
    frame = torch.from_numpy(frames[:1])
    images, _ = m.preprocess(frame)  # type: ignore[attr-defined]
    features = m.embed(frame)[0]  # type: ignore[attr-defined]
    batch = m.prompt_batch(features, prompts)  # type: ignore[attr-defined]
    low_res, _ = m.decode_low_res(features.embedding, batch)  # type: ignore[attr-defined]
    batched = torch.from_numpy(frames)
    return {
        "preprocess": _best_seconds(lambda: m.preprocess(frame), repeats),  # type: ignore[attr-defined]
        "encoder": _best_seconds(lambda: m.encode(images), repeats),  # type: ignore[attr-defined]
        f"embed_batch_{len(frames)}_per_frame": _best_seconds(
            lambda: m.embed(batched),  # type: ignore[attr-defined]
            repeats,
        )
        / len(frames),
        "decode_3_objects": _best_seconds(
            lambda: m.decode_low_res(  # type: ignore[attr-defined]
                features.embedding,
                m.prompt_batch(features, prompts),  # type: ignore[attr-defined]
            ),
            repeats,
        ),
        "postprocess_3_objects": _best_seconds(
            lambda: (m.postprocess(low_res, features) > 0).numpy(),  # type: ignore[attr-defined]
            repeats,
        ),
        "whole_frame": _best_seconds(
            lambda: m.decode(m.embed(frame)[0], prompts).masks.numpy(),  # type: ignore[attr-defined]
            repeats,
        ),
    }


def run_stages(args: argparse.Namespace) -> dict:
    """Per-stage seconds per frame for both sides, measured one after the other in one
    process (same weights, frames and prompts; CPU only)."""
    from segany_video.benchmarks.reference_predictors import reference_model, reference_predictor

    clip = benchmark_clip(args.clip, args.batch_size + 1, "stages.mp4")
    threads = args.threads or usable_cpu_count()
    torch.set_num_threads(threads)
    begin = time.perf_counter()
    with av.open(str(clip)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == args.batch_size:
                break
    read_s = (time.perf_counter() - begin) / len(frames)
    stack = np.stack(frames)
    prompts = three_prompts(*stack.shape[1:3])
    ours = build_engine(args.model, torch.device("cpu"), args.seed)
    reference = reference_model(args.model, ours.state_dict())
    predictor = reference_predictor(args.model, reference)
    with torch.inference_mode():
        naive = _reference_stages(predictor, frames[0], prompts, args.repeats)
        pipeline = _our_stages(ours, stack, prompts, args.repeats)
    return {
        "part": "stages",
        "model": args.model,
        "clip": str(clip),
        "frame_size": list(stack.shape[1:3]),
        "threads": threads,
        "repeats": args.repeats,
        "note": "best-of-repeats seconds per frame, one stage at a time (no overlap); the "
        "speed part measures the overlapped pipeline",
        "read_decode_rgb_s": read_s,
        "naive_s": naive,
        "pipeline_s": pipeline,
        "ratio_naive_over_ours": {
            key: naive[key] / pipeline[key] for key in naive if key in pipeline
        },
    }


# --------------------------------------------------------------------------------- memory


def memory_child(clip: Path, device: str, batch_size: int | None) -> dict:
    """Stream ``clip`` through the runtime with the classic engine; peak memory of this
    process (run in a fresh interpreter so its peak is the clip's alone)."""
    from segany_video.models.classic import build_classic

    runtime = Runtime(build_classic(device), RuntimeSettings(device=device, batch_size=batch_size))
    begin = time.perf_counter()
    count = 0
    with open_video(clip) as video:
        for encoded in runtime.stream(video):
            count += 1
            del encoded
    result = {
        "frames": count,
        "seconds": time.perf_counter() - begin,
        "peak_rss_mib": peak_rss_mib(),
        "batch_size": runtime.batch_size,
    }
    if runtime.device.type == "cuda":
        result["peak_cuda_mib"] = torch.cuda.max_memory_allocated(runtime.device) / 2**20
    return result


def run_memory(args: argparse.Namespace) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for frames in args.lengths:
            clip = write_clip(Path(folder) / f"clip_{frames}.mp4", frames, args.width, args.height)
            command = [
                sys.executable,
                "-m",
                "segany_video.benchmarks.pipeline",
                "memory-child",
                str(clip),
                "--device",
                args.device,
            ]
            if args.batch_size:
                command += ["--batch-size", str(args.batch_size)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    peaks = [row["peak_rss_mib"] for row in rows]
    return {
        "part": "memory",
        "engine": "classic (embed only; decode skipped)",
        "frame_size": [args.height, args.width],
        "runs": rows,
        "rss_ratio_longest_to_shortest": peaks[-1] / peaks[0],
    }


# -------------------------------------------------------------------------------- overlap


@dataclass(frozen=True)
class _SleepFeatures:
    frame_size: tuple[int, int]


class SleepEngine:
    """An engine whose ``embed`` costs ``encode_s`` per frame (sleeping, so it leaves the
    CPU to the reader like a GPU encoder would) and records its busy time."""

    info = EngineInfo("sleep", "benchmark stub with a known encode cost")

    def __init__(self, encode_s: float) -> None:
        self.encode_s = encode_s
        self.busy_s = 0.0

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def embed(self, frames: torch.Tensor) -> list[_SleepFeatures]:
        begin = time.perf_counter()
        time.sleep(self.encode_s * len(frames))
        self.busy_s += time.perf_counter() - begin
        return [_SleepFeatures(tuple(frames.shape[1:3])) for _ in range(len(frames))]

    def decode(self, features, prompts, *, multimask=True):  # pragma: no cover - not called
        raise NotImplementedError("the overlap benchmark only encodes")


def run_overlap(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "overlap.mp4", args.frames, args.width, args.height)
        begin = time.perf_counter()
        with open_video(clip) as video:
            for _ in video.batches(args.batch_size):
                pass
        read_s = time.perf_counter() - begin

        engine = SleepEngine(args.encode_ms / 1000)
        runtime = Runtime(engine, RuntimeSettings(device="cpu", batch_size=args.batch_size))
        consume_s = args.consume_ms / 1000
        begin = time.perf_counter()
        with open_video(clip) as video:
            for _ in runtime.stream(video):
                time.sleep(consume_s)  # the tracker's per-frame work
        wall_s = time.perf_counter() - begin
    return {
        "part": "overlap",
        "frames": args.frames,
        "frame_size": [args.height, args.width],
        "batch_size": args.batch_size,
        "encode_ms_per_frame": args.encode_ms,
        "consume_ms_per_frame": args.consume_ms,
        "read_alone_s": read_s,
        "encoder_busy_s": engine.busy_s,
        "consumer_busy_s": consume_s * args.frames,
        "serial_estimate_s": read_s + engine.busy_s + consume_s * args.frames,
        "pipeline_wall_s": wall_s,
        "wall_over_encoder": wall_s / engine.busy_s,
    }


# ----------------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segany-video bench pipeline", description=__doc__.split("\n\n")[0]
    )
    parts = parser.add_subparsers(dest="part", required=True)
    speed_models = ["sam_vit_b", "sam_vit_l", "sam_vit_h", "mobile_sam"]

    speed = parts.add_parser("speed", help="our pipeline vs the reference predictor loop")
    speed.add_argument(
        "--model",
        default="sam_vit_b",
        choices=speed_models,
    )
    speed.add_argument(
        "--clip", help=f"video (default: ${DATA_ENV}/{DATA_CLIP}, else a generated one)"
    )
    speed.add_argument("--frames", type=int, default=3)
    speed.add_argument("--device", default="cpu")
    speed.add_argument("--dtype", default="auto")
    speed.add_argument("--batch-size", type=int, default=None)
    speed.add_argument("--threads", type=int, default=None)
    speed.add_argument("--compile", action="store_true")
    speed.add_argument("--int8", action="store_true", help="also time int8 and report mask IoU")
    speed.add_argument("--seed", type=int, default=0)
    speed.add_argument("--warmup", type=int, default=1, help="untimed frames before timing")
    speed.add_argument("--rounds", type=int, default=1, help="alternating timed rounds each")
    speed.add_argument("--agreement-frames", type=int, default=1, help="frames for int8 IoU")

    stages = parts.add_parser("stages", help="seconds per stage, both sides, one at a time")
    stages.add_argument("--model", default="mobile_sam", choices=speed_models)
    stages.add_argument(
        "--clip", help=f"video (default: ${DATA_ENV}/{DATA_CLIP}, else a generated one)"
    )
    stages.add_argument("--batch-size", type=int, default=2, help="frames for the batched encoder")
    stages.add_argument("--threads", type=int, default=None)
    stages.add_argument("--seed", type=int, default=0)
    stages.add_argument("--repeats", type=int, default=2, help="timed calls per stage (best kept)")

    memory = parts.add_parser("memory", help="peak RSS for short and long clips")
    memory.add_argument("--lengths", type=int, nargs="+", default=[300, 3000])
    memory.add_argument("--width", type=int, default=854)
    memory.add_argument("--height", type=int, default=480)
    memory.add_argument("--device", default="cpu")
    memory.add_argument("--batch-size", type=int, default=None)

    child = parts.add_parser("memory-child", help=argparse.SUPPRESS)
    child.add_argument("clip")
    child.add_argument("--device", default="cpu")
    child.add_argument("--batch-size", type=int, default=None)

    overlap = parts.add_parser("overlap", help="is reading hidden behind encoding?")
    overlap.add_argument("--frames", type=int, default=120)
    overlap.add_argument("--width", type=int, default=854)
    overlap.add_argument("--height", type=int, default=480)
    overlap.add_argument("--batch-size", type=int, default=4)
    overlap.add_argument("--encode-ms", type=float, default=40.0)
    overlap.add_argument("--consume-ms", type=float, default=10.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.part == "memory-child":
        print(json.dumps(memory_child(Path(args.clip), args.device, args.batch_size)))
        return 0
    run = {
        "speed": run_speed,
        "stages": run_stages,
        "memory": run_memory,
        "overlap": run_overlap,
    }[args.part]
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
