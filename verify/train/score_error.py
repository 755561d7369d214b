"""Exact score error of a score estimate against the known truth, with Monte Carlo standard errors.

Joint: E_{x ~ q_t} ||s(x, t) - grad log q_t(x)||^2. AR-DM stage k, on true prefixes:
E ||s(k, x^k_t, x^{<k}, t) - grad log q_t(x^k | x^{<k})||^2, x_0 ~ q_0, noise on patch k only.

The denoising loss is the score error plus a data-dependent constant (Tweedie: E[-eps / s_t | x_t]
= grad log q_t(x_t), so the cross term vanishes): at fixed t, for eps_hat = -s_t s,

    E ||eps_hat - eps||^2 = s_t^2 E ||s - grad log q_t||^2 + (d - s_t^2 E ||grad log q_t(X_t)||^2),

with d replaced by d_k for stage k. Every function takes a score callable (a network through
verify.models.as_score / as_conditional_score, the exact score, or a perturbed one); k=None means
the joint score(x, t), an integer k the conditional score(k, x_k, prefix, t).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from synthetic.ou import ou_variance
from verify.metrics.montecarlo import Estimate, mean_and_stderr
from verify.train.dsm import noised


class DSMIdentity(NamedTuple):
    """Both sides of the identity from the same draws; `difference` (lhs - rhs) has mean 0."""

    loss: Estimate
    score_error: Estimate
    constant: Estimate
    difference: Estimate


def _draw(score, distribution, t: float, n: int, generator, k: int | None):
    """(estimate, truth, eps) at n points of q_t (or of stage k on true prefixes), t > 0."""
    if not t > 0:
        raise ValueError(f"t: must be > 0, got {t}")
    x0 = distribution.sample(n, 0.0, generator)
    if k is not None:
        prefix = x0[:, : distribution.patch_bounds[k]]
        x0 = x0[:, distribution.patch_slice(k)]
    eps = torch.randn(x0.shape, dtype=torch.float64, generator=generator)
    x_t = noised(x0, torch.tensor(t, dtype=torch.float64), eps)
    if k is None:
        return score(x_t, t), distribution.score(x_t, t), eps
    return score(k, x_t, prefix, t), distribution.conditional_score(k, x_t, prefix, t), eps


def score_error(score, distribution, t: float, n: int = 4096, generator=None, k=None) -> Estimate:
    """E ||s - grad log q_t||^2 at time t (joint, or stage k on true prefixes)."""
    estimate, truth, _ = _draw(score, distribution, t, n, generator, k)
    return mean_and_stderr((estimate - truth).square().sum(dim=-1))


def distribution_score(distribution, k=None):
    """The exact score callable of `distribution` (joint, or conditional when k is given)."""
    return distribution.score if k is None else distribution.conditional_score


def dsm_constant(distribution, t: float, n: int = 4096, generator=None, k=None) -> Estimate:
    """d - s_t^2 E ||grad log q_t(X_t)||^2 (d_k and the conditional score for stage k)."""
    exact = distribution_score(distribution, k)
    return dsm_identity(exact, distribution, t, n, generator, k).constant


def dsm_identity(score, distribution, t: float, n: int = 4096, generator=None, k=None):
    """Denoising loss of eps_hat = -s_t s and its decomposition s_t^2 * score error + constant."""
    estimate, truth, eps = _draw(score, distribution, t, n, generator, k)
    variance = ou_variance(t)
    loss = (-math.sqrt(variance) * estimate - eps).square().sum(dim=-1)
    error = (estimate - truth).square().sum(dim=-1)
    constant = eps.shape[1] - variance * truth.square().sum(dim=-1)
    return DSMIdentity(
        mean_and_stderr(loss),
        mean_and_stderr(error),
        mean_and_stderr(constant),
        mean_and_stderr(loss - variance * error - constant),
    )


def score_error_profile(score, distribution, times, n: int = 4096, generator=None, k=None):
    """score_error at each time in `times` (independent draws): a list of Estimates."""
    return [score_error(score, distribution, float(t), n, generator, k) for t in times]


def integrated_score_error(score, distribution, grid, n: int = 4096, generator=None, k=None):
    """eps_score^2 = sum_j h_j E ||s(X_{t_j}, t_j) - grad log q_{t_j}(X_{t_j})||^2 on a
    decreasing time grid (docs/math.md section 5), with its standard error (the n draws at each time are
    independent, so the sum is a mean of n i.i.d. draws of sum_j h_j ||s - grad log q_{t_j}||^2)."""
    grid = torch.as_tensor(grid, dtype=torch.float64)
    steps = (grid[:-1] - grid[1:]).tolist()
    profile = score_error_profile(score, distribution, grid[:-1].tolist(), n, generator, k)
    value = sum(h * e.value for h, e in zip(steps, profile, strict=True))
    stderr = math.sqrt(sum((h * e.stderr) ** 2 for h, e in zip(steps, profile, strict=True)))
    return Estimate(value, stderr, n)


def integrated_patch_errors(score, distribution, grid, n: int = 4096, generator=None) -> list[Estimate]:
    """Patch k's share of the joint eps_score^2: sum_j h_j E ||s^k - (grad log q_{t_j})^k||^2 over
    the coordinates of patch k, for every k, with standard errors (independent draws per time)."""
    grid = torch.as_tensor(grid, dtype=torch.float64)
    value = variance = 0.0
    for h, t in zip((grid[:-1] - grid[1:]).tolist(), grid[:-1].tolist(), strict=True):
        estimate, truth, _ = _draw(score, distribution, t, n, generator, None)
        squares = distribution.layout.split((estimate - truth).square())
        per_patch = torch.stack([part.sum(dim=-1) for part in squares], dim=1)
        value = value + h * per_patch.mean(0)
        variance = variance + (h * per_patch.std(0)) ** 2 / n
    return [Estimate(v, s, n) for v, s in zip(value.tolist(), variance.sqrt().tolist(), strict=True)]
