"""The AR-DM bound: the toolkit's own derivation (the seed paper's theorem text was not available).

Chain rule (an identity for any joint model p^):
    KL(p || p^) = sum_k E_{x^{<k} ~ p} KL(p(. | x^{<k}) || p^(. | x^{<k})).
Stage k is a DDPM on R^{d_k} conditioned on the prefix, so Benton et al.'s bound applies to it
with its own d_k, N_k, T_k, delta_k and prefix-averaged score error eps_k (the bound is affine in
eps_k^2, so averaging over prefixes passes through). Summing gives `ardm_bound(K)`.

Derived below with sympy, not by hand:
- `STAGE_T`, `STAGE_STEPS`: per-stage budget eps^2 / K; the initialisation term d_k e^{-2T_k}
  = eps^2/K fixes T_k, the leading discretisation term kappa^2 d_k N_k = eps^2/K with
  N_k = (T_k + log 1/delta_k)/kappa fixes N_k = K d_k (T_k + log 1/delta_k)^2 / eps^2.
- `DDPM_T`, `DDPM_STEPS`: the same with K = 1, d_k = d.
- `EQUAL_PATCH_RATIO`: AR-DM total / DDPM steps for d_k = d/K: exactly K.
- `ALLOCATION`: minimise sum_k c_k / N_k subject to sum_k N_k = N_total (Lagrange), c_k the
  coefficient of 1/N_k in stage k's bound: N_k = N_total sqrt(c_k) / sum_j sqrt(c_j).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from bounds.benton import BENTON_N
from bounds.core import Bound, sym, total

K, eps, d, T, delta = (sym(n) for n in ("K", "eps", "d", "T", "delta"))
STAGE_NAMES = ("d", "N", "T", "delta", "eps_score", "m2")
d_k, N_k, T_k, delta_k, kappa, lam, N_total, S = (
    sym(n) for n in ("d_k", "N_k", "T_k", "delta_k", "kappa", "lambda", "N_total", "S")
)
c_k = sym("c_k")


def stage_bound(k: int) -> Bound:
    """Benton's bound for stage k (1-based), its constants renamed with the suffix _k."""
    return BENTON_N.substitute(f"stage {k}", **{n: sym(f"{n}_{k}") for n in STAGE_NAMES})


def ardm_bound(K: int) -> Bound:
    """KL(p || p^_AR) <= C sum_k [eps_k^2 + d_k (T_k + L_k)^2/N_k + d_k T_k (T_k + L_k)/N_k
    + d_k e^{-2 T_k}], L_k = log(1/delta_k): chain rule plus Benton per stage (K stages)."""
    if isinstance(K, bool) or int(K) != K or K < 1:
        raise ValueError(f"K: must be a positive integer, got {K!r}")
    stages = [stage_bound(k) for k in range(1, int(K) + 1)]
    source = "toolkit derivation: chain rule + " + BENTON_N.source + " per stage"
    return total(f"AR-DM, K = {K} (chain rule + Benton per stage)", stages, source)


# ----- step counts for KL <= eps^2 (budget eps^2 / K per stage) -----------------------------------

_log = sp.log(1 / delta_k)
STAGE_T = sp.solve(sp.Eq(d_k * sp.exp(-2 * T_k), eps**2 / K), T_k)[0]
_kappa = sp.solve(sp.Eq(kappa**2 * d_k * (T_k + _log) / kappa, eps**2 / K), kappa)[0]
STAGE_STEPS = sp.simplify((T_k + _log) / _kappa)
_ddpm = {K: 1, d_k: d, T_k: T, delta_k: delta}
DDPM_T = STAGE_T.xreplace(_ddpm)
DDPM_STEPS = STAGE_STEPS.xreplace(_ddpm)
EQUAL_PATCH_RATIO = sp.simplify(
    sp.expand_log(
        K
        * STAGE_STEPS.xreplace({T_k: STAGE_T}).xreplace({d_k: d / K, delta_k: delta})
        / DDPM_STEPS.xreplace({T: DDPM_T}),
        force=True,
    )
)

stage_t = sp.lambdify((K, d_k, eps), STAGE_T, modules="numpy")
stage_steps = sp.lambdify((K, d_k, T_k, delta_k, eps), STAGE_STEPS, modules="numpy")


