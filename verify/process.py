"""The OU forward process on one clock, and the DDPM dictionary onto it (docs/math.md section 1).

Forward time t >= 0 (t = 0 is data): X_t | X_0 ~ N(a_t X_0, s_t^2 I), a_t = e^{-t},
s_t^2 = 1 - e^{-2t}. A discrete DDPM schedule beta_1..beta_N has alpha_bar_i = prod_{l<=i}
(1 - beta_l), and its step i sits at OU time t_i = -1/2 log alpha_bar_i (so alpha_bar = a_t^2).
"""

from __future__ import annotations

import math

import torch

from synthetic.ou import ou_scale, ou_variance
from synthetic.random import standard_normal
from synthetic.validation import DTYPE, as_tensor, check_count, check_time

__all__ = [
    "alpha_bar_from_betas",
    "alpha_bar_of_time",
    "cosine_betas",
    "forward_sample",
    "linear_betas",
    "ou_scale",
    "ou_variance",
    "time_of_alpha_bar",
    "times_from_betas",
]


def forward_sample(x0, t: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """One draw of X_t = a_t x0 + s_t Z per row of x0 (n, d), Z ~ N(0, I)."""
    x0 = as_tensor("x0", x0, ndim=2)
    t = check_time(t)
    z = standard_normal(x0.shape, generator, x0.device)
    return ou_scale(t) * x0 + math.sqrt(ou_variance(t)) * z


def alpha_bar_of_time(t) -> torch.Tensor:
    """alpha_bar = e^{-2t} = a_t^2 for times t >= 0 (scalar or tensor)."""
    t = as_tensor("t", t)
    if (t < 0).any():
        raise ValueError("t: times must be >= 0")
    return torch.exp(-2.0 * t)


def time_of_alpha_bar(alpha_bar) -> torch.Tensor:
    """t = -1/2 log alpha_bar for alpha_bar in (0, 1] (scalar or tensor)."""
    alpha_bar = as_tensor("alpha_bar", alpha_bar)
    if ((alpha_bar <= 0) | (alpha_bar > 1)).any():
        raise ValueError("alpha_bar: values must lie in (0, 1]")
    return -0.5 * torch.log(alpha_bar)


def linear_betas(N: int, beta_min: float = 1e-4, beta_max: float = 0.02) -> torch.Tensor:
    """Ho et al. (2020): beta_i linear from beta_min to beta_max over N steps (float64, (N,))."""
    N = check_count("N", N)
    if not 0 < beta_min <= beta_max < 1:
        raise ValueError(f"beta_min, beta_max: need 0 < min <= max < 1, got {beta_min}, {beta_max}")
    return torch.linspace(beta_min, beta_max, N, dtype=DTYPE)


def cosine_betas(N: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal (2021): alpha_bar_i = f(i)/f(0), f(i) = cos^2((i/N + s)/(1 + s) pi/2),
    beta_i = min(1 - alpha_bar_i / alpha_bar_{i-1}, max_beta), i = 1..N (float64, (N,))."""
    N = check_count("N", N)
    if not s >= 0:
        raise ValueError(f"s: offset must be >= 0, got {s}")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta: must lie in (0, 1), got {max_beta}")
    f = torch.cos((torch.arange(N + 1, dtype=DTYPE) / N + s) / (1 + s) * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=max_beta)


def _check_betas(betas) -> torch.Tensor:
    betas = as_tensor("betas", betas, ndim=1)
    if betas.numel() == 0:
        raise ValueError("betas: must be non-empty")
    if ((betas <= 0) | (betas >= 1)).any():
        raise ValueError("betas: values must lie in (0, 1)")
    return betas


def alpha_bar_from_betas(betas) -> torch.Tensor:
    """alpha_bar_i = prod_{l <= i} (1 - beta_l), i = 1..N."""
    return torch.exp(-2.0 * times_from_betas(betas))


def times_from_betas(betas) -> torch.Tensor:
    """OU times t_i = -1/2 log alpha_bar_i of DDPM steps i = 1..N (increasing, float64)."""
    return -0.5 * torch.cumsum(torch.log1p(-_check_betas(betas)), dim=0)
