"""SAM's prompt encoder: points and box corners become sparse tokens, mask prompts a dense map.

Parameter names follow the official checkpoints (``pe_layer.positional_encoding_gaussian_matrix``,
``point_embeddings.{0..3}``, ``not_a_point_embed``, ``mask_downscaling.{0,1,3,4,6}``,
``no_mask_embed``).

Sparse prompts of N objects are encoded in one batch of token rows. Each row holds exactly the
tokens SAM would build for that object alone (its points, a "not a point" pad when it has
points but no box, then the two box corners), right-padded with :data:`FILLER` tokens up to the
longest row. Filler tokens carry zeros and are masked out as attention keys by the decoder
(see ``token_valid``), so a mixed batch gives each object the same answer as a call of its own.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from segany_video.models.sam.layers import LayerNorm2d

# Token codes of a sparse prompt row.
FILLER = -2  # batch padding: invisible to attention
NOT_A_POINT = -1  # SAM's own pad token after points when there is no box
NEGATIVE_POINT = 0
POSITIVE_POINT = 1
BOX_TOP_LEFT = 2
BOX_BOTTOM_RIGHT = 3


class PositionEmbeddingRandom(nn.Module):
    """Fourier features of ``(x, y)`` positions with a fixed random Gaussian frequency matrix."""

    def __init__(self, num_pos_feats: int = 128) -> None:
        super().__init__()
        # Persistent: the matrix is part of the official checkpoint.
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, num_pos_feats))

    def encode_unit(self, coords: torch.Tensor) -> torch.Tensor:
        """``(..., 2)`` positions in ``[0, 1]`` -> ``(..., 2 * num_pos_feats)`` features."""
        gauss = self.positional_encoding_gaussian_matrix
        proj = (2 * coords.to(gauss.dtype) - 1) @ gauss
        proj = 2 * math.pi * proj
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)

    def encode_grid(self, height: int, width: int) -> torch.Tensor:
        """Features of the cell centres of a ``height x width`` grid: ``(C, height, width)``."""
        gauss = self.positional_encoding_gaussian_matrix
        ys = (torch.arange(height, device=gauss.device, dtype=torch.float32) + 0.5) / height
        xs = (torch.arange(width, device=gauss.device, dtype=torch.float32) + 0.5) / width
        grid = torch.stack(
            [xs[None, :].expand(height, width), ys[:, None].expand(height, width)], dim=-1
        )
        return self.encode_unit(grid).permute(2, 0, 1)


class PromptEncoder(nn.Module):
    """Embeds points, boxes and mask prompts for the mask decoder.

    Args:
        embed_dim: Token width (256).
        image_embedding_size: ``(h, w)`` of the image embedding (64, 64).
        input_image_size: ``(H, W)`` of the padded encoder input (1024, 1024); point
            coordinates are pixels of this frame.
        mask_in_chans: Hidden channels of the mask downscaling convolutions (16).
    """

    def __init__(
        self,
        embed_dim: int = 256,
        image_embedding_size: tuple[int, int] = (64, 64),
        input_image_size: tuple[int, int] = (1024, 1024),
        mask_in_chans: int = 16,
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.image_embedding_size = image_embedding_size
        self.input_image_size = input_image_size
        self.mask_input_size = (4 * image_embedding_size[0], 4 * image_embedding_size[1])
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        # 0: negative point, 1: positive point, 2: box top-left, 3: box bottom-right
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, embed_dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, embed_dim)
        self.mask_downscaling = nn.Sequential(
            nn.Conv2d(1, mask_in_chans // 4, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans // 4),
            nn.GELU(),
            nn.Conv2d(mask_in_chans // 4, mask_in_chans, kernel_size=2, stride=2),
            LayerNorm2d(mask_in_chans),
            nn.GELU(),
            nn.Conv2d(mask_in_chans, embed_dim, kernel_size=1),
        )
        self.no_mask_embed = nn.Embedding(1, embed_dim)
        self._dense_pe: tuple[tuple[object, ...], torch.Tensor] | None = None

    def get_dense_pe(self) -> torch.Tensor:
        """Positional encoding of the image embedding grid: ``(1, C, h, w)``.

        Cached; the cache is rebuilt when the frequency matrix is replaced or modified in place
        (``load_state_dict`` copies into it, which bumps its version counter).
        """
        gauss = self.positional_encoding_gaussian_matrix
        if gauss.is_inference():
            # Inference tensors have no version counter to key a cache on.
            return self.pe_layer.encode_grid(*self.image_embedding_size)[None]
        key = (gauss.data_ptr(), gauss._version, gauss.device, gauss.dtype)
        if self._dense_pe is None or self._dense_pe[0] != key:
            self._dense_pe = (key, self.pe_layer.encode_grid(*self.image_embedding_size)[None])
        return self._dense_pe[1]

    @property
    def positional_encoding_gaussian_matrix(self) -> torch.Tensor:
        return self.pe_layer.positional_encoding_gaussian_matrix

    def embed_sparse(self, coords: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """Embed token rows of points and box corners.

        Args:
            coords: ``(N, T, 2)`` float ``(x, y)`` in pixels of the padded input frame.
            codes: ``(N, T)`` int64 token codes (:data:`FILLER`, :data:`NOT_A_POINT`,
                :data:`NEGATIVE_POINT`, :data:`POSITIVE_POINT`, :data:`BOX_TOP_LEFT`,
                :data:`BOX_BOTTOM_RIGHT`).

        Returns:
            ``(N, T, C)`` token embeddings; filler and not-a-point tokens carry no position.
        """
        in_h, in_w = self.input_image_size
        # +0.5: a pixel coordinate names the pixel's centre.
        unit = (coords + 0.5) / torch.tensor([in_w, in_h], device=coords.device)
        pe = self.pe_layer.encode_unit(unit)
        weight = self.not_a_point_embed.weight
        table = torch.cat(
            [
                torch.zeros_like(weight),  # FILLER
                weight,  # NOT_A_POINT
                *(emb.weight for emb in self.point_embeddings),
            ]
        )  # (6, C), row = code + 2
        has_position = (codes >= 0)[..., None]
        return torch.where(has_position, pe, 0.0) + table[codes + 2]

    def embed_masks(self, mask_logits: torch.Tensor) -> torch.Tensor:
        """``(M, 1, 4h, 4w)`` low-res mask logits -> ``(M, C, h, w)`` dense embeddings."""
        return self.mask_downscaling(mask_logits)

    def no_mask_dense(self) -> torch.Tensor:
        """The dense embedding of an object without a mask prompt: ``(1, C, 1, 1)``."""
        return self.no_mask_embed.weight.reshape(1, -1, 1, 1)
