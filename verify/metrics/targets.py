"""The views of a target that the Monte Carlo bounds (verify.metrics.init_kl, .path_kl, .girsanov)
draw from.

A view is the target as one diffusion sees it: the joint q_t (DDPM), or for AR-DM stage k the
conditional q^k_t(. | a_i) of patch k given one prefix a_i per draw i (OU noise on patch k only).
AR prefixes come from the AR target p_AR = prod_k q^k_{delta_k}(x^k | x^{<k}) itself
(docs/math.md section 5, "AR-DM"), drawn patch by patch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from synthetic.base import Distribution
from synthetic.validation import DTYPE, check_count

__all__ = [
    "TargetView",
    "ar_stages",
    "check_target",
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
    n, deltas = check_count("n", n), list(deltas)
    if len(deltas) != target.num_patches:
        raise ValueError(f"deltas: need one per patch ({target.num_patches}), got {len(deltas)}")
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
