"""Chain path KL: KL(Q_grid || P^_grid) between the true process and the sampler on the time grid
(docs/math.md section 5), an unbiased Monte Carlo quantity with no time quadrature.

Q_grid: x_{t_N} ~ q_delta, then exact OU transitions up the grid,
x_{t_j} | x_{t_{j+1}} ~ N(e^{-h_j} x_{t_{j+1}}, (1 - e^{-2 h_j}) I). P^_grid: x_{t_0} ~ gamma_d, then
the sampler's kernels p^_j(. | x_{t_j}) = N(c_y x_{t_j} + c_s s(x_{t_j}, t_j), v I)
(verify.samplers.kernels.step_kernel). Per chain the log-ratio is

    log q_delta(x_{t_N}) + sum_j log N(x_{t_j}; e^{-h_j} x_{t_{j+1}}, (1 - e^{-2h_j}) I)
        - log gamma_d(x_{t_0}) - sum_j log p^_j(x_{t_{j+1}} | x_{t_j}),

and its mean is the chain path KL. Adding and subtracting log q_{t_j}(x_{t_j}) at every grid time
splits it, chain by chain and without changing the total, into
    initial = log q_T(x_{t_0}) - log gamma_d(x_{t_0})                (mean KL(q_T || gamma_d))
    step j  = log q(x_{t_{j+1}} | x_{t_j}) - log p^_j(x_{t_{j+1}} | x_{t_j})
              (mean E_{x_{t_j} ~ q_{t_j}} KL(q(. | x_{t_j}) || p^_j(. | x_{t_j})) >= 0).
By data processing KL(q_delta || p^) <= chain path KL. A kernel with v = 0 (the "ode" scheme, or an
ancestral step to delta = 0) has no density, so the chain path KL is infinite: refused.

AR-DM (chain rule): the AR sampler's chain path KL is sum_k E_{a ~ p_AR^{<k}} of stage k's chain
path KL given the prefix a, with the stage-k target q^k_{delta_k}(. | a) and prefixes drawn from
the AR target p_AR (verify.metrics.targets.sample_ar_target); per-chain log-ratios add over stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic.ou import ou_variance
from synthetic.random import standard_normal
from verify.grids import validate, validate_stages
from verify.metrics.montecarlo import Estimate, check_draws, mean_and_stderr
from verify.metrics.targets import TargetView, ar_stages, check_target, joint_view, log_normal
from verify.samplers.ddpm import check_callable
from verify.samplers.kernels import StepKernel, check_scheme, step_kernel

__all__ = ["ARChainPathKL", "ChainPathKL", "chain_path_kl", "chain_path_kl_ar"]


@dataclass(frozen=True)
class ChainPathKL:
    """KL(Q_grid || P^_grid) = initial + sum_j steps[j] (nats), estimated on the same chains."""

    total: Estimate
    initial: Estimate  # KL(q_T || gamma_d)
    steps: tuple[Estimate, ...]  # step j: t_j -> t_{j+1}, E KL(q(. | x_{t_j}) || p^_j(. | x_{t_j}))


@dataclass(frozen=True)
class ARChainPathKL:
    """Per-stage chain path KLs (prefix-averaged) and `joint`, their sum: the AR sampler's own
    chain path KL (joint.steps lists every stage's steps in order)."""

    stages: tuple[ChainPathKL, ...]
    joint: ChainPathKL


def _checked_kernels(scheme: str, grid: torch.Tensor) -> list[StepKernel]:
    """The sampler's step kernels on `grid`; ValueError if one has no density (v = 0)."""
    check_scheme(scheme)
    times = grid.tolist()
    kernels = [step_kernel(scheme, a, b) for a, b in zip(times[:-1], times[1:], strict=True)]
    for j, kernel in enumerate(kernels):
        if not kernel.v > 0:
            raise ValueError(
                f"scheme: {scheme!r} step {j} ({times[j]:g} -> {times[j + 1]:g}) is deterministic "
                "(v = 0), so the sampler's path law has no density and the chain path KL is "
                "infinite; use 'ei', 'em', or 'ancestral' with delta > 0"
            )
    return kernels


def _log_ratios(view: TargetView, score, grid, kernels, generator):
    """Per chain: the initial term (n,) and the step terms (n, N) of log dQ_grid / dP^_grid."""
    times = grid.tolist()
    x = view.sample(times[-1], generator)
    log_q = view.log_prob(x, times[-1])
    steps = []
    for j in reversed(range(len(kernels))):
        h = times[j] - times[j + 1]
        z = standard_normal(x.shape, generator, x.device, x.dtype)
        x_up = math.exp(-h) * x + math.sqrt(ou_variance(h)) * z
        log_q_up = view.log_prob(x_up, times[j])
        s = score(x_up, times[j]).detach()
        if s.shape != x_up.shape:
            raise ValueError(f"score: returned shape {tuple(s.shape)}, expected {tuple(x_up.shape)}")
        kernel = kernels[j]
        forward = log_normal(x_up, math.exp(-h) * x, ou_variance(h))
        model = log_normal(x, kernel.c_y * x_up + kernel.c_s * s.to(x.dtype), kernel.v)
        steps.append(log_q + forward - log_q_up - model)
        x, log_q = x_up, log_q_up
    initial = log_q - log_normal(x, 0.0, 1.0)
    return initial, torch.stack(steps[::-1], dim=1)


def _summarise(initial: torch.Tensor, steps: torch.Tensor) -> ChainPathKL:
    return ChainPathKL(
        total=mean_and_stderr(initial + steps.sum(1)),
        initial=mean_and_stderr(initial),
        steps=tuple(mean_and_stderr(column) for column in steps.T),
    )


def chain_path_kl(target, score, grid, n: int, scheme: str = "ei", generator=None) -> ChainPathKL:
    """KL(Q_grid || P^_grid) of the sampler `scheme` with score s(x, t) on `grid`, over n chains
    started at x_{t_N} ~ q_delta of `target`."""
    target = check_target(target)
    grid = validate(grid)
    n = check_draws(n)
    kernels = _checked_kernels(scheme, grid)
    check_callable("score", score)
    return _summarise(*_log_ratios(joint_view(target, n), score, grid, kernels, generator))


def chain_path_kl_ar(
    target, conditional_score, grids, n: int, scheme: str = "ei", generator=None
) -> ARChainPathKL:
    """Per-stage chain path KLs of the AR-DM sampler with s(k, x^k, x^{<k}, t) on `grids` (one, or
    one per stage), prefixes drawn from the AR target, and their sum (the AR sampler's own chain
    path KL, by the chain rule)."""
    target = check_target(target)
    grids = validate_stages(grids, target.num_patches)
    n = check_draws(n)
    kernels = [_checked_kernels(scheme, grid) for grid in grids]
    check_callable("conditional_score", conditional_score)
    stages = ar_stages(target, conditional_score, grids, n, generator)
    parts = [
        _log_ratios(view, score, grid, stage_kernels, generator)
        for (view, score, grid), stage_kernels in zip(stages, kernels, strict=True)
    ]
    initial = torch.stack([p[0] for p in parts]).sum(0)
    steps = torch.cat([p[1] for p in parts], dim=1)
    return ARChainPathKL(tuple(_summarise(*p) for p in parts), _summarise(initial, steps))
