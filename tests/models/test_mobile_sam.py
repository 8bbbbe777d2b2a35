"""MobileSAM (TinyViT encoder) against the ``mobilesam-mirror`` package as an oracle.

The oracle imports ``timm`` (DropPath, to_2tuple, trunc_normal_, register_model) and, through
its package ``__init__``, torchvision; neither is installed. While importing we register small
stand-ins: timm's helpers with working behaviour (the oracle calls them while building), and
torchvision functions that fail if called (nothing we compare uses them). They are removed
afterwards.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from oracles import SEGMENT_ANYTHING_TORCHVISION_NAMES, stand_in_modules
from torch import nn

from segany_video.models.base import ObjectPrompt
from segany_video.models.sam.mobile_sam import build_mobile_sam
from segany_video.models.sam.tiny_vit import TinyViT, TinyViTConfig

TOL = {"atol": 1e-4, "rtol": 1e-4}
# Narrow and shallow, but with the official input size and window sizes, so the token grids
# (256, 128, 64, 64) and the window padding (128 % 7, 64 % 14, 64 % 7) are the real ones. The
# last width stays 320: the oracle decides "last merging keeps the resolution" from it. That
# stage is the costly one at 64x64, so it has no blocks (stage 1 runs the same block code).
SMALL = TinyViTConfig(
    embed_dims=(16, 32, 40, 320),
    depths=(1, 2, 1, 0),
    num_heads=(1, 2, 2, 4),
    num_classes=10,
)


class _DropPath(nn.Module):
    """timm's DropPath at inference: the identity."""

    def __init__(self, drop_prob: float | None = None) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@contextlib.contextmanager
def _timm_stand_in() -> Iterator[None]:
    names = ("timm", "timm.models", "timm.models.layers", "timm.models.registry")
    if importlib.util.find_spec("timm") is not None:
        yield
        return
    modules = {name: types.ModuleType(name) for name in names}
    layers = modules["timm.models.layers"]
    layers.DropPath = _DropPath
    layers.to_2tuple = lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    layers.trunc_normal_ = nn.init.trunc_normal_
    modules["timm.models.registry"].register_model = lambda fn: fn
    modules["timm"].models = modules["timm.models"]
    modules["timm.models"].layers = layers
    modules["timm.models"].registry = modules["timm.models.registry"]
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name in names:
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def ms() -> types.ModuleType:
    """The oracle package ``mobile_sam`` (skips when mobilesam-mirror is not installed)."""
    if importlib.util.find_spec("mobile_sam") is None:
        pytest.skip("the mobilesam-mirror oracle is not installed (pip install --no-deps)")
    with _timm_stand_in(), stand_in_modules(SEGMENT_ANYTHING_TORCHVISION_NAMES):
        return importlib.import_module("mobile_sam")


def _oracle_tiny_vit(ms: types.ModuleType, cfg: TinyViTConfig) -> nn.Module:
    return ms.modeling.TinyViT(
        img_size=cfg.img_size,
        num_classes=cfg.num_classes,
        embed_dims=list(cfg.embed_dims),
        depths=list(cfg.depths),
        num_heads=list(cfg.num_heads),
        window_sizes=list(cfg.window_sizes),
        drop_path_rate=0.0,
    )


def _random_state(reference: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Random values for every entry (BatchNorm statistics too), so no weight is trivial."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in reference.state_dict().items():
        if not value.is_floating_point():
            state[key] = value.clone()
        elif key.endswith("running_var"):
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(value.shape, generator=gen) * 0.1
    return state


def _keys_and_shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_full_model_has_the_official_key_layout(ms) -> None:
    torch.manual_seed(0)
    official = ms.sam_model_registry["vit_t"]()
    ours = build_mobile_sam()
    assert _keys_and_shapes(ours) == _keys_and_shapes(official)
    assert "image_encoder.patch_embed.seq.0.c.weight" in ours.state_dict()
    assert "image_encoder.layers.1.blocks.0.attn.attention_biases" in ours.state_dict()


@pytest.mark.parametrize("window", [7, 14])
def test_attention_bias_index_matches_oracle(ms, window) -> None:
    ours = TinyViT(SMALL).layers[1 if window == 7 else 2].blocks[0].attn
    theirs = ms.modeling.tiny_vit_sam.Attention(
        ours.head_dim * ours.num_heads,
        ours.head_dim,
        ours.num_heads,
        attn_ratio=1,
        resolution=(window, window),
    )
    assert torch.equal(ours.attention_bias_idxs, theirs.attention_bias_idxs)
    assert ours.attention_biases.shape == theirs.attention_biases.shape


def test_attention_bias_index_by_hand() -> None:
    # A 2x2 window, tokens row-major (0,0) (0,1) (1,0) (1,1): offsets are numbered as first met,
    # (0,0)=0, (0,1)=1, (1,0)=2, (1,1)=3.
    block = TinyViT(
        TinyViTConfig(
            img_size=64,
            embed_dims=(8, 8, 8, 8),
            depths=(1, 1, 1, 1),
            num_heads=(1, 1, 1, 1),
            window_sizes=(2, 2, 2, 2),
        )
    ).layers[1]
    expected = torch.tensor([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]])
    assert torch.equal(block.blocks[0].attn.attention_bias_idxs, expected)


