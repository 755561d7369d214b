"""The cost of reaching KL <= eps^2 with exact scores on Gaussian targets: step searches and the
allocation of steps across AR-DM stages (shared by the complexity and inference-cost experiments).

Data: a Gaussian N(m, S) on R^d split into patches d_1..d_K (equal patches of
`synthetic.presets.gaussian_chain`, or any regrouping of its coordinates). Scores are affine, so the
EI sampler's output law is Gaussian and known exactly (`verify.exact.gaussian_law`) and every KL is
closed form (`verify.metrics.gaussian`).

- DDPM: target q_delta = OU_delta(p); KL(q_delta || p^_N) for N steps on one grid.
- AR-DM: target p_AR,delta(x) = prod_k q^k_delta(x^k | x^{<k}). By the chain rule
  KL(p_AR,delta || p^_AR) = sum_k f_k(N_k), f_k(N_k) = E_{x^{<k} ~ p_AR,delta}
  KL(q^k_delta(. | x^{<k}) || p^_k(. | x^{<k})), and stage k's term depends on its own N_k alone.
  The smallest total NFE is min sum_k N_k subject to sum_k f_k(N_k) <= eps^2, over integer N_k >= 1.
Three allocations of the steps:
- uniform: each stage the budget eps^2 / K, N_k searched separately (the bound's rule);
- Lagrange: N_k proportional to sqrt(c_k) (`bounds.ardm.optimal_allocation`, the bound's optimum),
  the smallest total M with N_k = ceil(M w_k) meeting eps^2;
- best: `best_allocation` started from the uniform and from the Lagrange allocation, the smaller
  kept. It is the exact optimum when the f_k are convex and decreasing; they need not be (the
  exponential-linear grid changes shape with N, and f_k(N) can rise by a few per cent from N to
  N + 1), and then it is a local optimum certified against every one-step move.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

from bounds.ardm import optimal_allocation, stage_t
from synthetic import GaussianMixture, Patches
from synthetic.presets import gaussian_chain
from synthetic.validation import DTYPE
from verify.exact.gaussian_law import (
    GaussianLaw,
    append_stage,
    gaussian_ar_sampler_law,
    gaussian_ar_target,
    gaussian_sampler_law,
)
from verify.experiments import check_positive_int
from verify.grids import exponential_linear
from verify.metrics.gaussian import gaussian_expected_conditional_kl, gaussian_kl
from verify.verdicts import Comparison, exact

ALLOCATIONS = ("uniform", "lagrange", "best")


class Search(NamedTuple):
    """Boundary step count: kl <= budget < kl_below (kl_below is None when steps == 1)."""

    steps: int
    kl: float
    kl_below: float | None
    evaluations: int


class Allocation(NamedTuple):
    """Steps N_k per stage, their stage KLs f_k(N_k), and the certificate of `best_allocation`:
    the smallest KL increase of removing one step (None when every stage has one step) and the
    largest KL decrease minus increase of moving one step between two stages (None for K = 1)."""

    steps: list[int]
    kl: list[float]
    removal: float | None = None
    transfer: float | None = None

    @property
    def nfe(self) -> int:
        return sum(self.steps)

    @property
    def kl_total(self) -> float:
        return sum(self.kl)


def _cached(fn: Callable[[int], float]) -> Callable[[int], float]:
    cache: dict[int, float] = {}

    def value(n: int) -> float:
        if n not in cache:
            cache[n] = float(fn(n))
        return cache[n]

    value.cache = cache
    return value


def smallest_steps(kl_of_steps: Callable[[int], float], budget: float, max_steps: int) -> Search:
    """N with kl(N) <= budget < kl(N - 1): doubling N = 1, 2, 4, ... until kl(N) <= budget, then
    bisection between the last failing and the first passing N (invariant kl(lo) > budget >= kl(hi))."""
    kl = _cached(kl_of_steps)
    lo, hi = 0, 1
    while kl(hi) > budget:
        if hi >= max_steps:
            raise ValueError(f"max_steps: KL {kl(hi):.3g} still above the budget {budget:.3g} at N = {hi}")
        lo, hi = hi, min(2 * hi, max_steps)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if kl(mid) <= budget else (mid, hi)
    return Search(hi, kl(hi), kl(hi - 1) if hi > 1 else None, len(kl.cache))


def best_allocation(
    stage_kls: Sequence[Callable[[int], float]], budget: float, start: Sequence[int], max_steps: int
) -> Allocation:
    """min sum_k N_k subject to sum_k f_k(N_k) <= budget, from a feasible `start`.

    Marginal-gain local search: while moving one step from stage j to stage k lowers the total KL
    (gain f_k(N_k) - f_k(N_k + 1) > loss f_j(N_j - 1) - f_j(N_j)), move it; when no move helps,
    remove the step of smallest loss if the budget still holds, else stop. For convex decreasing
    f_k, an allocation no one-step transfer improves minimises sum_k f_k at its total (discrete
    resource allocation), and the minima for consecutive totals differ by one removal, so the
    result is the optimum; the certificate (`Allocation.removal`, `.transfer`) is returned to be
    checked whatever the f_k.
    """
    f = [_cached(fn) for fn in stage_kls]
    steps = [int(n) for n in start]
    if len(steps) != len(f) or any(n < 1 for n in steps):
        raise ValueError(f"start: need {len(f)} positive step counts, got {list(start)!r}")
    if sum(fk(n) for fk, n in zip(f, steps, strict=True)) > budget:
        raise ValueError(f"start: must meet the budget {budget:.3g}, got {list(start)!r}")

    def gain(k):
        return f[k](steps[k]) - f[k](steps[k] + 1) if steps[k] < max_steps else -math.inf

    def loss(j):
        return f[j](steps[j] - 1) - f[j](steps[j]) if steps[j] > 1 else math.inf

    def best_transfer():
        pairs = [(k, j) for k in range(len(f)) for j in range(len(f)) if j != k and steps[j] > 1]
        return max(((gain(k) - loss(j), k, j) for k, j in pairs), default=None)

    while True:
        transfer = best_transfer()
        if transfer is not None and transfer[0] > 0:
            _, k, j = transfer
            steps[k], steps[j] = steps[k] + 1, steps[j] - 1
            continue
        j = min(range(len(f)), key=loss)
        total = sum(fk(n) for fk, n in zip(f, steps, strict=True))
        if loss(j) < math.inf and total + loss(j) <= budget:
            steps[j] -= 1
            continue
        break
    transfer = best_transfer()
    removal = min((loss(j) for j in range(len(f)) if steps[j] > 1), default=None)
    kls = [fk(n) for fk, n in zip(f, steps, strict=True)]
    return Allocation(steps, kls, removal, None if transfer is None else transfer[0])


class Problem:
    """A Gaussian N(mean, cov) in patches `sizes` with its two targets: q_delta (DDPM) and
    p_AR,delta (AR-DM); exact KLs of both samplers, memoised per (stage, T, N)."""

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, sizes, delta: float):
        self.layout = Patches.of(mean.shape[0], sizes)
        self.sizes = self.layout.sizes
        self.dim, self.delta = mean.shape[0], float(delta)
        self.gaussian = GaussianMixture(
            torch.ones(1, dtype=DTYPE), mean[None], cov[None], patch_sizes=self.sizes
        )
        a = math.exp(-self.delta)
        self.q_delta = (a * mean, a * a * cov + (1 - a * a) * torch.eye(self.dim, dtype=DTYPE))
        self.ar_target = gaussian_ar_target(mean, cov, self.sizes, self.delta)
        self._memo: dict[tuple, float] = {}

    @classmethod
    def chain(cls, patches: int, patch_dim: int, rho: float, delta: float, seed: int, sizes=None) -> Problem:
        """`gaussian_chain(patches, patch_dim, rho, seed)`, its coordinates regrouped into `sizes`
        (default: the chain's own equal patches)."""
        chain = gaussian_chain(patches, patch_dim, rho, seed=seed)
        return cls(chain.mean(), chain.covariance(), chain.patch_sizes if sizes is None else sizes, delta)

    def grid(self, T: float, steps: int) -> torch.Tensor:
        return exponential_linear(T, steps, self.delta)

    def ddpm_kl(self, T: float, steps: int) -> float:
        """KL(q_delta || p^_N), exact."""
        key = ("ddpm", T, steps)
        if key not in self._memo:
            law = gaussian_sampler_law(self.gaussian.affine_score, self.grid(T, steps), self.dim)
            self._memo[key] = gaussian_kl(*self.q_delta, law.mean, law.cov)
        return self._memo[key]

    def stage_kl(self, k: int, T: float, steps: int) -> float:
        """f_k(N_k) = E_{x^{<k} ~ p_AR,delta} KL(q^k_delta(. | x^{<k}) || p^_k(. | x^{<k})) with
        N_k = steps; earlier stages are irrelevant to it and get one step each."""
        key = (k, T, steps)
        if key not in self._memo:
            grids = [self.grid(T, 1)] * k + [self.grid(T, steps)]
            law = gaussian_ar_sampler_law(self.gaussian.conditional_affine_score, self.sizes[: k + 1], grids)
            start = self.layout.offsets[k]
            prefix = GaussianLaw(self.ar_target.mean[:start], self.ar_target.cov[:start, :start])
            exact = append_stage(prefix, self.ar_target.stages[k])
            sampled = append_stage(prefix, law.stages[k])
            self._memo[key] = gaussian_expected_conditional_kl(*exact, *sampled, start, self.sizes[k])
        return self._memo[key]

    def ddpm_t(self, eps: float) -> float:
        """T = 1/2 log(d / eps^2) (`bounds.ardm.DDPM_T`)."""
        return float(stage_t(1, self.dim, eps))

    def ar_t(self, eps: float) -> list[float]:
        """T_k = 1/2 log(K d_k / eps^2) (`bounds.ardm.STAGE_T`)."""
        return [float(stage_t(len(self.sizes), size, eps)) for size in self.sizes]

    def ddpm_search(self, eps: float, max_steps: int) -> Search:
        """Smallest N with KL(q_delta || p^_N) <= eps^2."""
        T = self.ddpm_t(eps)
        return smallest_steps(lambda n: self.ddpm_kl(T, n), eps**2, max_steps)

    def stage_kls(self, eps: float) -> list[Callable[[int], float]]:
        """f_k as functions of N_k, on the T_k of `ar_t`."""
        return [lambda n, k=k, T=T: self.stage_kl(k, T, n) for k, T in enumerate(self.ar_t(eps))]

    def allocate(self, eps: float, how: str, max_steps: int) -> Allocation:
        """AR-DM steps reaching sum_k f_k(N_k) <= eps^2 under allocation `how` (ALLOCATIONS)."""
        if how not in ALLOCATIONS:
            raise ValueError(f"how: must be one of {ALLOCATIONS}, got {how!r}")
        f, K = self.stage_kls(eps), len(self.sizes)
        if how == "best":
            starts = [self.allocate(eps, start, max_steps).steps for start in ("uniform", "lagrange")]
            found = [best_allocation(f, eps**2, start, max_steps) for start in starts]
            return min(found, key=lambda a: (a.nfe, a.kl_total))
        if how == "lagrange":
            weights = optimal_allocation(1.0, self.sizes, self.ar_t(eps), self.delta)

            def split(total):
                return [max(1, math.ceil(total * w)) for w in weights]

            found = smallest_steps(
                lambda m: sum(fk(n) for fk, n in zip(f, split(m), strict=True)), eps**2, max_steps
            )
            steps = split(found.steps)
            return Allocation(steps, [fk(n) for fk, n in zip(f, steps, strict=True)])
        uniform = [smallest_steps(fk, eps**2 / K, max_steps) for fk in f]
        return Allocation([s.steps for s in uniform], [s.kl for s in uniform])


# ----- how fast a cost ratio grows with K ----------------------------------------------------------

MODERATE_CLAIM = "AR-DM's cost is only moderately larger than DDPM's: the AR/DDPM ratio grows slower than K"


def check_cost_config(config) -> None:
    """The fields both cost experiments share: rho in [0, 1) (the chain's dependence), delta in
    (0, 1), max_steps a positive int, and the declared verdict 0 < margin <= moderate_slope <= 1."""
    check_positive_int("max_steps", config.max_steps)
    if not 0 <= config.rho < 1:
        raise ValueError(f"rho: must lie in [0, 1), got {config.rho!r}")
    if not 0 < config.delta < 1:
        raise ValueError(f"delta: must lie in (0, 1), got {config.delta!r}")
    if not (0 < config.margin <= config.moderate_slope <= 1):
        raise ValueError(
            f"moderate_slope, margin: need 0 < margin <= moderate_slope <= 1, "
            f"got {config.moderate_slope!r}, {config.margin!r}"
        )


def loglog_slope(x, y) -> tuple[float, float]:
    """OLS slope b of log y on log x and its standard error (nan for two points)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if lx.size < 2 or lx.shape != ly.shape or not np.all(np.isfinite(ly)):
        raise ValueError(f"x, y: need >= 2 positive pairs of equal length, got {lx.size} and {ly.size}")
    design = np.stack([np.ones_like(lx), lx], axis=1)
    coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
    dof = lx.size - 2
    if dof < 1:
        return float(coef[1]), math.nan
    sigma2 = float(np.sum((ly - design @ coef) ** 2)) / dof
    return float(coef[1]), math.sqrt(sigma2 / float(np.sum((lx - lx.mean()) ** 2)))


def _moderate(endpoint: str, slopes, moderate_slope: float) -> tuple[str, tuple]:
    """The endpoint's name and d_i = moderate_slope - b_i, b_i the log-log slope of the AR/DDPM
    cost ratio against K in repeat or target i (b = 1: the bound's factor K)."""
    name = f"{endpoint}: {moderate_slope:g} - slope of log(AR/DDPM) on log K"
    return name, tuple(moderate_slope - b for b in slopes)


def moderate_growth(endpoint: str, slopes, moderate_slope: float, margin: float, primary: bool) -> Comparison:
    """ "Only moderately larger" over noisy repeats (timing rounds) as a superiority comparison on
    d_i: supported when b < moderate_slope is shown, contradicted when b > moderate_slope - margin is."""
    name, d = _moderate(endpoint, slopes, moderate_slope)
    return Comparison(MODERATE_CLAIM, name, "superiority", d, margin, primary)


def moderate_growth_exact(endpoint: str, slopes, moderate_slope: float, margin: float, primary: bool) -> dict:
    """The same over deterministic targets (exact KL: no sampling error, so no test): supported when
    every target grows slower than moderate_slope (min d > 0), contradicted when every one grows
    faster than moderate_slope - margin (max d < margin), unresolved otherwise."""
    name, d = _moderate(endpoint, slopes, moderate_slope)
    return exact(
        MODERATE_CLAIM,
        name + ", range over targets",
        float(np.mean(d)),
        0.0,
        margin,
        primary,
        (min(d), max(d)),
    )
