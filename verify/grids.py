"""Time grids on the OU clock (docs/math.md section 1).

A grid is a 1-D float64 tensor of N + 1 forward times T = t_0 > t_1 > ... > t_N = delta >= 0;
step j goes from t_j down to t_{j+1}, with h_j = t_j - t_{j+1}.
"""

from __future__ import annotations

import math

import torch
from scipy.optimize import brentq

from synthetic.validation import DTYPE, as_tensor, check_count
from verify.process import times_from_betas

__all__ = ["GRIDS", "by_name", "exponential_linear", "from_betas", "uniform", "validate", "validate_stages"]

GRIDS = ("exponential_linear", "uniform")  # the grids `by_name` builds


def validate(grid, name: str = "grid") -> torch.Tensor:
    """`grid` as a float64 tensor if it is a valid time grid, else ValueError naming `name` and why."""
    grid = as_tensor(name, grid)
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError(f"{name}: must be 1-D with at least 2 times, got shape {tuple(grid.shape)}")
    if not (grid[1:] < grid[:-1]).all():
        raise ValueError(f"{name}: times must be strictly decreasing (T first, delta last)")
    if grid[-1] < 0:
        raise ValueError(f"{name}: last time delta must be >= 0, got {float(grid[-1])}")
    return grid


def validate_stages(grids, num_stages: int) -> list[torch.Tensor]:
    """One grid per AR stage: a single grid (a tensor) shared by all stages, or a sequence of
    `num_stages` grids."""
    if isinstance(grids, torch.Tensor):
        return [validate(grids, "grids")] * num_stages
    try:
        grids = list(grids)
    except TypeError:
        raise ValueError(f"grids: need one grid or a sequence of grids, got {type(grids).__name__}") from None
    if len(grids) != num_stages:
        raise ValueError(f"grids: need one grid or {num_stages} (one per stage), got {len(grids)}")
    return [validate(g, f"grids[{k}]") for k, g in enumerate(grids)]


def _real(name: str, value) -> float:
    """A real number as float; ValueError naming it for None, strings, tensors of several values."""
    if isinstance(value, (bool, str)) or value is None:
        raise ValueError(f"{name}: must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name}: must be a real number, got {value!r}") from None


def _check_ends(T, delta) -> tuple[float, float]:
    T, delta = _real("T", T), _real("delta", delta)
    if not math.isfinite(delta) or delta < 0:
        raise ValueError(f"delta: must be a finite time >= 0, got {delta}")
    if not math.isfinite(T) or T <= delta:
        raise ValueError(f"T: must be finite and above delta ({delta}), got {T}")
    return T, delta


def _check_steps(N) -> int:
    """N as a positive int; ValueError naming N for anything else (NaN, inf, strings, None included)."""
    try:
        return check_count("N", N)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"N: must be a positive integer (number of steps), got {N!r}") from None


def uniform(T: float, N: int, delta: float = 0.0) -> torch.Tensor:
    """t_j = T - j (T - delta) / N, j = 0..N."""
    T, delta = _check_ends(T, delta)
    N = _check_steps(N)
    grid = T - (T - delta) * torch.arange(N + 1, dtype=DTYPE) / N
    grid[-1] = delta
    return validate(grid)


def exponential_linear(T: float, N: int, delta: float) -> torch.Tensor:
    """Benton et al. (2024): N1 steps of constant size kappa from T, then N2 = N - N1 geometric
    steps t_{j+1} = t_j / (1 + kappa) landing exactly on delta (so h_j = kappa t_{j+1} there).

    How kappa is chosen: the continuous step count (T - 1)/kappa + log(1/delta)/log(1 + kappa) = N
    (linear down to t = 1, geometric below) gives kappa_0; N1 = round((T - 1)/kappa_0) clipped to
    [0, N] (0 when T <= 1, N when delta >= 1). With N1, N2 fixed, kappa is the unique root of
    (T - N1 kappa) / (1 + kappa)^{N2} = delta (strictly decreasing in kappa on (0, T/N1)), so
    every step uses the same kappa; the switch time T - N1 kappa lies near 1 (a few kappa away at
    most in practice)."""
    T, delta = _check_ends(T, delta)
    N = _check_steps(N)
    if delta == 0:
        raise ValueError("delta: must be > 0 here (geometric steps never reach 0)")
    n1 = _linear_steps(T, N, delta)
    n2 = N - n1

    def endpoint_gap(kappa: float) -> float:
        return (T - n1 * kappa) * math.exp(-n2 * math.log1p(kappa)) - delta

    if n1 == 0:
        kappa = math.expm1(math.log(T / delta) / N)
    elif n2 == 0:
        kappa = (T - delta) / N
    else:
        kappa = brentq(endpoint_gap, 0.0, T / n1, xtol=1e-300, rtol=4 * 2.0**-52, maxiter=500)
    switch = T - n1 * kappa
    linear = T - kappa * torch.arange(n1 + 1, dtype=DTYPE)
    geometric = switch * torch.exp(-torch.arange(1, n2 + 1, dtype=DTYPE) * math.log1p(kappa))
    grid = torch.cat([linear, geometric])
    grid[0], grid[-1] = T, delta
    return validate(grid)


def _linear_steps(T: float, N: int, delta: float) -> int:
    """N1 = round((T - 1)/kappa_0), kappa_0 from the continuous count (see exponential_linear)."""
    if T <= 1:
        return 0
    if delta >= 1:
        return N
    log_ratio = -math.log(delta)

    def excess(u: float) -> float:  # u = log(1 + kappa)
        return (T - 1) / math.expm1(u) + log_ratio / u - N

    u_lo = math.log1p((T - 1) / N)
    u_hi = max(math.log1p(2 * (T - 1) / N), 2 * log_ratio / N)
    kappa0 = math.expm1(brentq(excess, u_lo, u_hi))
    return min(N, max(0, round((T - 1) / kappa0)))


def from_betas(betas) -> torch.Tensor:
    """A DDPM schedule beta_1..beta_N on the OU clock: (t_N, ..., t_1, 0) with
    t_i = -1/2 log alpha_bar_i; the last step reaches the data (t = 0 = delta), as in Ho et al."""
    times = times_from_betas(betas)
    return validate(torch.cat([times.flip(0), torch.zeros(1, dtype=DTYPE)]))


def by_name(kind: str, T: float, N: int, delta: float) -> torch.Tensor:
    """The time grid called `kind` (one of GRIDS): N + 1 forward times, T first, delta last."""
    if kind not in GRIDS:
        raise ValueError(f"grid: must be one of {GRIDS}, got {kind!r}")
    return exponential_linear(T, N, delta) if kind == "exponential_linear" else uniform(T, N, delta)
