"""SAM 2's image trunk: Hiera, a hierarchical vision transformer with pooled stage changes.

A ``7x7`` stride-4 convolution cuts the image into tokens; four stages of transformer blocks
follow, each stage halving the grid (by max-pooling the attention queries in its first block)
and doubling the width and head count. Most blocks attend within non-overlapping windows, a few
globally. Positions come from a small background embedding, resized bicubically to the token
grid, plus a window-sized embedding tiled over it ("window position embedding").

Parameter names follow the official checkpoints (``patch_embed.proj``, ``pos_embed``,
``pos_embed_window``, ``blocks.{i}.norm1``, ``blocks.{i}.attn.qkv``, ``blocks.{i}.attn.proj``,
``blocks.{i}.norm2``, ``blocks.{i}.mlp.layers.{0,1}``, ``blocks.{i}.proj`` where the width
changes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.fused_cpu import linear, linear_gelu


@dataclass(frozen=True)
class HieraConfig:
    """Sizes of a Hiera trunk (Meta's ``Hiera`` arguments).

    Attributes:
        embed_dim: Token width of the first stage.
        num_heads: Attention heads of the first stage.
        stages: Blocks per stage.
        global_att_blocks: Indices of the blocks with global attention.
        window_spec: Window side per stage for the windowed blocks.
        window_pos_embed_bkg_spatial_size: ``(h, w)`` of the background position embedding.
        q_pool: How many stage changes pool the queries (3: all of them).
        q_stride: Pooling stride at a stage change.
        dim_mul: Width factor at a stage change.
        head_mul: Head-count factor at a stage change.
        mlp_ratio: MLP hidden width as a multiple of the token width.
    """

    embed_dim: int
    num_heads: int
    stages: tuple[int, ...]
    global_att_blocks: tuple[int, ...]
    window_spec: tuple[int, ...] = (8, 4, 14, 7)
    window_pos_embed_bkg_spatial_size: tuple[int, int] = (14, 14)
    q_pool: int = 3
    q_stride: int = 2
    dim_mul: float = 2.0
    head_mul: float = 2.0
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        for name in ("stages", "global_att_blocks", "window_spec"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(
            self, "window_pos_embed_bkg_spatial_size", tuple(self.window_pos_embed_bkg_spatial_size)
        )
        if len(self.window_spec) != len(self.stages):
            raise ValueError(
                f"window_spec has {len(self.window_spec)} entries, stages {len(self.stages)}"
            )
        if not 0 <= self.q_pool < len(self.stages):
            raise ValueError(f"q_pool must be in 0..{len(self.stages) - 1}, got {self.q_pool}")
        bad = [i for i in self.global_att_blocks if not 0 <= i < self.depth]
        if bad:
            raise ValueError(f"global_att_blocks {bad} outside 0..{self.depth - 1}")

    @property
    def depth(self) -> int:
        return sum(self.stages)

    @property
    def stage_ends(self) -> tuple[int, ...]:
        """Index of the last block of each stage."""
        ends, total = [], 0
        for n in self.stages:
            total += n
            ends.append(total - 1)
        return tuple(ends)

    @property
    def stage_dims(self) -> tuple[int, ...]:
        """Token width of each stage, first to last."""
        return tuple(int(self.embed_dim * self.dim_mul**s) for s in range(len(self.stages)))


def window_partition(x: torch.Tensor, size: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Cut ``(B, H, W, C)`` into ``size x size`` windows, zero-padding the bottom/right edge.

    Returns:
        ``(B * nWin, size, size, C)`` windows and the padded ``(Hp, Wp)``.
    """
    b, h, w, c = x.shape
    pad_h, pad_w = -h % size, -w % size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    hp, wp = h + pad_h, w + pad_w
    # (B, Hp/s, s, Wp/s, s, C) -> (B, Hp/s, Wp/s, s, s, C)
    x = x.view(b, hp // size, size, wp // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size, size, c), (hp, wp)


def window_unpartition(
    windows: torch.Tensor, size: int, padded: tuple[int, int], original: tuple[int, int]
) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nWin, s, s, C) -> (B, H, W, C)``."""
    hp, wp = padded
    h, w = original
    b = windows.shape[0] // ((hp // size) * (wp // size))
    x = windows.reshape(b, hp // size, wp // size, size, size, -1).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, hp, wp, -1)
    return x[:, :h, :w] if (hp, wp) != (h, w) else x


def pool_grid(x: torch.Tensor, stride: int) -> torch.Tensor:
    """``stride x stride`` max pooling of a ``(B, H, W, C)`` grid (floor of odd sizes)."""
    return F.max_pool2d(x.permute(0, 3, 1, 2), stride, stride).permute(0, 2, 3, 1)


class GeluMLP(nn.Module):
    """``Linear -> GELU -> Linear``, named ``layers.{0,1}`` as in the checkpoints."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(dim, hidden), nn.Linear(hidden, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(linear_gelu(x, self.layers[0]), self.layers[1])


class PooledAttention(nn.Module):
    """Self-attention over a grid whose queries may be max-pooled (a stage change).

    Args:
        dim: Input token width.
        dim_out: Output token width (the projections widen the tokens at a stage change).
        num_heads: Attention heads.
        q_stride: Query pooling stride, or None for none.
    """

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride: int | None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H', W', C_out)``; ``H' = H / q_stride`` when pooling."""
        b, h, w, _ = x.shape
        # (B, H, W, 3 * C_out) -> 3 x (B, H*W, heads, C_out / heads)
        q, k, v = linear(x, self.qkv).reshape(b, h * w, 3, self.num_heads, -1).unbind(2)
        if self.q_stride:
            q = pool_grid(q.reshape(b, h, w, -1), self.q_stride)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        # (B, N, heads, d) -> (B, heads, N, d) for SDPA, and back
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        return linear(out.transpose(1, 2).reshape(b, h, w, -1), self.proj)


