"""Sinusoidal embedding of the OU time t, and of a stage index.

The network sees u = log(t) (not t): the score changes on the scale of t itself near t = 0,
so a log clock spreads the training range [delta, T] evenly. With frequencies
f_i = f_min (f_max / f_min)^{i / (F/2 - 1)}, i = 0..F/2-1 (geometric), the embedding is

    e(t) = (sin(f_0 u), ..., sin(f_{F/2-1} u), cos(f_0 u), ..., cos(f_{F/2-1} u)),

so every pair satisfies sin^2 + cos^2 = 1 and |e(t)| = sqrt(F/2). Requires t > 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def time_tensor(t, n: int, like: torch.Tensor) -> torch.Tensor:
    """t as an (n,) tensor with `like`'s dtype and device; t a python float or an (n,) tensor."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ValueError(f"t: must be a float or a tensor of shape ({n},), got {tuple(t.shape)}")
    return t


class SinusoidalTimeEmbedding(nn.Module):
    """e(t) of width `features` (even, >= 4) on the clock u = log t; no trainable parameters."""

    def __init__(self, features: int = 32, min_frequency: float = 0.1, max_frequency: float = 20.0):
        super().__init__()
        if features < 4 or features % 2:
            raise ValueError(f"features: must be an even integer >= 4, got {features}")
        if not 0 < min_frequency < max_frequency:
            raise ValueError("min_frequency: must satisfy 0 < min_frequency < max_frequency")
        half = features // 2
        frequencies = torch.logspace(
            math.log10(min_frequency), math.log10(max_frequency), half, dtype=torch.float64
        )
        self.features = features
        self.register_buffer("frequencies", frequencies.float())

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """(n,) times > 0 -> (n, features)."""
        if (t <= 0).any():
            raise ValueError("t: the time embedding uses log t and needs t > 0")
        angles = torch.log(t)[:, None] * self.frequencies.to(t.dtype)
        return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
