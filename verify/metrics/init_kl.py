"""The initialisation term KL(q_T || gamma_d) by Monte Carlo with exact densities (docs/math.md section 4).

KL(q_t || gamma_d) = E_{x ~ q_t}[log q_t(x) - log gamma_d(x)], log gamma_d(x) = -|x|^2/2 -
d/2 log(2 pi). Reported with the textbook bounds e^{-2T} KL(q_0 || gamma_d) (the OU semigroup
contracts KL at rate 2: gamma_d satisfies a log-Sobolev inequality with constant 1) and
(d + m_2^2) e^{-2T} with m_2^2 = E|X_0|^2; both are loose (the exact term of a centred mixture
decays like e^{-4T}). All three share the draws X_0 ~ q_0, X_T = e^{-T} X_0 + s_T Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic.base import Distribution
from synthetic.ou import ou_scale, ou_variance
from synthetic.random import standard_normal
from synthetic.validation import check_time
from verify.metrics.montecarlo import Estimate, check_draws, mean_and_stderr
from verify.metrics.targets import TargetView, check_target, joint_view, log_normal

__all__ = ["InitKL", "init_kl", "log_ratio_to_gamma", "noised"]


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
    z = standard_normal(x0.shape, generator, x0.device, x0.dtype)
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
