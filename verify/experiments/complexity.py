"""Claim 5: score evaluations (NFE) needed to reach KL <= eps^2 with exact scores, DDPM vs AR-DM.

Data: `synthetic.presets.gaussian_chain(K, p, rho)`, d = K p. Its scores are affine, so the EI
sampler's output law is Gaussian and known exactly (`verify.exact.gaussian_law`), and every KL
below is closed form (`verify.metrics.gaussian`): no Monte Carlo, no error bars.

Grid family: `verify.grids.exponential_linear(T, N, delta)` (Benton et al.), delta fixed by the
config, T from the rule the prediction uses (`bounds.ardm.STAGE_T`): T = 1/2 log(d / eps^2) for
DDPM, T_k = 1/2 log(K d_k / eps^2) for AR-DM stage k.

- DDPM: target q_delta = OU_delta(p); N = the step count found with KL(q_delta || p^_N) <= eps^2.
- AR-DM: target p_AR,delta(x) = prod_k q^k_delta(x^k | x^{<k}) (MATH.md section 5), which is not
  q_delta. By the chain rule KL(p_AR,delta || p^_AR) = sum_k E_{x^{<k} ~ p_AR,delta}
  KL(q^k_delta(. | x^{<k}) || p^_k(. | x^{<k})), and stage k's term depends on N_k alone, so each
  stage gets the budget eps^2 / K (as in the bound) and its N_k is searched separately;
  NFE = sum_k N_k.
- Search (`smallest_steps`): doubling from N = 1, then bisection, for the boundary N with
  KL(N) <= budget < KL(N - 1); KL need not be monotone in N, so both sides are recorded and checked.
- Prediction: `bounds.complexity.complexity` (Benton rows, C = 1): N = d (T + log 1/delta)^2 / eps^2
  for DDPM and sum_k K d_k (T_k + log 1/delta)^2 / eps^2 for AR-DM; C is fitted per model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

from bounds.ardm import cost_ratio, stage_t
from bounds.complexity import complexity
from bounds.fit import fit_constant
from synthetic.presets import gaussian_chain
from synthetic.validation import DTYPE
from verify.exact.gaussian_law import (
    GaussianLaw,
    append_stage,
    gaussian_ar_sampler_law,
    gaussian_ar_target,
    gaussian_sampler_law,
)
from verify.experiments import Cell, Experiment, Outcome, check_positive_ints
from verify.grids import exponential_linear
from verify.metrics.gaussian import gaussian_expected_conditional_kl, gaussian_kl
from verify.records import check, metric

NAME = "complexity"
CLAIM = (
    "NFE to reach KL <= eps^2 with exact scores, versus eps, d and K, against Benton et al.'s "
    "d (T + log 1/delta)^2 / eps^2 law and AR-DM's predicted extra factor K"
)


# ----- the search -------------------------------------------------------------------------------


class Search(NamedTuple):
    """Boundary step count: kl <= budget < kl_below (kl_below is None when steps == 1)."""

    steps: int
    kl: float
    kl_below: float | None
    evaluations: int


def smallest_steps(kl_of_steps: Callable[[int], float], budget: float, max_steps: int) -> Search:
    """N with kl(N) <= budget < kl(N - 1): doubling N = 1, 2, 4, ... until kl(N) <= budget, then
    bisection between the last failing and the first passing N (invariant kl(lo) > budget >= kl(hi))."""
    cache: dict[int, float] = {}

    def kl(n: int) -> float:
        if n not in cache:
            cache[n] = float(kl_of_steps(n))
        return cache[n]

    lo, hi = 0, 1
    while kl(hi) > budget:
        if hi >= max_steps:
            raise ValueError(f"max_steps: KL {kl(hi):.3g} still above the budget {budget:.3g} at N = {hi}")
        lo, hi = hi, min(2 * hi, max_steps)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if kl(mid) <= budget else (mid, hi)
    return Search(hi, kl(hi), kl(hi - 1) if hi > 1 else None, len(cache))


# ----- exact KL of each sampler against its own target ----------------------------------------


class Problem:
    """One (K, p, rho) chain with its two targets: q_delta (DDPM) and p_AR,delta (AR-DM)."""

    def __init__(self, patches: int, patch_dim: int, rho: float, delta: float, seed: int):
        self.chain = gaussian_chain(patches, patch_dim, rho, seed=seed)
        self.sizes, self.dim, self.delta = self.chain.patch_sizes, self.chain.dim, float(delta)
        mean, cov = self.chain.mean(), self.chain.covariance()
        a = math.exp(-self.delta)
        self.q_delta = (a * mean, a * a * cov + (1 - a * a) * torch.eye(self.dim, dtype=DTYPE))
        self.ar_target = gaussian_ar_target(mean, cov, self.sizes, self.delta)

    def grid(self, T: float, steps: int) -> torch.Tensor:
        return exponential_linear(T, steps, self.delta)

    def ddpm_kl(self, T: float, steps: int) -> float:
        """KL(q_delta || p^_N), exact."""
        law = gaussian_sampler_law(self.chain.affine_score, self.grid(T, steps), self.dim)
        return gaussian_kl(*self.q_delta, law.mean, law.cov)

    def stage_kl(self, k: int, T: float, steps: int) -> float:
        """E_{x^{<k} ~ p_AR,delta} KL(q^k_delta(. | x^{<k}) || p^_k(. | x^{<k})) with N_k = steps;
        earlier stages are irrelevant to it and get one step each."""
        grids = [self.grid(T, 1)] * k + [self.grid(T, steps)]
        law = gaussian_ar_sampler_law(self.chain.conditional_affine_score, self.sizes[: k + 1], grids)
        start = self.chain.patch_bounds[k]
        prefix = GaussianLaw(self.ar_target.mean[:start], self.ar_target.cov[:start, :start])
        exact = append_stage(prefix, self.ar_target.stages[k])
        sampled = append_stage(prefix, law.stages[k])
        return gaussian_expected_conditional_kl(*exact, *sampled, start, self.sizes[k])

    def ddpm_search(self, eps: float, max_steps: int) -> tuple[float, Search]:
        """(T, search) for KL(q_delta || p^) <= eps^2."""
        T = float(stage_t(1, self.dim, eps))
        return T, smallest_steps(lambda n: self.ddpm_kl(T, n), eps**2, max_steps)

    def ar_search(self, eps: float, max_steps: int) -> tuple[list[float], list[Search]]:
        """(T_k, search_k) per stage for stage KL <= eps^2 / K."""
        K = len(self.sizes)
        T = [float(stage_t(K, size, eps)) for size in self.sizes]
        searches = [
            smallest_steps(lambda n, k=k: self.stage_kl(k, T[k], n), eps**2 / K, max_steps) for k in range(K)
        ]
        return T, searches


# ----- config, cells ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Base point (patches K0, patch_dim p0, eps0) and three sweeps through it: eps (at K0, p0),
    d = K0 p (p in patch_dims, at eps0) and K at fixed d = K0 p0 (p = d / K, at eps0)."""

    patches: int = 2
    patch_dim: int = 4
    eps: float = 0.1
    eps_values: tuple = (0.3, 0.2, 0.1, 0.05, 0.03, 0.02)
    patch_dims: tuple = (1, 2, 4, 8)
    patch_counts: tuple = (1, 2, 4, 8)
    rho: float = 0.95
    delta: float = 1e-2
    max_steps: int = 2**17

    def __post_init__(self):
        check_positive_ints("patches", (self.patches,))
        check_positive_ints("patch_dim", (self.patch_dim,))
        check_positive_ints("patch_dims", self.patch_dims)
        check_positive_ints("max_steps", (self.max_steps,))
        for name, value in (("eps", self.eps), *(("eps_values", e) for e in self.eps_values)):
            if not (math.isfinite(value) and 0 < value < 1):
                raise ValueError(f"{name}: must lie in (0, 1), got {value!r}")
        if len(self.eps_values) < 2:
            raise ValueError("eps_values: need at least two values to fit a slope")
        dim = self.patches * self.patch_dim
        if any(dim % K for K in check_positive_ints("patch_counts", self.patch_counts)):
            raise ValueError(f"patch_counts: every K must divide d = patches * patch_dim = {dim}")
        if not 0 <= self.rho < 1:
            raise ValueError(f"rho: must lie in [0, 1), got {self.rho!r}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {self.delta!r}")

    def points(self) -> dict[str, list[tuple[int, int, float]]]:
        """(K, p, eps) of each sweep."""
        dim = self.patches * self.patch_dim
        return {
            "eps": [(self.patches, self.patch_dim, e) for e in self.eps_values],
            "d": [(self.patches, p, self.eps) for p in self.patch_dims],
            "K": [(K, dim // K, self.eps) for K in self.patch_counts],
        }


PROFILES = {
    "quick": Config(eps_values=(0.3, 0.1, 0.03), patch_dims=(1, 2, 4), patch_counts=(1, 2, 4, 8)),
    "default": Config(),
    "full": Config(
        patch_dim=8,
        eps_values=(0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005),
        patch_dims=(1, 2, 4, 8, 16, 32),
        patch_counts=(1, 2, 4, 8, 16),
    ),
}


@dataclass(frozen=True)
class Params:
    patches: int
    patch_dim: int
    eps: float
    rho: float
    delta: float
    max_steps: int
    data_seed: int
    seed: int


def _key(patches: int, patch_dim: int, eps: float) -> str:
    return f"K{patches}-p{patch_dim}-eps{eps:g}"


def cells(config: Config, seed: int) -> list[Cell]:
    """One cell per distinct (K, p, eps) of the three sweeps; all share the chain seed `seed`."""
    unique = dict.fromkeys(point for sweep in config.points().values() for point in sweep)
    shared = (config.rho, config.delta, config.max_steps, seed)
    return [
        Cell(NAME, _key(*point), Params(*point, *shared, seed * 1000 + i)) for i, point in enumerate(unique)
    ]


def run_cell(params: Params, device: str) -> dict:
    """Exact searches for DDPM and AR-DM at one (K, p, eps); float64 on CPU (device unused)."""
    problem = Problem(params.patches, params.patch_dim, params.rho, params.delta, params.data_seed)
    eps = params.eps
    ddpm_T, ddpm = problem.ddpm_search(eps, params.max_steps)
    ar_T, ar = problem.ar_search(eps, params.max_steps)
    table = complexity(eps, problem.sizes, params.delta)
    return {
        "seed": params.seed,
        "K": params.patches,
        "p": params.patch_dim,
        "d": problem.dim,
        "eps": eps,
        "ddpm": {"T": ddpm_T, **ddpm._asdict()},
        "ar": {
            "T": ar_T,
            "steps": [s.steps for s in ar],
            "kl": [s.kl for s in ar],
            "kl_below": [s.kl_below for s in ar],
            "nfe": sum(s.steps for s in ar),
            "kl_total": sum(s.kl for s in ar),
        },
        "predicted": {
            "ddpm": table.nfe("Benton", "DDPM"),
            "ar": table.nfe("Benton", "AR-DM"),
            "ratio": cost_ratio(problem.sizes, eps, params.delta),
        },
    }


# ----- aggregate ---------------------------------------------------------------------------------


def _slope(x, y) -> tuple[float, float]:
    """OLS slope of log y on log x and its standard error (nan for two points)."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    design = np.stack([np.ones_like(lx), lx], axis=1)
    coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
    dof = len(lx) - 2
    if dof < 1:
        return float(coef[1]), math.nan
    sigma2 = float(np.sum((ly - design @ coef) ** 2)) / dof
    return float(coef[1]), math.sqrt(sigma2 / float(np.sum((lx - lx.mean()) ** 2)))


def _cell_checks(r: dict) -> list[dict]:
    """Guaranteed facts of the search: the found N reaches the budget and N - 1 does not."""
    tag = _key(r["K"], r["p"], r["eps"])
    budget, stage_budget = r["eps"] ** 2, r["eps"] ** 2 / r["K"]
    out = [check(f"{tag} DDPM: KL(N) <= eps^2", r["ddpm"]["kl"], budget, "<=")]
    if r["ddpm"]["kl_below"] is not None:
        out.append(check(f"{tag} DDPM: KL(N - 1) > eps^2", r["ddpm"]["kl_below"], budget, ">="))
    for k, (kl, below) in enumerate(zip(r["ar"]["kl"], r["ar"]["kl_below"], strict=True)):
        out.append(check(f"{tag} AR stage {k}: KL(N_k) <= eps^2/K", kl, stage_budget, "<="))
        if below is not None:
            out.append(check(f"{tag} AR stage {k}: KL(N_k - 1) > eps^2/K", below, stage_budget, ">="))
    out.append(check(f"{tag} AR: sum_k stage KL <= eps^2 (chain rule)", r["ar"]["kl_total"], budget, "<="))
    if r["K"] == 1:  # one stage: the AR-DM sampler, target and T rule are DDPM's
        out.append(check(f"{tag} K = 1: AR-DM NFE == DDPM NFE", r["ar"]["nfe"], r["ddpm"]["steps"], "=="))
    return out


def aggregate(config: Config, results: list[dict]) -> Outcome:
    by_point = {(r["K"], r["p"], r["eps"]): r for r in results}
    checks = [c for r in results for c in _cell_checks(r)]
    fits = {
        model: fit_constant(
            [r["ddpm"]["steps"] if model == "ddpm" else r["ar"]["nfe"] for r in results],
            [r["predicted"][model] for r in results],
        )
        for model in ("ddpm", "ar")
    }
    series, metrics = {}, {}
    for sweep, points in config.points().items():
        rows = [by_point[p] for p in points]
        x = [1 / r["eps"] if sweep == "eps" else r[sweep] for r in rows]
        entry = {
            "x": x,
            "ddpm": [r["ddpm"]["steps"] for r in rows],
            "ar": [r["ar"]["nfe"] for r in rows],
            "ar_stage_steps": [r["ar"]["steps"] for r in rows],
            "predicted_ddpm": [r["predicted"]["ddpm"] for r in rows],
            "predicted_ar": [r["predicted"]["ar"] for r in rows],
            "ratio": [r["ar"]["nfe"] / r["ddpm"]["steps"] for r in rows],
            "predicted_ratio": [r["predicted"]["ratio"] for r in rows],
        }
        series[sweep] = entry
        if sweep == "K":
            continue
        axis = "log(1/eps)" if sweep == "eps" else "log d"
        for model in ("ddpm", "ar", "predicted_ddpm", "predicted_ar"):
            slope, se = _slope(x, entry[model])
            estimator = f"OLS slope of log NFE on {axis} (exact NFE; stderr = misfit of a power law)"
            if model.startswith("predicted"):
                estimator = f"OLS slope of log predicted NFE on {axis} (bounds.complexity, Benton)"
            metrics[f"slope_{sweep}_{model}"] = metric(slope, "1", estimator, stderr=se)
    for model, fit in fits.items():
        half = 1.96 * fit.log_stderr if math.isfinite(fit.log_stderr) else math.inf
        metrics[f"fitted_C_{model}"] = metric(
            fit.constant,
            "1",
            "bounds.fit.fit_constant: geometric mean of measured / predicted over all cells",
            ci=(math.exp(fit.log_constant - half), math.exp(fit.log_constant + half)),
        )
    series["fitted_C"] = {model: fit.constant for model, fit in fits.items()}
    k_rows = series["K"]
    for K, ratio, predicted in zip(k_rows["x"], k_rows["ratio"], k_rows["predicted_ratio"], strict=True):
        metrics[f"ratio_K{K}"] = metric(ratio, "1", "AR-DM NFE / DDPM NFE (exact search)")
        metrics[f"predicted_ratio_K{K}"] = metric(predicted, "1", "bounds.ardm.cost_ratio (Benton, C = 1)")
    summary = _summary(config, metrics, k_rows)
    return Outcome(metrics, checks, series, summary)


def _summary(config: Config, metrics: dict, k_rows: dict) -> dict:
    def slope(name):
        m = metrics[name]
        return f"{m['value']:.2f}+-{m['stderr']:.2f}" if math.isfinite(m["stderr"]) else f"{m['value']:.2f}"

    K, ratio, predicted = k_rows["x"][-1], k_rows["ratio"][-1], k_rows["predicted_ratio"][-1]
    verdict = "cheaper than" if ratio < 1 else "costlier than"
    return {
        "measured": (
            f"NFE ~ eps^-a with a = {slope('slope_eps_ddpm')} (DDPM), {slope('slope_eps_ar')} (AR-DM); "
            f"~ d^b, b = {slope('slope_d_ddpm')} / {slope('slope_d_ar')}; at K = {K} "
            f"(d = {config.patches * config.patch_dim}, eps = {config.eps:g}) AR-DM needs {ratio:.2f}x "
            f"DDPM's NFE ({verdict} DDPM)"
        ),
        "bound": (
            f"Benton: NFE ~ d (T + log 1/delta)^2 / eps^2, local slopes a = "
            f"{metrics['slope_eps_predicted_ddpm']['value']:.2f}, b = "
            f"{metrics['slope_d_predicted_ddpm']['value']:.2f}; AR/DDPM = {predicted:.2f} (~K = {K})"
        ),
    }


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 3.0, "default": 4.0, "full": 40.0},
)
