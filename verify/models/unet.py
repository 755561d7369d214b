"""A compact UNet denoiser (epsilon prediction) for small images: the standard DDPM image backbone.

eps_hat(x, t) for x the vector of a (C, S, S) image whose entries are arranged by `order`
(entry m of x is entry order[m] of image.reshape(-1); identity when None), so it trains and samples
on the same vectors as the MLP and AR-DM models. L resolution levels S / 2^l with c_l = 2^l base
channels (l = 0..L-1): conv in, a residual block at level 0; down the levels a strided conv and
a residual block; back up a transposed conv, a residual block on the concatenation with the
level's skip; conv out. Each residual block adds a projection of the time embedding e(t). The
receptive field grows about 2^L-fold, while a level at S / 2^l costs 4^-l of the pixel work.
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

    def __init__(
        self,
        size: int,
        channels: int = 3,
        base: int = 16,
        order=None,
        time_features: int = 32,
        levels: int = 2,
    ):
        super().__init__()
        if levels < 2 or size < 2 ** (levels - 1) or size % 2 ** (levels - 1) or channels < 1 or base < 1:
            raise ValueError(
                f"size, channels, base, levels: need levels >= 2, size a multiple of 2^(levels-1) and "
                f"positive counts, got {size}, {channels}, {base}, {levels}"
            )
        self.size, self.channels = size, channels
        self.dim = channels * size * size
        order = torch.arange(self.dim) if order is None else torch.as_tensor(order).long()
        if sorted(order.tolist()) != list(range(self.dim)):
            raise ValueError(f"order: must be a permutation of range({self.dim})")
        self.register_buffer("order", order, persistent=False)
        self.register_buffer("inverse", torch.argsort(order), persistent=False)
        embedding = 4 * base
        width = [base * 2**level for level in range(levels)]
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.time = nn.Sequential(nn.Linear(time_features, embedding), nn.SiLU())
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        self.high = ResBlock(base, base, embedding)
        pairs = list(zip(width[:-1], width[1:], strict=True))
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in pairs)
        self.lows = nn.ModuleList(ResBlock(b, b, embedding) for b in width[1:])
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 4, stride=2, padding=1) for a, b in pairs)
        self.merges = nn.ModuleList(ResBlock(2 * a, a, embedding) for a in width[:-1])
        self.out = nn.Conv2d(base, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        n = x.shape[0]
        e = self.time(self.embed(time_tensor(t, n, x)))
        image = x[:, self.inverse].view(n, self.channels, self.size, self.size)
        skips = [self.high(self.inp(image), e)]
        for down, low in zip(self.downs, self.lows, strict=True):
            skips.append(low(down(skips[-1]), e))
        h = skips.pop()
        for up, merge in zip(reversed(self.ups), reversed(self.merges), strict=True):
            h = merge(torch.cat([up(h), skips.pop()], dim=1), e)
        eps = self.out(h)
        return eps.reshape(n, self.dim)[:, self.order]