class HieraBlock(nn.Module):
    """Pre-norm transformer block, windowed or global, optionally changing stage.

    Args:
        dim: Input token width.
        dim_out: Output token width.
        num_heads: Attention heads.
        window_size: Window side, 0 for global attention.
        q_stride: Query pooling stride at a stage change, else None.
        mlp_ratio: MLP hidden width as a multiple of ``dim_out``.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        window_size: int,
        q_stride: int | None,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PooledAttention(dim, dim_out, num_heads, q_stride)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = GeluMLP(dim_out, int(dim_out * mlp_ratio))
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H', W', C_out)``."""
        shortcut = x
        x = self.norm1(x)
        if hasattr(self, "proj"):
            # The residual path is widened (and pooled) from the normalised tokens.
            shortcut = linear(x, self.proj)
            if self.q_stride:
                shortcut = pool_grid(shortcut, self.q_stride)
        size = self.window_size
        if size:
            out_hw = shortcut.shape[1:3]
            x, _ = window_partition(x, size)
        x = self.attn(x)
        if size:
            # Pooled queries shrink the windows with the grid.
            size = size // self.q_stride if self.q_stride else size
            padded = (out_hw[0] + -out_hw[0] % size, out_hw[1] + -out_hw[1] % size)
            x = window_unpartition(x, size, padded, out_hw)
        x = shortcut + x
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    """``7x7`` stride-4 convolution: ``(B, 3, H, W) -> (B, H/4, W/4, C)``."""

    def __init__(self, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, kernel_size=7, stride=4, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class Hiera(nn.Module):
    """The Hiera trunk; returns the last block's output of every stage.

    Args:
        config: The trunk's sizes.
    """

    def __init__(self, config: HieraConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.patch_embed = PatchEmbed(c.embed_dim)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, c.embed_dim, *c.window_pos_embed_bkg_spatial_size)
        )
        first_window = c.window_spec[0]
        self.pos_embed_window = nn.Parameter(
            torch.zeros(1, c.embed_dim, first_window, first_window)
        )
        pool_blocks = {end + 1 for end in c.stage_ends[:-1][: c.q_pool]}
        blocks = []
        dim, heads, stage = c.embed_dim, c.num_heads, 0
        for i in range(c.depth):
            # A stage's first block still uses the previous stage's window (its input grid).
            window = 0 if i in c.global_att_blocks else c.window_spec[stage]
            dim_out = dim
            if i - 1 in c.stage_ends:
                dim_out, heads, stage = int(dim * c.dim_mul), int(heads * c.head_mul), stage + 1
            stride = c.q_stride if i in pool_blocks else None
            blocks.append(HieraBlock(dim, dim_out, heads, window, stride, c.mlp_ratio))
            dim = dim_out
        self.blocks = nn.ModuleList(blocks)
        #: Output widths, lowest resolution first (the order the FPN neck lists them in).
        self.channel_list = c.stage_dims[::-1]
        self._pos_cache: tuple[tuple[object, ...], torch.Tensor] | None = None

    def position_embedding(self, height: int, width: int) -> torch.Tensor:
        """Background embedding resized to the grid plus the tiled window one: ``(1, H, W, C)``.

        Cached per grid size; the cache is rebuilt when either embedding is replaced or changed
        in place (``load_state_dict`` copies into them, which bumps their version counters).
        """
        bkg, window = self.pos_embed, self.pos_embed_window
        if bkg.is_inference() or window.is_inference():
            return self._position_embedding(height, width)
        key = (height, width, bkg.data_ptr(), bkg._version, window.data_ptr(), window._version)
        key += (bkg.device, bkg.dtype)
        if self._pos_cache is None or self._pos_cache[0] != key:
            self._pos_cache = (key, self._position_embedding(height, width))
        return self._pos_cache[1]

    def _position_embedding(self, height: int, width: int) -> torch.Tensor:
        pos = F.interpolate(self.pos_embed, size=(height, width), mode="bicubic")
        window = self.pos_embed_window
        reps = (height // window.shape[-2], width // window.shape[-1])
        pos = pos + window.tile(1, 1, *reps)
        return pos.permute(0, 2, 3, 1)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Encode ``(B, 3, S, S)`` images.

        Returns:
            One ``(B, C_s, S / (4 * 2**s), S / (4 * 2**s))`` map per stage ``s``, highest
            resolution first.
        """
        x = self.patch_embed(images)
        x = x + self.position_embedding(x.shape[1], x.shape[2])
        ends = set(self.config.stage_ends)
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
