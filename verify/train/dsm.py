"""Denoising score matching with epsilon prediction (docs/math.md section 1).

Times follow the log-uniform law on [delta, T]: log t ~ U[log delta, log T]. Given clean
x_0 and eps ~ N(0, I), x_t = a_t x_0 + s_t eps (a_t = e^{-t}, s_t^2 = 1 - e^{-2t}) and the
per-sample loss is ||eps_hat(x_t, t) - eps||^2 (summed over coordinates). Since
eps_hat = -s_t s_theta, this is the score-matching loss ||s_theta - grad log q_t||^2 with weight
lambda(t) = s_t^2, up to a constant (see verify.train.score_error).

AR-DM (a `PatchScoreModel`): teacher forcing on the true clean prefix. Every stage k of every
sample gets its own time t_k and noise eps^k, only patch k is noised, and the per-sample loss is
sum_k ||eps_hat(k, x^k_{t_k}, x^{<k}_0, t_k) - eps^k||^2.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from verify.models import PatchScoreModel


def sample_times(shape, delta: float, T: float, generator: torch.Generator) -> torch.Tensor:
    """Log-uniform times on [delta, T] (float64, CPU)."""
    u = torch.rand(shape, dtype=torch.float64, generator=generator)
    return torch.exp(math.log(delta) + u * (math.log(T) - math.log(delta)))


def noised(x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """x_t = a_t x_0 + s_t eps, t broadcast against x0's columns."""
    return torch.exp(-t) * x0 + torch.sqrt(-torch.expm1(-2.0 * t)) * eps


def denoising_loss(model: nn.Module, x0, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Per-sample ||eps_hat - eps||^2, shape (n,).

    Joint model: t has shape (n,). PatchScoreModel: t has shape (n, K), one time per stage.
    """
    if isinstance(model, PatchScoreModel):
        sizes = torch.tensor(model.patch_sizes, device=t.device)
        t_columns = torch.repeat_interleave(t, sizes, dim=1)
        eps_hat = model.forward_teacher(x0, noised(x0, t_columns, eps), t)
    else:
        eps_hat = model(noised(x0, t[:, None], eps), t)
    return (eps_hat - eps).square().sum(dim=-1)


def draw_batch(model: nn.Module, distribution, batch: int, delta: float, T: float, generator):
    """Fresh (x0, t, eps) from `distribution` and the time law, all drawn with `generator`."""
    x0 = distribution.sample(batch, 0.0, generator)
    stages = (model.num_patches,) if isinstance(model, PatchScoreModel) else ()
    t = sample_times((batch, *stages), delta, T, generator)
    eps = torch.randn(x0.shape, dtype=torch.float64, generator=generator)
    return x0, t, eps
