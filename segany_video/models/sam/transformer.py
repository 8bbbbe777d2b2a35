"""SAM's two-way transformer: prompt tokens and image tokens attend to each other.

Parameter names follow the official checkpoints (``layers.{i}.self_attn.q_proj`` …,
``final_attn_token_to_image``, ``norm_final_attn``).

Two things the reference does not do, both exact:

- ``token_valid`` masks batch-padding tokens out as attention keys, so objects with different
  prompt structures share one batch (see :mod:`segany_video.models.sam.prompt_encoder`).
- The image tokens may come with batch 1 for all N objects (objects without a mask prompt see
  the same image); projections of them are then computed once and broadcast, until the first
  image update makes them per-object.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.fused_cpu import linear
from segany_video.models.sam.layers import MLPBlock


class Attention(nn.Module):
    """Multi-head attention whose projections may narrow the width by ``downsample_rate``."""

    def __init__(self, embedding_dim: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        self.num_heads = num_heads
        internal_dim = embedding_dim // downsample_rate
        if internal_dim % num_heads:
            raise ValueError(f"num_heads {num_heads} must divide the width {internal_dim}")
        self.q_proj = nn.Linear(embedding_dim, internal_dim)
        self.k_proj = nn.Linear(embedding_dim, internal_dim)
        self.v_proj = nn.Linear(embedding_dim, internal_dim)
        self.out_proj = nn.Linear(internal_dim, embedding_dim)

    def _heads(self, x: torch.Tensor, batch: int) -> torch.Tensor:
        # (B, N, C) -> (B, heads, N, C/heads), broadcasting a batch of 1 to ``batch``
        b, n, c = x.shape
        x = x.view(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)
        return x.expand(batch, -1, -1, -1)

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend ``(B|1, Nq, C)`` queries to ``(B|1, Nk, C)`` keys/values.

        Args:
            key_valid: ``(B, Nk)`` bool, False for keys no query may see; None: all valid.

        Returns:
            ``(B, Nq, C)``.
        """
        batch = max(q.shape[0], k.shape[0])
        qh = self._heads(linear(q, self.q_proj), batch)
        kh = self._heads(linear(k, self.k_proj), batch)
        vh = self._heads(linear(v, self.v_proj), batch)
        mask = None if key_valid is None else key_valid[:, None, None, :]
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        # (B, heads, Nq, d) -> (B, Nq, heads * d)
        out = out.transpose(1, 2).reshape(batch, out.shape[2], -1)
        return linear(out, self.out_proj)


class TwoWayAttentionBlock(nn.Module):
    """Token self-attention, token-to-image attention, token MLP, image-to-token attention."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        mlp_dim: int,
        attention_downsample_rate: int,
        skip_first_layer_pe: bool,
        token_mlp: Callable[[int, int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.self_attn = Attention(embedding_dim, num_heads)
        self.norm1 = nn.LayerNorm(embedding_dim)
        self.cross_attn_token_to_image = Attention(
            embedding_dim, num_heads, attention_downsample_rate
        )
        self.norm2 = nn.LayerNorm(embedding_dim)
        self.mlp = (
            MLPBlock(embedding_dim, mlp_dim, nn.ReLU)
            if token_mlp is None
            else token_mlp(embedding_dim, mlp_dim)
        )
        self.norm3 = nn.LayerNorm(embedding_dim)
        self.norm4 = nn.LayerNorm(embedding_dim)
        self.cross_attn_image_to_token = Attention(
            embedding_dim, num_heads, attention_downsample_rate
        )
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        query_pe: torch.Tensor,
        key_pe: torch.Tensor,
        token_valid: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``queries`` ``(B, T, C)``, ``keys`` ``(B|1, HW, C)`` -> both updated."""
        if self.skip_first_layer_pe:
            # The first layer replaces the tokens by their attention output (no residual).
            queries = self.self_attn(queries, queries, queries, token_valid)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries, token_valid)
        queries = self.norm1(queries)

        k = keys + key_pe
        queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, k, keys))
        queries = self.norm3(queries + self.mlp(queries))

        q = queries + query_pe
        keys = self.norm4(keys + self.cross_attn_image_to_token(k, q, queries, token_valid))
        return queries, keys


class TwoWayTransformer(nn.Module):
    """Stack of :class:`TwoWayAttentionBlock` plus a final token-to-image attention.

    Args:
        depth: Number of blocks (2).
        embedding_dim: Token width (256).
        num_heads: Attention heads (8).
        mlp_dim: Token MLP width (2048).
        attention_downsample_rate: Width reduction inside cross attention (2).
        token_mlp: ``token_mlp(embedding_dim, mlp_dim)`` builds each block's token MLP; None
            gives SAM's ``lin1``/``lin2`` block (SAM 2 names the same ReLU MLP ``layers.{0,1}``).
    """

    def __init__(
        self,
        depth: int = 2,
        embedding_dim: int = 256,
        num_heads: int = 8,
        mlp_dim: int = 2048,
        attention_downsample_rate: int = 2,
        token_mlp: Callable[[int, int], nn.Module] | None = None,
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayAttentionBlock(
                embedding_dim,
                num_heads,
                mlp_dim,
                attention_downsample_rate,
                skip_first_layer_pe=(i == 0),
                token_mlp=token_mlp,
            )
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(
            embedding_dim, num_heads, attention_downsample_rate
        )
        self.norm_final_attn = nn.LayerNorm(embedding_dim)

    def forward(
        self,
        image_embedding: torch.Tensor,
        image_pe: torch.Tensor,
        point_embedding: torch.Tensor,
        token_valid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the two-way attention.

        Args:
            image_embedding: ``(B|1, C, h, w)`` image (plus dense prompt) embedding; batch 1 is
                shared by all B objects.
            image_pe: ``(1, C, h, w)`` positional encoding of the image grid.
            point_embedding: ``(B, T, C)`` output and prompt tokens.
            token_valid: ``(B, T)`` bool, False for batch-padding tokens; None: all valid.

        Returns:
            ``(B, T, C)`` tokens and ``(B, h*w, C)`` image tokens.
        """
        # (B, C, h, w) -> (B, h*w, C), made contiguous once here: every later op on the image
        # tokens (projections, norms, residual adds) then reads them without a hidden copy.
        keys = image_embedding.flatten(2).transpose(1, 2).contiguous()
        key_pe = image_pe.flatten(2).transpose(1, 2).contiguous()
        queries = point_embedding
        for layer in self.layers:
            queries, keys = layer(queries, keys, point_embedding, key_pe, token_valid)
        attn = self.final_attn_token_to_image(queries + point_embedding, keys + key_pe, keys)
        queries = self.norm_final_attn(queries + attn)
        return queries, keys.expand(queries.shape[0], -1, -1)
