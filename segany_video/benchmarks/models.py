"""Benchmark: our SAM against Meta's implementation, same weights and inputs, on one machine.

- Image encoder latency per frame, ours vs Meta's ``ImageEncoderViT``, run alternately so both
  see the same machine load; the ratio is Meta's time over ours.
- Decoder latency for 1, 3 and 10 objects on one frame: ours in one batched call, ours one
  call per object, and Meta's prompt encoder + mask decoder + upscaling one object at a time
  (as ``SamPredictor.predict`` is used per object).

Weights are random (no checkpoint is needed): the cost of a forward pass does not depend on
the values. Run::

    segany-video bench models --variant vit_b --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from segany_video.benchmarks.reference_predictors import import_segment_anything
from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.model import SamFeatures, SamModel
from segany_video.models.sam.preprocess import map_boxes, map_points
from segany_video.models.sam.variants import SAM_VIT_CONFIGS, build_sam_vit


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_pair(variant: str, seed: int = 0) -> tuple[SamModel, torch.nn.Module]:
    """Ours and Meta's model of ``variant`` sharing one random state dict."""
    torch.manual_seed(seed)
    meta = import_segment_anything().sam_model_registry[variant]().eval()
    with torch.no_grad():
        for name, param in meta.named_parameters():
            if "rel_pos" in name:  # zero-initialised by Meta; give the bias real values
                param.normal_(0.0, 0.02)
    with torch.device("meta"):
        ours = build_sam_vit(variant)
    ours.load_state_dict(meta.state_dict(), strict=True, assign=True)
    return ours.eval(), meta


def bench_encoder(
    ours: SamModel, meta: torch.nn.Module, images: torch.Tensor, repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per forward of each encoder, alternating ours and Meta's."""
    times: dict[str, list[float]] = {"ours": [], "meta": []}
    runs = {"ours": lambda: ours.encode(images), "meta": lambda: meta.image_encoder(images)}
    with torch.inference_mode():
        for i in range(warmup + repeats):
            for name, run in runs.items():
                elapsed = _timed(run)
                if i >= warmup:
                    times[name].append(elapsed)
    return times


def _object_prompts(count: int, height: int, width: int, seed: int) -> list[ObjectPrompt]:
    """``count`` objects, each a box with one positive point inside (tracker-style prompts)."""
    rng = np.random.default_rng(seed)
    prompts = []
    for _ in range(count):
        x0, y0 = rng.uniform(0, width * 0.6), rng.uniform(0, height * 0.6)
        bw, bh = rng.uniform(20, width * 0.4), rng.uniform(20, height * 0.4)
        box = np.array([x0, y0, x0 + bw, y0 + bh], np.float32)
        point = np.array([[x0 + bw / 2, y0 + bh / 2]], np.float32)
        prompts.append(ObjectPrompt(points=point, point_labels=np.array([1]), box=box))
    return prompts


def _meta_decode_one(meta: torch.nn.Module, features: SamFeatures, prompt: ObjectPrompt) -> None:
    """Meta's per-object path (as ``SamPredictor.predict_torch``), without thresholding."""
    coords = torch.as_tensor(
        map_points(prompt.points, features.original_size, features.input_size), dtype=torch.float
    )[None]
    box = torch.as_tensor(
        map_boxes(prompt.box, features.original_size, features.input_size), dtype=torch.float
    )[None]
    labels = torch.as_tensor(prompt.point_labels, dtype=torch.int)[None]
    sparse, dense = meta.prompt_encoder(points=(coords, labels), boxes=box, masks=None)
    low_res, _ = meta.mask_decoder(
        image_embeddings=features.embedding[None],
        image_pe=meta.prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse,
        dense_prompt_embeddings=dense,
        multimask_output=True,
    )
    meta.postprocess_masks(low_res, features.input_size, features.original_size)


def bench_decoder(
    ours: SamModel,
    meta: torch.nn.Module,
    features: SamFeatures,
    counts: Sequence[int],
    repeats: int,
) -> dict[int, dict[str, float]]:
    """Median seconds per frame to decode N objects, for each N in ``counts``."""
    height, width = features.original_size
    results: dict[int, dict[str, float]] = {}
    with torch.inference_mode():
        for count in counts:
            prompts = _object_prompts(count, height, width, seed=count)
            runs = {
                "ours_batched": lambda p=prompts: ours.decode(features, p),
                "ours_one_by_one": lambda p=prompts: [ours.decode(features, [x]) for x in p],
                "meta_one_by_one": lambda p=prompts: [
                    _meta_decode_one(meta, features, x) for x in p
                ],
            }
            samples: dict[str, list[float]] = {name: [] for name in runs}
            for i in range(repeats + 1):  # the first round warms up
                for name, run in runs.items():
                    elapsed = _timed(run)
                    if i:
                        samples[name].append(elapsed)
            results[count] = {name: statistics.median(v) for name, v in samples.items()}
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="segany-video bench models", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--variant", choices=sorted(SAM_VIT_CONFIGS), default="vit_b")
    parser.add_argument("--repeats", type=int, default=2, help="timed encoder runs per side")
    parser.add_argument("--warmup", type=int, default=1, help="untimed encoder runs per side")
    parser.add_argument("--decoder-repeats", type=int, default=5)
    parser.add_argument("--objects", default="1,3,10", help="object counts for the decoder")
    parser.add_argument("--frame", default="480x854", help="source frame HxW")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--skip-encoder", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (int(v) for v in args.frame.lower().split("x"))
    counts = [int(v) for v in args.objects.split(",") if v]

    ours, meta = build_pair(args.variant)
    frame = torch.randint(0, 256, (1, height, width, 3), dtype=torch.uint8)
    print(
        f"SAM {args.variant}, frame {height}x{width}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, device cpu"
    )
    with torch.inference_mode():
        images, input_size = ours.preprocess(frame)
        embedding = ours.encode(images)
        diff = (embedding - meta.image_encoder(images)).abs().max().item()
    print(f"encoder outputs agree: max |ours - meta| = {diff:.2e}")

    if not args.skip_encoder:
        times = bench_encoder(ours, meta, images, args.repeats, args.warmup)
        ours_s, meta_s = statistics.median(times["ours"]), statistics.median(times["meta"])
        print(
            f"encoder s/frame (median of {args.repeats}): ours {ours_s:.2f}  meta {meta_s:.2f}  "
            f"speed-up {meta_s / ours_s:.2f}x  (all ours {[round(t, 2) for t in times['ours']]}, "
            f"meta {[round(t, 2) for t in times['meta']]})"
        )

    features = SamFeatures(embedding[0], (height, width), input_size)
    results = bench_decoder(ours, meta, features, counts, args.decoder_repeats)
    print("decoder ms/frame (median; prompts = box + point; logits upscaled to frame size):")
    print(f"{'objects':>8} {'ours batched':>13} {'ours 1-by-1':>12} {'meta 1-by-1':>12}")
    for count, row in results.items():
        print(
            f"{count:>8} {row['ours_batched'] * 1e3:>13.1f} {row['ours_one_by_one'] * 1e3:>12.1f} "
            f"{row['meta_one_by_one'] * 1e3:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
