"""Constants of the bounds measured on a synthetic distribution (docs/math.md sections 3-6).

- m2 = (E||X_0||^2)^{1/2}: exact from `second_moment()` when the distribution declares
  `has_moments`, else Monte Carlo with a delta-method standard error.
- L(t) = sup_x ||grad^2 log q_t(x)||_op over draws from q_t and the lines through the noised
  component means a_t mu_i (where the modes' overlap makes the Hessian largest), the Hessian in
  closed form when the distribution declares `has_hessian`, else by autograd of its score. A sup
  over finitely many points: a lower estimate of the true sup, exact when the maximiser is visited.
- KL(q_t || gamma_d) = E_{q_t}[log q_t - log gamma_d] by Monte Carlo with exact densities.

The grid's constants (h, kappa) are functions of the grid alone and live in `bounds.constants`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from synthetic.validation import DTYPE, check_count, check_time
from verify.metrics.init_kl import log_ratio_to_gamma
from verify.metrics.montecarlo import Estimate, mean_and_stderr
from verify.metrics.targets import joint_view

__all__ = ["LipschitzProfile", "hessian", "kl_to_gaussian", "lipschitz", "lipschitz_profile", "second_moment"]


class LipschitzProfile(NamedTuple):
    """L(t) on a grid of times; `sup` is max_t L(t), the Lipschitz constant Chen et al. need."""

    times: np.ndarray
    values: np.ndarray

    @property
    def sup(self) -> float:
        return float(self.values.max())


def second_moment(dist, n: int = 100_000, generator: torch.Generator | None = None) -> Estimate:
    """m2 = (E||X_0||^2)^{1/2}: exact (stderr 0, n = 0 draws) when `dist.has_moments`, else from n
    draws with the delta-method error se(m2^2) / (2 m2)."""
    if dist.has_moments:
        return Estimate(math.sqrt(float(dist.second_moment())), 0.0, 0)
    squares = mean_and_stderr(dist.sample(check_count("n", n), 0.0, generator).square().sum(1))
    m2 = math.sqrt(squares.value)
    return Estimate(m2, squares.stderr / (2.0 * m2), squares.n)


def hessian(dist, x: torch.Tensor, t: float) -> torch.Tensor:
    """grad^2 log q_t at each row of x, (n, d, d): `dist.hessian` if it has one, else autograd."""
    if dist.has_hessian:
        return dist.hessian(x, t)
    x = x.detach().clone().requires_grad_(True)
    score = dist.score(x, t)
    rows = [torch.autograd.grad(score[:, i].sum(), x, retain_graph=True)[0] for i in range(dist.dim)]
    return torch.stack(rows, dim=1).detach()


def _mean_lines(dist, t: float, points: int, reach: float) -> torch.Tensor | None:
    """Points on the lines through each pair of noised means a_t mu_i, a_t mu_j: the segment
    itself (where overlapping modes make the Hessian largest) and `reach` beyond each end (the
    tails, where it tends to a component's -C_i(t)^{-1})."""
    means = dist.component_means
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
    """KL(q_t || gamma_d) = E_{q_t}[log q_t(X) - log gamma_d(X)] from n draws X ~ q_t."""
    t, n = check_time(t), check_count("n", n)
    view = joint_view(dist, n)
    return mean_and_stderr(log_ratio_to_gamma(view, view.sample(t, generator), t))