def _positive(name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name}: must be finite and positive, got {value!r}")
    return arr


def _early_stopping(delta_values) -> np.ndarray:
    delta_values = _positive("delta", delta_values)
    if np.any(delta_values >= 1):
        raise ValueError(f"delta: early stopping must lie in (0, 1), got {delta_values}")
    return delta_values


def ardm_steps(patch_sizes, eps_target: float, delta_value: float, T_values=None) -> np.ndarray:
    """N_k per stage for KL <= eps^2 (T_k from `STAGE_T` unless given): the scaling law, C = 1."""
    sizes = _positive("patch_sizes", patch_sizes)
    eps_target = float(_positive("eps", eps_target))
    delta_value = float(_early_stopping(delta_value))
    n = len(sizes)
    T_values = stage_t(n, sizes, eps_target) if T_values is None else _positive("T", T_values)
    return stage_steps(n, sizes, T_values, delta_value, eps_target) * np.ones(n)


# ----- optimal allocation of a fixed total across stages (Lagrange) -------------------------------

STAGE_COEFFICIENT = sp.simplify(stage_bound(1).terms["discretisation"] * sym("N_1"))
"""c_k: stage k's discretisation term is c_k / N_k (written for stage 1)."""

_lagrangian = c_k / N_k + lam * N_k  # one stage's part of sum_k c_k/N_k + lam (sum_k N_k - N_total)
_n_of_lambda = sp.solve(sp.diff(_lagrangian, N_k), N_k)[0]  # sqrt(c_k / lambda)
# sum_k sqrt(c_k / lambda) = S / sqrt(lambda) = N_total, with S = sum_k sqrt(c_k)
_lambda = sp.solve(sp.Eq(_n_of_lambda.xreplace({c_k: S**2}), N_total), lam)[0]
ALLOCATION = sp.simplify(_n_of_lambda.xreplace({lam: _lambda}))
"""N_k = N_total sqrt(c_k) / S with S = sum_j sqrt(c_j)."""

_allocation = sp.lambdify((c_k, S, N_total), ALLOCATION, modules="numpy")
stage_coefficient = sp.lambdify(
    [sym(n) for n in ("d_1", "T_1", "delta_1")], STAGE_COEFFICIENT, modules="numpy"
)


def _coefficients(patch_sizes, T_values, delta_values) -> np.ndarray:
    """c_k per stage, broadcast to the number of stages."""
    sizes = _positive("patch_sizes", patch_sizes)
    c = stage_coefficient(sizes, _positive("T", T_values), _early_stopping(delta_values))
    return c * np.ones(sizes.size)


def optimal_allocation(total_steps: float, patch_sizes, T_values, delta_values) -> np.ndarray:
    """Real-valued N_k minimising the summed discretisation terms with sum_k N_k = total_steps."""
    c = _coefficients(patch_sizes, T_values, delta_values)
    return _allocation(c, np.sqrt(c).sum(), float(_positive("total_steps", total_steps)))


def discretisation_total(steps, patch_sizes, T_values, delta_values) -> float:
    """sum_k c_k / N_k: the AR-DM bound's discretisation part for an allocation (C = 1)."""
    c = _coefficients(patch_sizes, T_values, delta_values)
    return float(np.sum(c / _positive("steps", steps)))


def cost_ratio(patch_sizes, eps_target: float, delta_value: float) -> float:
    """Total AR-DM steps / DDPM steps for KL <= eps^2, T rules of `STAGE_T` and `DDPM_T`."""
    sizes = _positive("patch_sizes", patch_sizes)
    ddpm = ardm_steps([sizes.sum()], eps_target, delta_value)
    return float(ardm_steps(sizes, eps_target, delta_value).sum() / ddpm.sum())


__all__ = [
    "ALLOCATION",
    "DDPM_STEPS",
    "DDPM_T",
    "EQUAL_PATCH_RATIO",
    "STAGE_COEFFICIENT",
    "STAGE_STEPS",
    "STAGE_T",
    "ardm_bound",
    "ardm_steps",
    "cost_ratio",
    "discretisation_total",
    "optimal_allocation",
    "stage_bound",
]
