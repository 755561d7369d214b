"""Closed-form divergences between Gaussians (docs/math.md section 4), float64.

- KL(N0 || N1) = 1/2 [tr(S1^{-1} S0) + (m1 - m0)^T S1^{-1} (m1 - m0) - d + log det S1 / det S0],
  exact.
- TV with equal covariances S: 2 Phi(Delta / 2) - 1, Delta the Mahalanobis distance of the means:
  exact.
- TV otherwise has no closed form in d > 1; `gaussian_tv_bounds` returns
  * upper = min(1, Pinsker sqrt(KL / 2), Bretagnolle-Huber sqrt(1 - e^{-KL})), with the smaller KL
    of the two directions (TV is symmetric, so either direction bounds it);
  * lower = the exact TV of 1-D projections (data processing: TV(P w^{-1}, Q w^{-1}) <= TV(P, Q)
    for any direction w), maximised over the whitened mean difference and the generalised
    eigenvectors of (S1, S0). In d = 1 the projection is the identity, so lower = exact.
- Expected conditional KL E_{a ~ N0} KL(N0(b | a) || N1(b | a)) of a block b given a prefix a
  (the terms of the chain rule KL(p || p^) = sum_k E KL(p(x^k | x^{<k}) || p^(x^k | x^{<k}))).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from synthetic.validation import as_tensor, check_spd


class TVBounds(NamedTuple):
    """lower <= TV <= upper; `exact` is the TV when known in closed form (equal covariances
    or d = 1), else None."""

    lower: float
    upper: float
    exact: float | None


class ConditionalGaussian(NamedTuple):
    """b | a ~ N(gain a + offset, cov): the law of a block given a prefix."""

    gain: torch.Tensor
    offset: torch.Tensor
    cov: torch.Tensor


def _check_gaussian(name: str, mean, cov) -> tuple[torch.Tensor, torch.Tensor]:
    mean = as_tensor(f"{name} mean", mean, ndim=1)
    cov = check_spd(f"{name} cov", as_tensor(f"{name} cov", cov, ndim=2))
    if cov.shape[0] != mean.shape[0]:
        raise ValueError(
            f"{name} cov: shape {tuple(cov.shape)} does not match mean of length {mean.shape[0]}"
        )
    return mean, cov


def _check_pair(mean0, cov0, mean1, cov1):
    mean0, cov0 = _check_gaussian("N0", mean0, cov0)
    mean1, cov1 = _check_gaussian("N1", mean1, cov1)
    if mean0.shape != mean1.shape:
        raise ValueError(f"N1 mean: dimension {mean1.shape[0]} differs from N0's {mean0.shape[0]}")
    return mean0, cov0, mean1, cov1


def _kl(mean0, cov0, mean1, cov1) -> float:
    chol1 = torch.linalg.cholesky(cov1)
    chol0 = torch.linalg.cholesky(cov0)
    whitened = torch.linalg.solve_triangular(chol1, chol0, upper=False)  # L1^{-1} L0
    diff = torch.linalg.solve_triangular(chol1, (mean1 - mean0)[:, None], upper=False)
    log_det = 2.0 * (chol1.diagonal().log().sum() - chol0.diagonal().log().sum())
    trace = (whitened**2).sum()
    return 0.5 * float(trace + (diff**2).sum() - mean0.shape[0] + log_det)


def gaussian_kl(mean0, cov0, mean1, cov1) -> float:
    """KL(N(mean0, cov0) || N(mean1, cov1)) in nats, exact."""
    return _kl(*_check_pair(mean0, cov0, mean1, cov1))


def gaussian_kl_both(mean0, cov0, mean1, cov1) -> tuple[float, float]:
    """(KL(N0 || N1), KL(N1 || N0)), exact."""
    mean0, cov0, mean1, cov1 = _check_pair(mean0, cov0, mean1, cov1)
    return _kl(mean0, cov0, mean1, cov1), _kl(mean1, cov1, mean0, cov0)


def gaussian_tv_equal_cov(mean0, mean1, cov) -> float:
    """TV(N(mean0, cov), N(mean1, cov)) = 2 Phi(Delta / 2) - 1, exact."""
    mean0, cov = _check_gaussian("N0", mean0, cov)
    mean1, _ = _check_gaussian("N1", mean1, cov)
    chol = torch.linalg.cholesky(cov)
    delta = torch.linalg.solve_triangular(chol, (mean1 - mean0)[:, None], upper=False).norm()
    return float(torch.erf(delta / (2.0 * math.sqrt(2.0))))  # 2 Phi(x) - 1 = erf(x / sqrt 2)


def _normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def gaussian_tv_1d(mean0: float, var0: float, mean1: float, var1: float) -> float:
    """Exact TV of two 1-D Gaussians: the densities cross where a x^2 + b x + c = 0, and
    TV = |P0(I) - P1(I)| for I the interval between the crossings (one crossing if var0 = var1)."""
    s0, s1 = math.sqrt(var0), math.sqrt(var1)
    a = 0.5 / var0 - 0.5 / var1
    b = mean1 / var1 - mean0 / var0
    c = 0.5 * mean0**2 / var0 - 0.5 * mean1**2 / var1 + math.log(s0 / s1)
    if a == 0.0:
        if b == 0.0:
            return 0.0
        root = -c / b
        return abs(_normal_cdf((root - mean0) / s0) - _normal_cdf((root - mean1) / s1))
    disc = b * b - 4.0 * a * c  # > 0 when var0 != var1 (the densities cross twice)
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))  # stable roots q / a and c / q
    lo, hi = sorted((q / a, c / q))

    def mass(mean, s):
        return _normal_cdf((hi - mean) / s) - _normal_cdf((lo - mean) / s)

    return abs(mass(mean0, s0) - mass(mean1, s1))


def gaussian_tv_bounds(mean0, cov0, mean1, cov1) -> TVBounds:
    """Rigorous lower and upper bounds on TV(N0, N1) (see the module docstring for which is
    which); exact when the covariances are equal or d = 1."""
    mean0, cov0, mean1, cov1 = _check_pair(mean0, cov0, mean1, cov1)
    if torch.equal(cov0, cov1):
        tv = gaussian_tv_equal_cov(mean0, mean1, cov0)
        return TVBounds(tv, tv, tv)
    kl = min(_kl(mean0, cov0, mean1, cov1), _kl(mean1, cov1, mean0, cov0))
    upper = min(1.0, math.sqrt(kl / 2.0), math.sqrt(-math.expm1(-kl)))
    diff = mean1 - mean0
    evals0, evecs0 = torch.linalg.eigh(cov0)
    inv_sqrt0 = evecs0 @ torch.diag(evals0.rsqrt()) @ evecs0.T
    _, rotation = torch.linalg.eigh(inv_sqrt0 @ cov1 @ inv_sqrt0)
    directions = torch.cat(
        [
            torch.stack([torch.linalg.solve(c, diff) for c in (cov0, cov1, cov0 + cov1)], dim=1),
            inv_sqrt0 @ rotation,  # generalised eigenvectors of (cov1, cov0)
        ],
        dim=1,
    )
    lower = 0.0
    for w in directions.T:
        if float(w.norm()) == 0.0:
            continue
        var0, var1 = float(w @ cov0 @ w), float(w @ cov1 @ w)
        lower = max(lower, gaussian_tv_1d(float(w @ mean0), var0, float(w @ mean1), var1))
    if mean0.shape[0] == 1:
        return TVBounds(lower, lower, lower)
    return TVBounds(lower, max(upper, lower), None)


def gaussian_conditional(mean, cov, prefix_dim: int, block_dim: int) -> ConditionalGaussian:
    """Law of the block x[p : p + d_b] given the prefix a = x[:p] under N(mean, cov):
    gain = S_ba S_aa^{-1}, offset = m_b - gain m_a, cov = S_bb - gain S_ab (later blocks
    marginalised out)."""
    mean, cov = _check_gaussian("N", mean, cov)
    p, end = int(prefix_dim), int(prefix_dim) + int(block_dim)
    if p < 0 or block_dim <= 0 or end > mean.shape[0]:
        raise ValueError(
            f"block_dim: prefix {prefix_dim} + block {block_dim} exceeds dimension {mean.shape[0]}"
        )
    s_aa, s_ba, s_bb = cov[:p, :p], cov[p:end, :p], cov[p:end, p:end]
    gain = torch.linalg.solve(s_aa, s_ba.T).T if p > 0 else s_ba
    cond_cov = s_bb - gain @ s_ba.T
    return ConditionalGaussian(gain, mean[p:end] - gain @ mean[:p], 0.5 * (cond_cov + cond_cov.T))


def gaussian_expected_conditional_kl(mean0, cov0, mean1, cov1, prefix_dim, block_dim) -> float:
    """E_{a ~ N0} KL(N0(b | a) || N1(b | a)), exact.

    With b | a ~ N(G_i a + g_i, C_i) under N_i, the mean gap at a is (G_0 - G_1) a + g_0 - g_1,
    so averaging over a ~ N(m_a, S_aa) gives the KL at a = m_a plus
    1/2 tr(C_1^{-1} (G_0 - G_1) S_aa (G_0 - G_1)^T).
    """
    mean0, cov0, mean1, cov1 = _check_pair(mean0, cov0, mean1, cov1)
    law0 = gaussian_conditional(mean0, cov0, prefix_dim, block_dim)
    law1 = gaussian_conditional(mean1, cov1, prefix_dim, block_dim)
    p = int(prefix_dim)
    prefix_mean, prefix_cov = mean0[:p], cov0[:p, :p]
    gap = law0.gain - law1.gain
    centre0 = law0.gain @ prefix_mean + law0.offset
    centre1 = law1.gain @ prefix_mean + law1.offset
    at_mean = _kl(centre0, law0.cov, centre1, law1.cov)
    spread = torch.linalg.solve(law1.cov, gap @ prefix_cov @ gap.T).trace()
    return at_mean + 0.5 * float(spread)