@pytest.fixture(scope="module")
def sam_pair(ms):
    """Our MobileSAM and the oracle's Sam, both with SMALL encoders and one random state."""
    torch.manual_seed(3)
    official = ms.sam_model_registry["vit_t"]()
    theirs = ms.modeling.Sam(
        image_encoder=_oracle_tiny_vit(ms, SMALL),
        prompt_encoder=official.prompt_encoder,
        mask_decoder=official.mask_decoder,
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    ours = build_mobile_sam(SMALL)
    state = _random_state(theirs, seed=4)
    theirs.load_state_dict(state)
    ours.load_state_dict(state)
    return ours.eval(), theirs.eval()


@pytest.fixture(scope="module")
def embedded(sam_pair):
    """Two square 1024 frames (no resizing, so both sides see the same pixels), embedded in one
    batch by each side. The batch of two also checks that windows never mix frames."""
    ours, theirs = sam_pair
    gen = torch.Generator().manual_seed(5)
    frames = torch.randint(0, 256, (2, 1024, 1024, 3), generator=gen, dtype=torch.uint8)
    with torch.inference_mode():
        features = ours.embed(frames)
        image = theirs.preprocess(frames.permute(0, 3, 1, 2).float())
        return features, theirs.image_encoder(image)


def test_mobile_sam_embedding_matches_oracle(embedded) -> None:
    features, want = embedded
    got = torch.stack([f.embedding for f in features])
    assert got.shape == (2, 256, 64, 64)
    torch.testing.assert_close(got, want, **TOL)


@pytest.mark.parametrize("multimask", [True, False])
def test_mobile_sam_decoder_matches_oracle(sam_pair, embedded, multimask) -> None:
    ours, theirs = sam_pair
    features, embeddings = embedded[0][1], embedded[1][1]
    box = np.array([200.0, 150.0, 700.0, 820.0], dtype=np.float32)
    points = np.array([[400.0, 500.0], [650.0, 300.0]], dtype=np.float32)
    labels = np.array([1, 0])
    prompts = [ObjectPrompt(box=box), ObjectPrompt(points=points, point_labels=labels)]
    oracle_prompts = [
        {"points": None, "boxes": torch.from_numpy(box)[None]},
        {"points": (torch.from_numpy(points)[None], torch.from_numpy(labels)[None]), "boxes": None},
    ]
    with torch.inference_mode():
        # Ours decodes both objects in one call (at low resolution: the upscaling to the frame
        # is SAM's, tested with the ViT models); the oracle one object at a time.
        batch = ours.prompt_batch(features, prompts)
        got_low_res, got_iou = ours.decode_low_res(features.embedding, batch, multimask=multimask)
        assert got_low_res.shape == (2, 3 if multimask else 1, 256, 256)
        for i, kwargs in enumerate(oracle_prompts):
            sparse, dense = theirs.prompt_encoder(masks=None, **kwargs)
            low_res, iou = theirs.mask_decoder(
                image_embeddings=embeddings[None],
                image_pe=theirs.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=multimask,
            )
            torch.testing.assert_close(got_low_res[i], low_res[0], **TOL)
            torch.testing.assert_close(got_iou[i], iou[0], **TOL)


def test_reduced_input_size_gives_proportional_embedding() -> None:
    cfg = TinyViTConfig(
        img_size=256, embed_dims=(8, 16, 16, 32), depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4)
    )
    encoder = TinyViT(cfg).eval()
    with torch.inference_mode():
        out = encoder(torch.randn(1, 3, 256, 256))
    assert out.shape == (1, 256, 16, 16) and cfg.embedding_size == 16
    with pytest.raises(ValueError, match="expects"):
        encoder(torch.randn(1, 3, 128, 128))
