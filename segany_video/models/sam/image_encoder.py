"""SAM's ViT image encoder: patch embedding, windowed and global attention blocks with
decomposed relative positions, and a convolutional neck down to 256 channels.

Parameter names follow the official checkpoints (``patch_embed.proj``, ``pos_embed``,
``blocks.{i}.attn.qkv``, ``blocks.{i}.attn.rel_pos_h``, ``neck.{0..3}``).

The decomposed relative-position bias ``q · Rh[row(q), row(k)] + q · Rw[col(q), col(k)]`` is
built from two small products per block and handed to ``F.scaled_dot_product_attention`` as
its additive float mask, so the softmax and both matrix products run in one fused kernel
(flash attention on CPU, memory-efficient attention on GPU) instead of the reference's
separate matmul, broadcast add, softmax and matmul over ``(L, L)`` temporaries.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.layers import LayerNorm2d, MLPBlock

# Largest attention bias built at once, in elements (64 MiB in fp32): one head of a 64x64
# global block, or one image's 25 windows x 12 heads of vit_b's windowed blocks.
_BIAS_CHUNK_ELEMENTS = 1 << 24


class BiasWorkspace:
    """Reusable memory for attention biases, one buffer per thread, device and dtype.

    A fresh 64 MiB tensor per block costs more in page faults on CPU than filling it does;
    every block of an encoder shares one of these instead. Thread-local, so concurrent
    forwards of one model never share a buffer.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def __reduce__(self) -> tuple[type[BiasWorkspace], tuple[()]]:
        # Buffers are scratch memory: a pickled or deep-copied model starts with none.
        return (BiasWorkspace, ())

    def get(self, numel: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """A 1-D tensor of at least ``numel`` elements (contents undefined)."""
        buffers: dict[tuple[torch.device, torch.dtype], torch.Tensor] = (
            self._local.__dict__.setdefault("buffers", {})
        )
        buf = buffers.get((device, dtype))
        if buf is None or buf.numel() < numel:
            buf = torch.empty(numel, device=device, dtype=dtype)
            buffers[(device, dtype)] = buf
        return buf[:numel]


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch x patch`` convolution: ``(B, 3, H, W) -> (B, H/p, W/p, C)``."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A channels-last input gives a channels-last conv output, whose (B, H, W, C) view is
        # contiguous: the permute below is then free.
        return self.proj(x).permute(0, 2, 3, 1)


class RelPosAttention(nn.Module):
    """Multi-head self-attention over a ``size x size`` grid with decomposed relative positions.

    The module owns the weights only; :class:`Block` applies ``qkv`` and ``proj`` itself so that
    window partitioning happens on the projected tokens (see :meth:`Block.forward`).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        size: int,
        use_rel_pos: bool = True,
        workspace: BiasWorkspace | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace if workspace is not None else BiasWorkspace()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.size = size
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.use_rel_pos = use_rel_pos
        if use_rel_pos:
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * size - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * size - 1, self.head_dim))
        # Per device: the table of relative offsets ``row(q) - row(k) + size - 1``.
        self._offsets: dict[torch.device, torch.Tensor] = {}

    def _relative_positions(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``Rh, Rw``: ``(size, size, head_dim)`` embeddings of every query/key offset."""
        offsets = self._offsets.get(device)
        if offsets is None:
            idx = torch.arange(self.size, device=device)
            offsets = idx[:, None] - idx[None, :] + (self.size - 1)
            self._offsets[device] = offsets
        return self.rel_pos_h[offsets], self.rel_pos_w[offsets]

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Attention of ``(B, heads, L, head_dim)`` tokens of ``size x size`` grids.

        Returns:
            ``(B, heads, L, head_dim)``.
        """
        if not self.use_rel_pos:
            return F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        b, n, _, d = q.shape
        s = self.size
        rh, rw = self._relative_positions(q.device)
        q_grid = q.view(b, n, s, s, d)
        # (B, heads, qh, qw, d) x (qh, kh, d) -> (B, heads, qh, qw, kh); likewise for columns
        rel_h = torch.einsum("bnhwc,hkc->bnhwk", q_grid, rh)
        rel_w = torch.einsum("bnhwc,wkc->bnhwk", q_grid, rw)
        # The bias is built and consumed in chunks of whole images, or of heads of one image
        # when a single image's bias is already large (global blocks), so its memory stays
        # bounded and reused whatever the batch size.
        per_head = s**4
        if n * per_head <= _BIAS_CHUNK_ELEMENTS:
            step = max(1, _BIAS_CHUNK_ELEMENTS // (n * per_head))
            chunks = [(slice(i, min(b, i + step)), slice(0, n)) for i in range(0, b, step)]
        else:
            step = max(1, _BIAS_CHUNK_ELEMENTS // per_head)
            chunks = [
                (slice(i, i + 1), slice(h, min(n, h + step)))
                for i in range(b)
                for h in range(0, n, step)
            ]
        if len(chunks) == 1:
            return self._attend_chunk(q, k, v, rel_h, rel_w)
        out = torch.empty_like(q, memory_format=torch.contiguous_format)
        for bs, hs in chunks:
            out[bs, hs] = self._attend_chunk(
                q[bs, hs], k[bs, hs], v[bs, hs], rel_h[bs, hs], rel_w[bs, hs]
            )
        return out

    def _attend_chunk(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        rel_h: torch.Tensor,
        rel_w: torch.Tensor,
    ) -> torch.Tensor:
        b, n, L, _ = q.shape
        s = self.size
        # bias[q, (kh, kw)] = rel_h[q, kh] + rel_w[q, kw], written once, contiguous, in the
        # (B, heads, L, L) layout the fused kernel reads.
        bias = self.workspace.get(b * n * L * L, q.device, q.dtype).view(b, n, s, s, s, s)
        torch.add(rel_h[..., :, None], rel_w[..., None, :], out=bias)
        mask = bias.view(b, n, L, L)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)


class Block(nn.Module):
    """Pre-norm transformer block; ``window_size`` 0 means global attention."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        window_size: int,
        grid_size: int,
        use_rel_pos: bool = True,
        workspace: BiasWorkspace | None = None,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RelPosAttention(
            dim, num_heads, window_size if window_size > 0 else grid_size, use_rel_pos, workspace
        )
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, int(dim * mlp_ratio))
        self.window_size = window_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H, W, C)``."""
        attn = self.attn
        b, h, w, c = x.shape
        heads, d = attn.num_heads, attn.head_dim
        qkv = attn.qkv(self.norm1(x))  # (B, H, W, 3C)
        if self.window_size > 0:
            out = self._windowed(qkv)
        else:
            # (B, L, 3, heads, d) -> 3 x (B, heads, L, d), as views
            q, k, v = qkv.view(b, h * w, 3, heads, d).permute(2, 0, 3, 1, 4).unbind(0)
            out = attn.attend(q, k, v).transpose(1, 2).reshape(b, h, w, c)
        x = x + attn.proj(out)
        return x + self.mlp(self.norm2(x))

    def _windowed(self, qkv: torch.Tensor) -> torch.Tensor:
        """Attention inside non-overlapping windows: ``(B, H, W, 3C) -> (B, H, W, C)``."""
        attn = self.attn
        b, h, w, c3 = qkv.shape
        ws, heads, d = self.window_size, attn.num_heads, attn.head_dim
        hp, wp = -(-h // ws) * ws, -(-w // ws) * ws
        if (hp, wp) != (h, w):
            # The reference pads the normed tokens with zeros before the qkv projection, so a
            # padded token's q, k and v equal the projection bias.
            padded = attn.qkv.bias.to(qkv.dtype).expand(b, hp, wp, c3).clone()
            padded[:, :h, :w] = qkv
            qkv = padded
        nh, nw = hp // ws, wp // ws
        # (B, nh, ws, nw, ws, 3, heads, d) -> (3, B*nh*nw, heads, ws*ws, d): one copy does both
        # the window partition and the head split.
        qkv = qkv.view(b, nh, ws, nw, ws, 3, heads, d).permute(5, 0, 1, 3, 6, 2, 4, 7)
        q, k, v = qkv.reshape(3, b * nh * nw, heads, ws * ws, d).unbind(0)
        out = attn.attend(q, k, v)  # (B*nW, heads, ws*ws, d)
        # (B, nh, nw, heads, ws, ws, d) -> (B, nh, ws, nw, ws, heads, d) -> (B, Hp, Wp, C)
        out = out.view(b, nh, nw, heads, ws, ws, d).permute(0, 1, 4, 2, 5, 3, 6)
        out = out.reshape(b, hp, wp, heads * d)
        return out[:, :h, :w] if (hp, wp) != (h, w) else out


class Neck(nn.Sequential):
    """1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d: ``(B, H, W, C) -> (B, 256, H, W)``.

    Indexed like ``nn.Sequential`` so the checkpoint keys are ``neck.0.weight`` … ``neck.3.bias``.
    """

    def __init__(self, embed_dim: int, out_chans: int) -> None:
        super().__init__(
            nn.Conv2d(embed_dim, out_chans, kernel_size=1, bias=False),
            LayerNorm2d(out_chans),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv1, norm1, conv3, norm2 = self
        # The 1x1 conv is a linear map on channels-last tokens; its (B, C, H, W) view is
        # channels-last, which the 3x3 conv and the norms consume without copies.
        y = F.linear(x, conv1.weight.flatten(1))
        y = F.layer_norm(y, (y.shape[-1],), norm1.weight, norm1.bias, norm1.eps)
        y = conv3(y.permute(0, 3, 1, 2))
        return norm2(y).contiguous()


class ImageEncoderViT(nn.Module):
    """ViT backbone of SAM: ``(B, 3, S, S)`` normalised images -> ``(B, out_chans, S/p, S/p)``.

    Args:
        img_size: Input side ``S`` (1024 for the official models).
        patch_size: Patch side ``p``.
        embed_dim: Token width.
        depth: Number of blocks.
        num_heads: Attention heads per block.
        global_attn_indexes: Blocks that attend over the whole grid; the others use windows.
        window_size: Window side of the windowed blocks.
        out_chans: Channels of the neck output.
        mlp_ratio: Feed-forward width over ``embed_dim``.
        use_rel_pos: Add decomposed relative positions to attention (True for SAM).
    """

    def __init__(
        self,
        *,
        img_size: int = 1024,
        patch_size: int = 16,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        global_attn_indexes: tuple[int, ...] = (2, 5, 8, 11),
        window_size: int = 14,
        out_chans: int = 256,
        mlp_ratio: float = 4.0,
        use_rel_pos: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = img_size
        grid = img_size // patch_size
        self.patch_embed = PatchEmbed(patch_size, 3, embed_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, grid, grid, embed_dim))
        workspace = BiasWorkspace()
        self.blocks = nn.ModuleList(
            Block(
                embed_dim,
                num_heads,
                mlp_ratio,
                window_size=0 if i in global_attn_indexes else window_size,
                grid_size=grid,
                use_rel_pos=use_rel_pos,
                workspace=workspace,
            )
            for i in range(depth)
        )
        self.neck = Neck(embed_dim, out_chans)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        x = (self.patch_embed(x) + self.pos_embed).contiguous()  # (B, S/p, S/p, C)
        for block in self.blocks:
            x = block(x)
        return self.neck(x)
