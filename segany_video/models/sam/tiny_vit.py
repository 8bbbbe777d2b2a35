"""TinyViT-5M, the distilled image encoder of MobileSAM.

A 1024x1024 image becomes a ``(B, 256, 64, 64)`` embedding, the same shape SAM's ViT encoders
produce, so MobileSAM reuses SAM's prompt encoder and mask decoder unchanged.

Stages (for the official 5M configuration):

- patch embedding: two stride-2 convolutions, ``(B, 3, 1024, 1024) -> (B, 64, 256, 256)``;
- stage 0: MBConv blocks (inverted residual convolutions) at 256x256;
- stages 1-3: transformer blocks with windowed attention at 128x128, 64x64 and 64x64. The
  attention bias is a learned table per head indexed by the absolute ``(dy, dx)`` offset between
  two tokens of a window; it is passed to SDPA as an additive float mask;
- patch merging between stages (1x1 conv, depthwise 3x3 conv, 1x1 conv). The last merging keeps
  the resolution (stride 1) so the final stage stays at 64x64, which is what MobileSAM changed
  from the classification TinyViT;
- neck: 1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d to 256 channels.

Parameter names follow the official ``mobile_sam.pt`` layout (``patch_embed.seq.0.c.weight``,
``layers.1.blocks.0.attn.attention_biases``, ...). The checkpoint also carries an ImageNet
classification head (``norm_head``, ``head``) that MobileSAM never runs; it is kept as parameters
so the official file loads with strict key checks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from segany_video.models.sam.fused_cpu import conv2d_gelu, linear, linear_gelu
from segany_video.models.sam.layers import LayerNorm2d


@dataclass(frozen=True)
class TinyViTConfig:
    """Shape of a TinyViT encoder; the defaults are MobileSAM's TinyViT-5M.

    Attributes:
        img_size: side of the square input, pixels.
        embed_dims: channels of stages 0-3.
        depths: blocks per stage.
        num_heads: attention heads per stage (stage 0 is convolutional; its entry is unused).
        window_sizes: attention window side per stage (stage 0 unused).
        mlp_ratio: hidden/embed width of the transformer MLPs.
        mbconv_expand_ratio: hidden/embed width of the MBConv blocks.
        local_conv_size: kernel of the depthwise conv between attention and MLP.
        out_chans: channels of the neck output (SAM's prompt embedding width).
        num_classes: width of the unused classification head (1000 in the official file).
    """

    img_size: int = 1024
    embed_dims: tuple[int, ...] = (64, 128, 160, 320)
    depths: tuple[int, ...] = (2, 2, 6, 2)
    num_heads: tuple[int, ...] = (2, 4, 5, 10)
    window_sizes: tuple[int, ...] = (7, 7, 14, 7)
    mlp_ratio: float = 4.0
    mbconv_expand_ratio: float = 4.0
    local_conv_size: int = 3
    out_chans: int = 256
    num_classes: int = 1000

    def __post_init__(self) -> None:
        n = len(self.embed_dims)
        for field in ("depths", "num_heads", "window_sizes"):
            if len(getattr(self, field)) != n:
                raise ValueError(
                    f"TinyViTConfig.{field} needs {n} entries (one per stage), "
                    f"got {getattr(self, field)}"
                )
        if n < 2:
            raise ValueError(f"TinyViT needs at least 2 stages, got {n}")
        for dim, heads in zip(self.embed_dims[1:], self.num_heads[1:], strict=True):
            if dim % heads:
                raise ValueError(f"stage width {dim} is not divisible by its {heads} heads")
        if self.img_size % (4 * 2 ** (n - 2)):
            raise ValueError(
                f"img_size {self.img_size} must be divisible by {4 * 2 ** (n - 2)} for {n} stages"
            )

    def stage_resolution(self, stage: int) -> int:
        """Side of the token grid of ``stage``: 1/4 after the embedding, halved by each merging
        except the last, which keeps the resolution."""
        return self.img_size // 4 // 2 ** min(stage, len(self.embed_dims) - 2)

    @property
    def embedding_size(self) -> int:
        """Side of the output embedding (64 for a 1024 input)."""
        return self.stage_resolution(len(self.embed_dims) - 1)


class Conv2dBN(nn.Sequential):
    """Bias-free convolution followed by BatchNorm (keys ``c.*`` and ``bn.*``)."""

    def __init__(
        self,
        in_chans: int,
        out_chans: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
    ) -> None:
        super().__init__()
        self.c = nn.Conv2d(
            in_chans, out_chans, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_chans)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The convolution's weight and bias with the (inference) BatchNorm folded in."""
        # At inference BatchNorm is an affine map: fold it into the (small) conv weights instead
        # of making another pass over the (large) activations.
        bn = self.bn
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        return self.c.weight * scale[:, None, None, None], bn.bias - bn.running_mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.bn(self.c(x))
        c = self.c
        return F.conv2d(x, *self.folded(), c.stride, c.padding, c.dilation, c.groups)

    def forward_gelu(self, x: torch.Tensor) -> torch.Tensor:
        """``gelu(forward(x))``, as one fused kernel on the CPU (see ``fused_cpu``)."""
        if self.training:
            return F.gelu(self.bn(self.c(x)))
        return conv2d_gelu(x, *self.folded(), self.c)


class PatchEmbed(nn.Module):
    """``(B, 3, H, W) -> (B, C, H/4, W/4)`` with two stride-2 3x3 convolutions."""

    def __init__(self, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.seq = nn.Sequential(
            Conv2dBN(in_chans, embed_dim // 2, 3, 2, 1),
            nn.GELU(),
            Conv2dBN(embed_dim // 2, embed_dim, 3, 2, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq[2](self.seq[0].forward_gelu(x))


class MBConv(nn.Module):
    """Inverted residual block on ``(B, C, H, W)``: expand 1x1, depthwise 3x3, project 1x1."""

    def __init__(self, dim: int, expand_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * expand_ratio)
        self.conv1 = Conv2dBN(dim, hidden)
        self.conv2 = Conv2dBN(hidden, hidden, 3, 1, 1, groups=hidden)
        self.conv3 = Conv2dBN(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2.forward_gelu(self.conv1.forward_gelu(x))
        return F.gelu(self.conv3(y) + x)


class PatchMerging(nn.Module):
    """``(B, C, H, W) -> (B, C', H/s, W/s)`` with 1x1, depthwise 3x3 (stride s) and 1x1 convs."""

    def __init__(self, dim: int, out_dim: int, stride: int) -> None:
        super().__init__()
        self.conv1 = Conv2dBN(dim, out_dim)
        self.conv2 = Conv2dBN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2dBN(out_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2.forward_gelu(self.conv1.forward_gelu(x)))


def _offset_index(window: int) -> torch.Tensor:
    """``(N, N)`` int64 index into the bias table for the N = window² tokens of a window.

    Offsets ``(|dy|, |dx|)`` are numbered in the order they are first met scanning token pairs
    row-major, which is the numbering the official bias tables use.
    """
    points = list(itertools.product(range(window), range(window)))
    numbering: dict[tuple[int, int], int] = {}
    idxs = []
    for p in points:
        for q in points:
            offset = (abs(p[0] - q[0]), abs(p[1] - q[1]))
            idxs.append(numbering.setdefault(offset, len(numbering)))
    return torch.tensor(idxs, dtype=torch.int64).view(len(points), len(points))


class Attention(nn.Module):
    """Multi-head self-attention over the tokens of one window, with a learned offset bias.

    Pre-normalised (the LayerNorm lives inside, as in the official layout); q, k and v share one
    projection laid out per head as ``[q | k | v]``.
    """

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        idxs = _offset_index(window)
        # Every (|dy|, |dx|) with 0 <= dy, dx < window occurs: window² offsets per head.
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, window * window))
        # Derived from the window size, so not saved: the official file has no such key.
        self.register_buffer("attention_bias_idxs", idxs, persistent=False)
        self._bias_mask: tuple[tuple[object, ...], torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, N, C) -> (B, N, C)`` for B windows of N tokens."""
        b, n, c = x.shape
        qkv = linear(self.norm(x), self.qkv)
        # (B, N, 3C) -> (B, heads, N, 3 * head_dim): each head's slice is [q | k | v]
        qkv = qkv.view(b, n, self.num_heads, 3 * self.head_dim).transpose(1, 2)
        q, k, v = qkv.split(self.head_dim, dim=-1)
        x = F.scaled_dot_product_attention(q, k, v, attn_mask=self.bias_mask(q.dtype))
        return linear(x.transpose(1, 2).reshape(b, n, c), self.proj)

    def bias_mask(self, dtype: torch.dtype) -> torch.Tensor:
        """The ``(1, heads, N, N)`` additive attention mask gathered from the bias table.

        With a 4-D mask torch's CPU backend takes its fused (flash) attention kernel; a 3-D
        one sends it to the unfused math path, about 5x slower here. Without gradients the
        gather is cached until the table changes (``load_state_dict`` copies into it, which
        bumps its version counter).
        """
        table = self.attention_biases
        if torch.is_grad_enabled() or table.is_inference():
            # Inference tensors have no version counter to key a cache on.
            return table[:, self.attention_bias_idxs][None].to(dtype)
        key = (table.data_ptr(), table._version, table.device, dtype)
        if self._bias_mask is None or self._bias_mask[0] != key:
            self._bias_mask = (key, table[:, self.attention_bias_idxs][None].to(dtype))
        return self._bias_mask[1]


class Mlp(nn.Module):
    """Pre-normalised two-layer GELU MLP on ``(B, N, C)`` tokens."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(linear_gelu(self.norm(x), self.fc1), self.fc2)


class TinyViTBlock(nn.Module):
    """Windowed attention, a depthwise conv across windows, then an MLP; all residual."""

    def __init__(
        self, dim: int, num_heads: int, window: int, mlp_ratio: float, local_conv_size: int
    ) -> None:
        super().__init__()
        self.window = window
        self.attn = Attention(dim, num_heads, window)
        self.local_conv = Conv2dBN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def _windowed_attention(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H, W, C)``, attention within non-overlapping windows.

        The grid is zero-padded at the bottom/right to whole windows. The padding tokens take
        part in attention unmasked (their LayerNorm output is the norm's bias); the official
        model was trained that way, so masking them would change its answers.
        """
        b, h, w, c = x.shape
        s = self.window
        pad_b, pad_r = -h % s, -w % s
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        nh, nw = (h + pad_b) // s, (w + pad_r) // s
        # (B, nh*s, nw*s, C) -> (B*nh*nw, s*s, C)
        x = x.view(b, nh, s, nw, s, c).transpose(2, 3).reshape(b * nh * nw, s * s, c)
        x = self.attn(x)
        x = x.view(b, nh, nw, s, s, c).transpose(2, 3).reshape(b, nh * s, nw * s, c)
        return x[:, :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C) -> (B, H, W, C)`` (channels-last token grid)."""
        x = x + self._windowed_attention(x)
        x = self.local_conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class ConvLayer(nn.Module):
    """Stage 0: MBConv blocks on ``(B, C, H, W)``, then patch merging."""

    def __init__(self, dim: int, depth: int, expand_ratio: float, downsample: PatchMerging) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(MBConv(dim, expand_ratio) for _ in range(depth))
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, H', W', C')`` channels-last for the next stage."""
        for block in self.blocks:
            x = block(x)
        return self.downsample(x).permute(0, 2, 3, 1)


class BasicLayer(nn.Module):
    """Stages 1-3: TinyViT blocks on a ``(B, H, W, C)`` grid, then optional patch merging."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        window: int,
        mlp_ratio: float,
        local_conv_size: int,
        downsample: PatchMerging | None,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            TinyViTBlock(dim, num_heads, window, mlp_ratio, local_conv_size) for _ in range(depth)
        )
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        if self.downsample is not None:
            x = self.downsample(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x


class TinyViT(nn.Module):
    """MobileSAM's image encoder: ``(B, 3, S, S)`` normalised image -> ``(B, 256, S/16, S/16)``."""

    def __init__(self, config: TinyViTConfig | None = None) -> None:
        super().__init__()
        cfg = config or TinyViTConfig()
        self.config = cfg
        self.img_size = cfg.img_size
        dims = cfg.embed_dims
        last = len(dims) - 1
        self.patch_embed = PatchEmbed(3, dims[0])

        def merging(stage: int) -> PatchMerging:
            # MobileSAM keeps 64x64 for the last stage: its merging does not downsample.
            stride = 1 if stage + 1 == last else 2
            return PatchMerging(dims[stage], dims[stage + 1], stride)

        layers: list[nn.Module] = [
            ConvLayer(dims[0], cfg.depths[0], cfg.mbconv_expand_ratio, merging(0))
        ]
        for stage in range(1, len(dims)):
            layers.append(
                BasicLayer(
                    dims[stage],
                    cfg.depths[stage],
                    cfg.num_heads[stage],
                    cfg.window_sizes[stage],
                    cfg.mlp_ratio,
                    cfg.local_conv_size,
                    merging(stage) if stage < last else None,
                )
            )
        self.layers = nn.ModuleList(layers)
        # The ImageNet head of the distilled classifier: in the official file, never run.
        self.norm_head = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], cfg.num_classes)
        self.neck = nn.Sequential(
            nn.Conv2d(dims[-1], cfg.out_chans, kernel_size=1, bias=False),
            LayerNorm2d(cfg.out_chans),
            nn.Conv2d(cfg.out_chans, cfg.out_chans, kernel_size=3, padding=1, bias=False),
            LayerNorm2d(cfg.out_chans),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encode normalised, padded images.

        Args:
            x: ``(B, 3, S, S)`` float, S = ``config.img_size``.

        Returns:
            ``(B, out_chans, S/16, S/16)`` image embeddings.
        """
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(
                f"TinyViT expects (B, 3, {self.img_size}, {self.img_size}) input, "
                f"got {tuple(x.shape)}"
            )
        x = self.patch_embed(x)  # (B, C0, S/4, S/4)
        for layer in self.layers:
            x = layer(x)  # first (B, C, H, W) -> channels-last grid, then grid -> grid
        return self.neck(x.permute(0, 3, 1, 2))
