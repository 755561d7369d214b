"""DDPM score network: an MLP on the full vector (epsilon prediction).

eps_hat(x, t) = MLP([x, e(t)]) with e the sinusoidal embedding of log t; the score estimate is
s_theta(x, t) = -eps_hat(x, t) / s_t with s_t^2 = 1 - e^{-2t} (docs/math.md section 1).
"""

from __future__ import annotations

import torch
from torch import nn

from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor


def mlp(inputs: int, hidden: int, depth: int, outputs: int) -> nn.Sequential:
    """`depth` hidden layers of width `hidden` with SiLU, then a linear output layer."""
    if depth < 1 or hidden < 1:
        raise ValueError(f"depth, hidden: must be positive integers, got {depth}, {hidden}")
    layers: list[nn.Module] = []
    width = inputs
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


class ScoreMLP(nn.Module):
    """eps_hat(x, t) for x in R^dim; forward(x (n, dim), t float or (n,)) -> (n, dim)."""

    def __init__(self, dim: int, hidden: int = 128, depth: int = 3, time_features: int = 32):
        super().__init__()
        self.dim = int(dim)
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.net = mlp(self.dim + time_features, hidden, depth, self.dim)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        t = time_tensor(t, x.shape[0], x)
        return self.net(torch.cat([x, self.embed(t)], dim=-1))
