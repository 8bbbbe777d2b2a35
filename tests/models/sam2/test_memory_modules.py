"""Memory encoder and memory attention against Meta's modules with the same random weights."""

from __future__ import annotations

import pytest
import torch
from oracle import import_sam2

from segany_video.models.sam2.memory_attention import MemoryAttention
from segany_video.models.sam2.memory_encoder import MemoryEncoder
from segany_video.models.sam2.position_encoding import SinePositionEncoding, sine_1d
from segany_video.models.sam2.rope_attention import (
    RoPEAttention,
    axial_rotation,
    rotate_pairs,
    rotate_pairs_,
)


def _randomise(module: torch.nn.Module, seed: int) -> None:
    """Give every parameter random values (the inits leave many at 0/1, which hides bugs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1)


def _load_into_ours(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    ours.load_state_dict(theirs.state_dict(), strict=True)


def _meta_memory_attention(num_layers: int, d_model: int, mem_dim: int, ffn: int, heads: int):
    attention = import_sam2("sam2.modeling.memory_attention")
    transformer = import_sam2("sam2.modeling.sam.transformer")
    layer = attention.MemoryAttentionLayer(
        activation="relu",
        cross_attention=transformer.RoPEAttention(
            rope_theta=10000.0,
            feat_sizes=(64, 64),
            rope_k_repeat=True,
            embedding_dim=d_model,
            num_heads=heads,
            downsample_rate=1,
            dropout=0.1,
            kv_in_dim=mem_dim,
        ),
        d_model=d_model,
        dim_feedforward=ffn,
        dropout=0.1,
        pos_enc_at_attn=False,
        pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False,
        self_attention=transformer.RoPEAttention(
            rope_theta=10000.0,
            feat_sizes=(64, 64),
            embedding_dim=d_model,
            num_heads=heads,
            downsample_rate=1,
            dropout=0.1,
        ),
    )
    return attention.MemoryAttention(
        d_model=d_model, pos_enc_at_input=True, layer=layer, num_layers=num_layers
    ).eval()


def _meta_memory_encoder(in_dim: int, out_dim: int):
    encoder = import_sam2("sam2.modeling.memory_encoder")
    position = import_sam2("sam2.modeling.position_encoding")
    return encoder.MemoryEncoder(
        out_dim=out_dim,
        mask_downsampler=encoder.MaskDownSampler(
            embed_dim=in_dim, kernel_size=3, stride=2, padding=1, total_stride=16
        ),
        fuser=encoder.Fuser(
            encoder.CXBlock(dim=in_dim, kernel_size=7, padding=3, layer_scale_init_value=1e-6),
            num_layers=2,
        ),
        position_encoding=position.PositionEmbeddingSine(num_pos_feats=out_dim),
        in_dim=in_dim,
    ).eval()


def test_full_size_modules_have_the_official_keys_and_shapes() -> None:
    theirs_attention = _meta_memory_attention(4, 256, 64, 2048, 1)
    theirs_encoder = _meta_memory_encoder(256, 64)
    ours_attention = MemoryAttention(d_model=256, num_layers=4, mem_dim=64, dim_feedforward=2048)
    ours_encoder = MemoryEncoder(in_dim=256, out_dim=64, num_fuser_layers=2)
    for ours, theirs in ((ours_attention, theirs_attention), (ours_encoder, theirs_encoder)):
        ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        theirs_shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert ours_shapes == theirs_shapes


@pytest.mark.parametrize(
    ("height", "width", "batch"), [(16, 16, 1), (8, 12, 2)], ids=["square", "wide-batch2"]
)
def test_memory_encoder_matches_meta(height: int, width: int, batch: int) -> None:
    theirs = _meta_memory_encoder(64, 16)
    _randomise(theirs, seed=1)
    ours = MemoryEncoder(in_dim=64, out_dim=16, num_fuser_layers=2).eval()
    _load_into_ours(ours, theirs)
    generator = torch.Generator().manual_seed(2)
    pix = torch.randn(batch, 64, height, width, generator=generator)
    mask = torch.randn(batch, 1, 16 * height, 16 * width, generator=generator) * 10
    with torch.no_grad():
        expected = theirs(pix, mask, skip_mask_sigmoid=True)
        features, pos = ours(pix, mask)
    torch.testing.assert_close(features, expected["vision_features"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(pos, expected["vision_pos_enc"][0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("num_memories", "num_ptr_tokens", "heads"),
    [(1, 0, 1), (3, 8, 1), (2, 4, 2)],
    ids=["one-memory", "memories+pointers", "two-heads"],
)
def test_memory_attention_matches_meta(num_memories: int, num_ptr_tokens: int, heads: int) -> None:
    d_model, mem_dim, side, batch = 64, 16, 8, 2
    theirs = _meta_memory_attention(2, d_model, mem_dim, 128, heads)
    _randomise(theirs, seed=3)
    ours = MemoryAttention(
        d_model=d_model, num_layers=2, mem_dim=mem_dim, dim_feedforward=128, num_heads=heads
    ).eval()
    _load_into_ours(ours, theirs)
    generator = torch.Generator().manual_seed(4)
    tokens = side * side
    length = num_memories * tokens + num_ptr_tokens
    curr = torch.randn(batch, tokens, d_model, generator=generator)
    curr_pos = torch.randn(batch, tokens, d_model, generator=generator)
    memory = torch.randn(batch, length, mem_dim, generator=generator)
    memory_pos = torch.randn(batch, length, mem_dim, generator=generator)
    with torch.no_grad():
        # Meta's module is sequence-first: (N, B, C)
        expected = theirs(
            curr=curr.transpose(0, 1),
            memory=memory.transpose(0, 1),
            curr_pos=curr_pos.transpose(0, 1),
            memory_pos=memory_pos.transpose(0, 1),
            num_obj_ptr_tokens=num_ptr_tokens,
        ).transpose(0, 1)
        actual = ours(curr, curr_pos, memory, memory_pos, (side, side), num_ptr_tokens)
    torch.testing.assert_close(actual, expected, atol=1e-4, rtol=1e-4)


def test_rope_attention_rejects_keys_off_the_grid() -> None:
    attention = RoPEAttention(32, 1, repeat_keys=True)
    q = torch.zeros(1, 16, 32)
    k = torch.zeros(1, 20, 32)
    with pytest.raises(ValueError, match="do not fit a 4x4 grid"):
        attention(q, k, k, (4, 4))


def test_sine_encodings_match_meta() -> None:
    position = import_sam2("sam2.modeling.position_encoding")
    utils = import_sam2("sam2.modeling.sam2_utils")
    theirs = position.PositionEmbeddingSine(num_pos_feats=256)
    x = torch.zeros(2, 3, 12, 20)
    torch.testing.assert_close(SinePositionEncoding(256)(x), theirs(x), atol=1e-6, rtol=1e-6)
    positions = torch.tensor([0.0, 1.0, 5.0, -3.0]) / 15
    torch.testing.assert_close(sine_1d(positions, 256), utils.get_1d_sine_pe(positions, 256))


def test_shared_frame_queries_equal_the_whole_stack_per_object() -> None:
    """Objects on one frame share the first self-attention: reading two memories from one
    ``frame_queries`` equals running the full stack for each memory on its own."""
    d_model, mem_dim, side = 64, 16, 8
    ours = MemoryAttention(
        d_model=d_model, num_layers=3, mem_dim=mem_dim, dim_feedforward=128, num_heads=2
    ).eval()
    _randomise(ours, seed=5)
    generator = torch.Generator().manual_seed(6)
    tokens, ptr_tokens = side * side, 4
    curr = torch.randn(1, tokens, d_model, generator=generator)
    curr_pos = torch.randn(1, tokens, d_model, generator=generator)
    memory = torch.randn(2, 2 * tokens + ptr_tokens, mem_dim, generator=generator)
    memory_pos = torch.randn(2, 2 * tokens + ptr_tokens, mem_dim, generator=generator)
    with torch.no_grad():
        queries = ours.frame_queries(curr, curr_pos, (side, side))
        shared = ours.read_memory(queries, memory, memory_pos, (side, side), ptr_tokens)
        for i in range(2):
            alone = ours(curr, curr_pos, memory[i : i + 1], memory_pos[i : i + 1], (side, side), 4)
            torch.testing.assert_close(shared[i : i + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rotating_in_place_equals_the_rotated_copy(dtype: torch.dtype) -> None:
    """float32 keys are rotated where they lie (the same tensor comes back); other dtypes get
    a new tensor. Both equal ``rotate_pairs``, here applied to a strided per-grid view."""
    rotation = axial_rotation(8, 3, 4, 10000.0, torch.device("cpu"))
    generator = torch.Generator().manual_seed(7)
    keys = torch.randn(2, 1, 2 * 12 + 3, 8, generator=generator).to(dtype)
    grids = keys[:, :, :24].unflatten(-2, (2, 12))  # two copies of the 3x4 grid, then 3 more
    expected = rotate_pairs(grids, rotation)
    untouched = keys[:, :, 24:].clone()
    rotated = rotate_pairs_(grids, rotation)
    assert (rotated is grids) == (dtype == torch.float32)
    torch.testing.assert_close(rotated, expected, atol=0, rtol=0)
    torch.testing.assert_close(keys[:, :, 24:], untouched, atol=0, rtol=0)
