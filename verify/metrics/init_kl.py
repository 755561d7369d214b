"""The initialisation term KL(q_T || gamma_d) by Monte Carlo with exact densities (MATH.md section 4),
and the views of a target that the path bounds (verify.metrics.path_kl, .girsanov) draw from.

- KL(q_t || gamma_d) = E_{x ~ q_t}[log q_t(x) - log gamma_d(x)], log gamma_d(x) = -|x|^2/2 -
  d/2 log(2 pi). Reported with the textbook bounds e^{-2T} KL(q_0 || gamma_d) (the OU semigroup
  contracts KL at rate 2: gamma_d satisfies a log-Sobolev inequality with constant 1) and
  (d + m_2^2) e^{-2T} with m_2^2 = E|X_0|^2; both are loose (the exact term of a centred mixture
  decays like e^{-4T}). All three share the draws X_0 ~ q_0, X_T = e^{-T} X_0 + s_T Z.
- A view is the target as one diffusion sees it: the joint q_t (DDPM), or for AR-DM stage k the
  conditional q^k_t(. | a_i) of patch k given one prefix a_i per draw i (OU noise on patch k only).
  AR prefixes come from the AR target p_AR = prod_k q^k_{delta_k}(x^k | x^{<k}) itself
  (MATH.md section 5, "AR-DM"), drawn patch by patch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from synthetic.base import Distribution
from synthetic.ou import ou_scale, ou_variance
from synthetic.validation import DTYPE, check_time
from verify.grids import validate
from verify.metrics.montecarlo import Estimate, check_draws, mean_and_stderr

__all__ = [
    "InitKL",
    "TargetView",
    "ar_stages",
    "check_stage_grids",
    "check_target",
    "init_kl",
    "joint_view",
    "log_normal",
    "sample_ar_target",
    "stage_score",
    "stage_view",
]


class TargetView(NamedTuple):
    """n draws' worth of a target: sample(t, generator) -> (n, dim) from q_t (row i given prefix
    a_i for a stage), log_prob(x, t) -> (n,), score(x, t) -> (n, dim) of the same law."""

    dim: int
    n: int
    sample: Callable[[float, torch.Generator | None], torch.Tensor]
    log_prob: Callable[[torch.Tensor, float], torch.Tensor]
    score: Callable[[torch.Tensor, float], torch.Tensor]


def check_target(target) -> Distribution:
    if not isinstance(target, Distribution):
        raise ValueError(f"target: must be a synthetic Distribution, got {type(target).__name__}")
    return target


def check_stage_grids(grids, num_stages: int) -> list[torch.Tensor]:
    """One grid for every stage, or a sequence of one grid per stage."""
    if isinstance(grids, torch.Tensor):
        return [validate(grids)] * num_stages
    grids = list(grids)
    if len(grids) != num_stages:
        raise ValueError(f"grids: need one grid or {num_stages} (one per stage), got {len(grids)}")
    return [validate(g) for g in grids]


def joint_view(target: Distribution, n: int) -> TargetView:
    """The joint q_t, n draws."""
    return TargetView(
        target.dim,
        n,
        lambda t, generator: target.sample(n, t, generator),
        target.log_prob,
        target.score,
    )


def stage_view(target: Distribution, k: int, prefix: torch.Tensor) -> TargetView:
    """Patch k given the rows of `prefix` (n, sum_{j<k} d_j): q^k_t(. | a_i), one draw per row."""
    return TargetView(
        target.patch_sizes[k],
        prefix.shape[0],
        lambda t, generator: target.conditional_sample(k, prefix, t, generator),
        lambda x, t: target.conditional_log_prob(k, x, prefix, t),
        lambda x, t: target.conditional_score(k, x, prefix, t),
    )


def stage_score(conditional_score, k: int, prefix: torch.Tensor):
    """The stage-k model score x -> s(k, x, prefix, t) as a plain score callable."""
    return lambda x, t: conditional_score(k, x, prefix, t)


def sample_ar_target(target: Distribution, deltas, n: int, generator=None) -> torch.Tensor:
    """n draws (n, d) of p_AR: x^k ~ q^k_{delta_k}(. | x^{<k}) for k = 0..K-1 in order."""
    x = torch.zeros(n, 0, dtype=DTYPE, device=_device(target))
    for k, delta in enumerate(deltas):
        x = torch.cat([x, target.conditional_sample(k, x, float(delta), generator)], dim=1)
    return x


def ar_stages(target: Distribution, conditional_score, grids, n: int, generator=None):
    """Stage by stage: (view of q^k_t(. | a_i), model score s(k, ., a_i, t), grid), with the
    prefixes a_i (i < n) drawn from the AR target at the stages' deltas."""
    x = sample_ar_target(target, [float(grid[-1]) for grid in grids], n, generator)
    stages = []
    for k, grid in enumerate(grids):
        prefix = x[:, : target.patch_bounds[k]]
        stages.append((stage_view(target, k, prefix), stage_score(conditional_score, k, prefix), grid))
    return stages


def _device(target: Distribution) -> torch.device:
    """Where the target's tensors live (CPU if it holds none)."""
    for value in vars(target).values():
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")


def log_normal(x: torch.Tensor, mean, var: float) -> torch.Tensor:
    """log N(x; mean, var I) per row, shape (n,)."""
    d = x.shape[1]
    return -0.5 * ((x - mean) ** 2).sum(1) / var - 0.5 * d * math.log(2.0 * math.pi * var)


def log_ratio_to_gamma(view: TargetView, x: torch.Tensor, t: float) -> torch.Tensor:
    """log q_t(x) - log gamma_d(x) per row: its mean over x ~ q_t is KL(q_t || gamma_d)."""
    return view.log_prob(x, t) - log_normal(x, 0.0, 1.0)


def noised(x0: torch.Tensor, z: torch.Tensor, t: float) -> torch.Tensor:
    """X_t = a_t X_0 + s_t Z."""
    return ou_scale(t) * x0 + math.sqrt(ou_variance(t)) * z


@dataclass(frozen=True)
class InitKL:
    """KL(q_T || gamma_d) and its textbook bounds (nats); kl_0 = KL(q_0 || gamma_d), m2 = E|X_0|^2."""

    T: float
    kl_T: Estimate
    kl_0: Estimate
    m2: Estimate
    contraction_bound: Estimate  # e^{-2T} KL(q_0 || gamma_d)
    moment_bound: Estimate  # (d + m_2^2) e^{-2T}


def init_kl(target: Distribution, T: float, n: int, generator=None) -> InitKL:
    """KL(q_T || gamma_d) by Monte Carlo over n draws, next to e^{-2T} KL(q_0 || gamma_d) and
    (d + m_2^2) e^{-2T}."""
    target = check_target(target)
    T = check_time(T)
    n = check_draws(n)
    view = joint_view(target, n)
    x0 = view.sample(0.0, generator)
    z = torch.randn(x0.shape, dtype=x0.dtype, device=x0.device, generator=generator)
    kl_0 = mean_and_stderr(log_ratio_to_gamma(view, x0, 0.0))
    m2 = mean_and_stderr((x0**2).sum(1))
    decay = math.exp(-2.0 * T)
    return InitKL(
        T=T,
        kl_T=mean_and_stderr(log_ratio_to_gamma(view, noised(x0, z, T), T)),
        kl_0=kl_0,
        m2=m2,
        contraction_bound=kl_0.scaled(decay),
        moment_bound=Estimate(decay * (target.dim + m2.value), decay * m2.stderr, n),
    )
