"""Predicted number of score evaluations (NFE) for DDPM and AR-DM under each published bound.

Scaling laws with C = 1 and, where the paper states O~, logarithmic factors dropped:
- Benton (KL <= eps^2): N = d (T + log 1/delta)^2 / eps^2, T = 1/2 log(d / eps^2); AR-DM stage k
  gets eps^2 / K (chain rule), see `bounds.ardm`.
- Chen (TV <= eps): its bracket squared is a KL bound (Girsanov then Pinsker), leading term
  L^2 d h T <= eps^2 / K gives h, N = T/h = K L^2 d T^2 / eps^2, reported without the T^2 log
  factor: N = K L^2 d / eps^2 (K = 1: DDPM).
- Li and Yan (TV <= eps): TV is subadditive over stages (sum of prefix-averaged conditional TVs),
  so stage k gets eps / K; d_k / N_k = eps / K gives N_k = K d_k / eps.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sympy as sp

from bounds.ardm import ardm_steps
from bounds.core import sym

K, eps, L, d_k, h, T, N_k = (sym(n) for n in ("K", "eps", "L", "d_k", "h", "T", "N_k"))

CHEN_STEPS_T = sp.simplify(T / sp.solve(sp.Eq(L**2 * d_k * h * T, eps**2 / K), h)[0])
"""N_k = T / h = K L^2 d_k T^2 / eps^2 per stage."""
CHEN_STEPS = CHEN_STEPS_T.xreplace({T: 1})
"""K L^2 d_k / eps^2: the O~ law, T^2 = O(log^2(1/eps)) dropped."""
LI_YAN_STEPS = sp.solve(sp.Eq(d_k / N_k, eps / K), N_k)[0]
"""K d_k / eps per stage (log^3 N dropped)."""

_chen = sp.lambdify((K, L, d_k, eps), CHEN_STEPS, modules="numpy")
_li_yan = sp.lambdify((K, d_k, eps), LI_YAN_STEPS, modules="numpy")


class ComplexityRow(NamedTuple):
    bound: str
    model: str
    nfe: float


class ComplexityTable(NamedTuple):
    """Predicted NFE per (bound, model); `ratio(bound)` = AR-DM / DDPM."""

    eps: float
    patch_sizes: tuple[int, ...]
    delta: float
    rows: tuple[ComplexityRow, ...]

    def nfe(self, bound: str, model: str) -> float:
        for row in self.rows:
            if row.bound == bound and row.model == model:
                return row.nfe
        raise ValueError(f"bound/model: no row ({bound!r}, {model!r})")

    def ratio(self, bound: str) -> float:
        return self.nfe(bound, "AR-DM") / self.nfe(bound, "DDPM")

    def __str__(self) -> str:
        lines = [f"{'bound':<8} {'model':<6} {'NFE':>12}"]
        lines += [f"{r.bound:<8} {r.model:<6} {r.nfe:>12.4g}" for r in self.rows]
        return "\n".join(lines)


def complexity(
    eps: float, patch_sizes, delta: float, L: float | None = None, T: float | None = None
) -> ComplexityTable:
    """NFE for KL <= eps^2 (Benton) or TV <= eps (Chen, Li-Yan), DDPM on d = sum d_k vs AR-DM.

    `T` overrides the horizon rule T = 1/2 log(d / eps^2) (T_k = 1/2 log(K d_k / eps^2) per
    stage); Chen rows need the Lipschitz constant `L` and are left out without it.
    """
    sizes = tuple(int(s) for s in np.atleast_1d(patch_sizes))
    if not sizes or any(s < 1 for s in sizes):
        raise ValueError(f"patch_sizes: must be positive integers, got {patch_sizes!r}")
    if not (np.isfinite(eps) and eps > 0):
        raise ValueError(f"eps: must be finite and positive, got {eps!r}")
    if L is not None and not (np.isfinite(L) and L > 0):
        raise ValueError(f"L: must be finite and positive, got {L!r}")
    n, d = len(sizes), sum(sizes)
    horizon = None if T is None else [T] * n
    rows = [
        ComplexityRow("Benton", "DDPM", float(ardm_steps([d], eps, delta, horizon and horizon[:1]).sum())),
        ComplexityRow("Benton", "AR-DM", float(ardm_steps(sizes, eps, delta, horizon).sum())),
        ComplexityRow("Li-Yan", "DDPM", float(_li_yan(1, d, eps))),
        ComplexityRow("Li-Yan", "AR-DM", float(np.sum(_li_yan(n, np.array(sizes), eps)))),
    ]
    if L is not None:
        rows += [
            ComplexityRow("Chen", "DDPM", float(_chen(1, L, d, eps))),
            ComplexityRow("Chen", "AR-DM", float(np.sum(_chen(n, L, np.array(sizes), eps)))),
        ]
    return ComplexityTable(float(eps), sizes, float(delta), tuple(rows))
