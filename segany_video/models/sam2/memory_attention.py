"""SAM 2 memory attention: the current frame's features attend to the object's memories.

Each layer runs self-attention over the frame's tokens, then cross-attention from those tokens to
the memory tokens (spatial memories of earlier frames, then object pointers), then a ReLU MLP;
all pre-norm with residuals. Both attentions use axial RoPE (``rope_attention``).

Tensors are batch-first here (``(B, N, C)``); Meta's module takes sequence-first tensors.
Parameter names follow the official checkpoint (``memory_attention.layers.{i}.*``).
"""

from __future__ import annotations

import torch
from torch import nn

from segany_video.models.sam.fused_cpu import linear, linear_relu
from segany_video.models.sam2.rope_attention import RoPEAttention


class MemoryAttentionLayer(nn.Module):
    """One self-attention + memory cross-attention + MLP block.

    Args:
        d_model: Width of the frame tokens.
        mem_dim: Width of the memory tokens.
        dim_feedforward: Hidden width of the MLP.
        num_heads: Heads of both attentions.
    """

    def __init__(self, d_model: int, mem_dim: int, dim_feedforward: int, num_heads: int) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, num_heads)
        self.cross_attn_image = RoPEAttention(
            d_model, num_heads, kv_in_dim=mem_dim, repeat_keys=True
        )
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)

    def attend_self(self, tgt: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        """The self-attention block: ``(B, HW, C) -> (B, HW, C)``."""
        normed = self.norm1(tgt)
        return tgt + self.self_attn(normed, normed, normed, feat_size)

    def attend_memory(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        feat_size: tuple[int, int],
        num_obj_ptr_tokens: int,
    ) -> torch.Tensor:
        """The cross-attention and MLP blocks: ``(B, HW, C) -> (B, HW, C)``.

        Only the memory keys get their position encoding added here (the frame's enters once,
        before the first layer).
        """
        normed = self.norm2(tgt)
        tgt = tgt + self.cross_attn_image(
            normed, memory + memory_pos, memory, feat_size, num_k_exclude_rope=num_obj_ptr_tokens
        )
        normed = self.norm3(tgt)
        return tgt + linear(linear_relu(normed, self.linear1), self.linear2)

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        feat_size: tuple[int, int],
        num_obj_ptr_tokens: int,
    ) -> torch.Tensor:
        """``tgt`` ``(B, HW, C)``; ``memory``, ``memory_pos`` ``(B, M, mem_dim)``.

        Returns:
            ``(B, HW, C)``.
        """
        tgt = self.attend_self(tgt, feat_size)
        return self.attend_memory(tgt, memory, memory_pos, feat_size, num_obj_ptr_tokens)


class MemoryAttention(nn.Module):
    """A stack of ``MemoryAttentionLayer`` with a final layer norm.

    Args:
        d_model: Width of the frame tokens (the neck's width, 256).
        num_layers: Layers in the stack.
        mem_dim: Width of the memory tokens (the memory encoder's output, 64).
        dim_feedforward: Hidden width of each MLP.
        num_heads: Attention heads.
    """

    def __init__(
        self,
        d_model: int = 256,
        num_layers: int = 4,
        mem_dim: int = 64,
        dim_feedforward: int = 2048,
        num_heads: int = 1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(d_model, mem_dim, dim_feedforward, num_heads)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def frame_queries(
        self, curr: torch.Tensor, curr_pos: torch.Tensor, feat_size: tuple[int, int]
    ) -> torch.Tensor:
        """The frame's tokens through the first layer's self-attention, before any memory.

        They depend on the frame alone, so one computation serves every object tracked on it.

        Args:
            curr: Frame tokens ``(B, H*W, d_model)`` in row-major grid order.
            curr_pos: Their position encoding, same shape.
            feat_size: ``(H, W)`` of the frame's grid.

        Returns:
            ``(B, H*W, d_model)``.
        """
        return self.layers[0].attend_self(curr + 0.1 * curr_pos, feat_size)

    def read_memory(
        self,
        queries: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        feat_size: tuple[int, int],
        num_obj_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        """Condition :meth:`frame_queries` on one memory: the rest of the stack.

        Args:
            queries: ``(B, H*W, d_model)`` from :meth:`frame_queries`; a batch of one is
                broadcast over the memory's batch.
            memory: Memory tokens ``(B, M, mem_dim)``: spatial memories first, then
                ``num_obj_ptr_tokens`` object-pointer tokens.
            memory_pos: Position encodings of the memory tokens, same shape.
            feat_size: ``(H, W)`` of the frame's grid.
            num_obj_ptr_tokens: Trailing memory tokens without a grid place.

        Returns:
            ``(B, H*W, d_model)`` memory-conditioned frame tokens.
        """
        if queries.shape[0] not in (1, memory.shape[0]):
            raise ValueError(
                f"frame batch {queries.shape[0]} differs from memory batch {memory.shape[0]}"
            )
        queries = queries.expand(memory.shape[0], -1, -1)
        first, *rest = self.layers
        output = first.attend_memory(queries, memory, memory_pos, feat_size, num_obj_ptr_tokens)
        for layer in rest:
            output = layer(output, memory, memory_pos, feat_size, num_obj_ptr_tokens)
        return self.norm(output)

    def forward(
        self,
        curr: torch.Tensor,
        curr_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        feat_size: tuple[int, int],
        num_obj_ptr_tokens: int = 0,
    ) -> torch.Tensor:
        """Condition the frame's tokens on the memory (:meth:`frame_queries` then
        :meth:`read_memory`); shapes as there, ``curr`` and ``memory`` of one batch size."""
        if curr.shape[0] != memory.shape[0]:
            raise ValueError(
                f"frame batch {curr.shape[0]} differs from memory batch {memory.shape[0]}"
            )
        queries = self.frame_queries(curr, curr_pos, feat_size)
        return self.read_memory(queries, memory, memory_pos, feat_size, num_obj_ptr_tokens)
