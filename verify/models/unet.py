"""A compact UNet denoiser (epsilon prediction) for small images: the standard DDPM image backbone.

eps_hat(x, t) for x the vector of a (C, S, S) image whose entries are arranged by `order`
(entry m of x is entry order[m] of image.reshape(-1); identity when None), so it trains and samples
on the same vectors as the MLP and AR-DM models. Two resolutions: conv in, a residual block at
S x S, a strided conv to S/2 with a residual block, a transposed conv back, a residual block on the
skip concatenation, conv out. Each residual block adds a projection of the time embedding e(t).
"""

from __future__ import annotations

import torch
from torch import nn

from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor


class ResBlock(nn.Module):
    """h = conv(SiLU(GN(x))) + W e; out = skip(x) + conv(SiLU(GN(h)))."""

    def __init__(self, inputs: int, outputs: int, embedding: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(1, inputs), nn.GroupNorm(1, outputs)
        self.conv1 = nn.Conv2d(inputs, outputs, 3, padding=1)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, padding=1)
        self.time = nn.Linear(embedding, outputs)
        self.skip = nn.Identity() if inputs == outputs else nn.Conv2d(inputs, outputs, 1)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x))) + self.time(e)[:, :, None, None]
        return self.skip(x) + self.conv2(nn.functional.silu(self.norm2(h)))


class UNetScore(nn.Module):
    """eps_hat(x, t); forward(x (n, C S^2), t float or (n,)) -> (n, C S^2)."""

    def __init__(self, size: int, channels: int = 3, base: int = 16, order=None, time_features: int = 32):
        super().__init__()
        if size < 2 or size % 2 or channels < 1 or base < 1:
            raise ValueError(
                f"size, channels, base: need even size >= 2 and positive counts, got "
                f"{size}, {channels}, {base}"
            )
        self.size, self.channels = size, channels
        self.dim = channels * size * size
        order = torch.arange(self.dim) if order is None else torch.as_tensor(order).long()
        if sorted(order.tolist()) != list(range(self.dim)):
            raise ValueError(f"order: must be a permutation of range({self.dim})")
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        embedding = 4 * base
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.time = nn.Sequential(nn.Linear(time_features, embedding), nn.SiLU())
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        self.high = ResBlock(base, base, embedding)
        self.down = nn.Conv2d(base, 2 * base, 3, stride=2, padding=1)
        self.low = ResBlock(2 * base, 2 * base, embedding)
        self.up = nn.ConvTranspose2d(2 * base, base, 4, stride=2, padding=1)
        self.merge = ResBlock(2 * base, base, embedding)
        self.out = nn.Conv2d(base, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        n = x.shape[0]
        e = self.time(self.embed(time_tensor(t, n, x)))
        image = x[:, self.inverse].view(n, self.channels, self.size, self.size)
        skip = self.high(self.inp(image), e)
        low = self.low(self.down(skip), e)
        eps = self.out(self.merge(torch.cat([self.up(low), skip], dim=1), e))
        return eps.reshape(n, self.dim)[:, self.order]
