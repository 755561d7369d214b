"""Constants of the bounds measured on a synthetic distribution (MATH.md sections 3-6).

- m2 = (E||X_0||^2)^{1/2}: exact from `second_moment()` when the distribution has it (it returns
  E||X_0||^2), else Monte Carlo with a delta-method standard error.
- L(t) = sup_x ||grad^2 log q_t(x)||_op over draws from q_t and the segments between the noised
  component means a_t mu_i (where the modes' overlap makes the Hessian largest). A sup over
  finitely many points: a lower estimate of the true sup, exact when the maximiser is visited.
- KL(q_t || gamma_d) = E_{q_t}[log q_t - log gamma_d] by Monte Carlo with exact densities.
- kappa of a grid = max_j h_j / min(1, t_{j+1}) (Benton et al.'s step condition).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from synthetic.validation import DTYPE, check_count, check_time


class Estimate(NamedTuple):
    """A value with its standard error (0 for exact quantities)."""

    value: float
    stderr: float


class LipschitzProfile(NamedTuple):
    """L(t) on a grid of times; `sup` is max_t L(t), the Lipschitz constant Chen et al. need."""

    times: np.ndarray
    values: np.ndarray

    @property
    def sup(self) -> float:
        return float(self.values.max())


def second_moment(dist, n: int = 100_000, generator: torch.Generator | None = None) -> Estimate:
    """m2 = (E||X_0||^2)^{1/2}, exact when `dist.second_moment()` exists."""
    if hasattr(dist, "second_moment"):
        return Estimate(math.sqrt(float(dist.second_moment())), 0.0)
    sq = dist.sample(check_count("n", n), 0.0, generator).square().sum(1)
    mean, se = float(sq.mean()), float(sq.std() / math.sqrt(n))
    return Estimate(math.sqrt(mean), se / (2.0 * math.sqrt(mean)))


def hessian(dist, x: torch.Tensor, t: float) -> torch.Tensor:
    """grad^2 log q_t at each row of x, (n, d, d): `dist.hessian` if present, else autograd."""
    if hasattr(dist, "hessian"):
        return dist.hessian(x, t)
    x = x.detach().clone().requires_grad_(True)
    score = dist.score(x, t)
    rows = [torch.autograd.grad(score[:, i].sum(), x, retain_graph=True)[0] for i in range(dist.dim)]
    return torch.stack(rows, dim=1).detach()


def _mean_lines(dist, t: float, points: int, reach: float) -> torch.Tensor | None:
    """Points on the lines through each pair of noised means a_t mu_i, a_t mu_j: the segment
    itself (where overlapping modes make the Hessian largest) and `reach` beyond each end (the
    tails, where it tends to a component's -C_i(t)^{-1})."""
    means = getattr(dist, "means", None)
    if means is None or means.shape[0] < 2:
        return None
    centres = math.exp(-t) * means.to(DTYPE)
    i, j = torch.triu_indices(len(centres), len(centres), offset=1)
    start, step = centres[i], centres[j] - centres[i]
    length = step.norm(dim=1, keepdim=True).clamp_min(1e-12)
    u = torch.linspace(0.0, 1.0, points, dtype=DTYPE, device=centres.device)[:, None]
    beyond = u * (reach / length.T)  # (points, pairs), in units of the segment
    s = torch.cat([u.expand_as(beyond), -beyond, 1.0 + beyond])
    return (start + s[..., None] * step).reshape(-1, dist.dim)


def lipschitz(dist, t: float, n: int = 2048, generator=None, line_points: int = 257) -> float:
    """sup ||grad^2 log q_t||_op over n draws from q_t and the lines through noised means
    (reaching 12 sample standard deviations beyond them)."""
    t, n = check_time(t), check_count("n", n)
    x = dist.sample(n, t, generator)
    reach = 12.0 * float(x.std(dim=0).max()) if n > 1 else 12.0
    lines = _mean_lines(dist, t, check_count("line_points", line_points), reach)
    if lines is not None:
        x = torch.cat([x, lines])
    return float(torch.linalg.eigvalsh(hessian(dist, x, t)).abs().max())


def lipschitz_profile(dist, times, n: int = 2048, generator=None, line_points: int = 257):
    """L(t) at each time of `times` (any 1-D sequence of times >= 0)."""
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size == 0:
        raise ValueError(f"times: must be a non-empty 1-D sequence, got shape {times.shape}")
    values = [lipschitz(dist, float(t), n, generator, line_points) for t in times]
    return LipschitzProfile(times, np.array(values))


def kl_to_gaussian(dist, t: float, n: int = 100_000, generator=None) -> Estimate:
    """KL(q_t || gamma_d) = E_{q_t}[log q_t(X) - log gamma_d(X)] with its Monte Carlo error."""
    t, n = check_time(t), check_count("n", n)
    x = dist.sample(n, t, generator)
    log_gamma = -0.5 * (x.square().sum(1) + dist.dim * math.log(2 * math.pi))
    ratio = dist.log_prob(x, t) - log_gamma
    return Estimate(float(ratio.mean()), float(ratio.std() / math.sqrt(n)))


def _check_grid(grid) -> torch.Tensor:
    grid = torch.as_tensor(grid, dtype=DTYPE)
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError(f"grid: must be a 1-D tensor of N + 1 >= 2 times, got {tuple(grid.shape)}")
    if not torch.isfinite(grid).all() or grid[-1] < 0:
        raise ValueError("grid: times must be finite and >= 0")
    if not (grid[:-1] > grid[1:]).all():
        raise ValueError("grid: times must be strictly decreasing (T first, delta last)")
    return grid


def grid_kappa(grid) -> float:
    """max_j h_j / min(1, t_{j+1}); infinite when the grid ends at delta = 0."""
    grid = _check_grid(grid)
    steps, lower = grid[:-1] - grid[1:], grid[1:].clamp(max=1.0)
    if lower[-1] == 0:
        return math.inf
    return float((steps / lower).max())


def grid_constants(grid) -> dict[str, float]:
    """T, N, delta, h = max_j h_j and kappa of a time grid, named as the bounds name them."""
    grid = _check_grid(grid)
    return {
        "T": float(grid[0]),
        "N": grid.numel() - 1,
        "delta": float(grid[-1]),
        "h": float((grid[:-1] - grid[1:]).max()),
        "kappa": grid_kappa(grid),
    }
