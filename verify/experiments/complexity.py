"""Claim 5: score evaluations (NFE) needed to reach KL <= eps^2 with exact scores, DDPM vs AR-DM,
with the AR-DM steps allocated across stages three ways (`verify.cost`).

Data: `synthetic.presets.gaussian_chain(K, p, rho)`, d = K p, or the scalar chain
gaussian_chain(d, 1, rho) regrouped into unequal patches. Scores are affine, so every KL below is
exact and closed form (`verify.cost.Problem`): no Monte Carlo.

Grid family: `verify.grids.exponential_linear(T, N, delta)` (Benton et al.), delta fixed by the
config, T from the rule the prediction uses (`bounds.ardm.STAGE_T`): T = 1/2 log(d / eps^2) for
DDPM, T_k = 1/2 log(K d_k / eps^2) for AR-DM stage k.

- DDPM: N = the smallest step count with KL(q_delta || p^_N) <= eps^2 (`verify.cost.smallest_steps`).
- AR-DM: NFE = sum_k N_k with sum_k f_k(N_k) <= eps^2 (chain rule), N_k allocated uniformly
  (eps^2 / K per stage, the bound's rule), by the bound's Lagrange optimum, or exactly optimally
  (`verify.cost.best_allocation` from both, certified by its one-step optimality conditions; the
  exact optimum for convex stage KLs).
- Prediction: `bounds.complexity.complexity` (Benton rows, C = 1): N = d (T + log 1/delta)^2 / eps^2
  for DDPM and sum_k K d_k (T_k + log 1/delta)^2 / eps^2 for AR-DM; C is fitted per model.
- Verdict ("only moderately larger"): per chain seed, the log-log slope b of the AR/DDPM NFE ratio
  against K at fixed d (K = 1 included, ratio 1) on each of the chains with dependence rho in
  `rhos` (every KL is exact, so there is no sampling noise to test: the verdict is the exact rule
  of `verify.cost.moderate_growth_exact` over the range of the targets' slopes, against the
  declared `moderate_slope` and `margin`; primary: the best allocation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bounds.ardm import cost_ratio
from bounds.complexity import complexity
from bounds.fit import fit_constant
from verify.cost import ALLOCATIONS, Problem, check_cost_config, loglog_slope, moderate_growth_exact
from verify.experiments import Cell, Experiment, Outcome, check_positive_ints
from verify.records import check, metric
from verify.verdicts import describe, mean_interval, overall

NAME = "complexity"
CLAIM = (
    "NFE to reach KL <= eps^2 with exact scores, versus eps, d and K, against Benton et al.'s "
    "d (T + log 1/delta)^2 / eps^2 law and AR-DM's predicted extra factor K, under the best "
    "allocation of steps across stages"
)
SWEEPS = ("eps", "d", "K", "unequal")


@dataclass(frozen=True)
class Config:
    """Base point (patches K0, patch_dim p0, eps0) and sweeps through it: eps (at K0, p0),
    d = K0 p (p in patch_dims, at eps0), K at fixed d = K0 p0 (p = d / K, at eps0; repeated for
    each dependence in `rhos`, the repeats of the verdict) and `patchings` (unequal patches of
    the scalar chain in R^d); `rho` for every sweep but K's. `moderate_slope` and `margin`
    declare the verdict before measuring."""

    patches: int = 4
    patch_dim: int = 2
    eps: float = 0.1
    eps_values: tuple = (0.3, 0.2, 0.1, 0.05, 0.03)
    patch_dims: tuple = (1, 2, 4, 8)
    patch_counts: tuple = (1, 2, 4, 8)
    patchings: tuple = ((1, 7), (7, 1), (2, 6), (2, 2, 4), (4, 2, 2), (1, 1, 1, 5), (5, 1, 1, 1))
    rhos: tuple = (0.0, 0.5, 0.8, 0.95, 0.99)
    moderate_slope: float = 0.9
    margin: float = 0.1
    rho: float = 0.95
    delta: float = 1e-2
    max_steps: int = 2**17

    def __post_init__(self):
        check_positive_ints("patches", (self.patches,))
        check_positive_ints("patch_dim", (self.patch_dim,))
        check_positive_ints("patch_dims", self.patch_dims)
        if len(self.rhos) < 2 or any(not 0 <= r < 1 for r in self.rhos):
            raise ValueError(f"rhos: need >= 2 values in [0, 1) (the verdict's repeats), got {self.rhos!r}")
        for name, value in (("eps", self.eps), *(("eps_values", e) for e in self.eps_values)):
            if not (math.isfinite(value) and 0 < value < 1):
                raise ValueError(f"{name}: must lie in (0, 1), got {value!r}")
        if len(self.eps_values) < 2:
            raise ValueError("eps_values: need at least two values to fit a slope")
        dim = self.patches * self.patch_dim
        counts = check_positive_ints("patch_counts", self.patch_counts)
        if any(dim % K for K in counts) or len(counts) < 2:
            raise ValueError(f"patch_counts: need >= 2 values, each dividing d = {dim}, got {counts!r}")
        for sizes in self.patchings:
            if sum(check_positive_ints("patchings", sizes)) != dim:
                raise ValueError(f"patchings: every patching must sum to d = {dim}, got {sizes!r}")
        check_cost_config(self)

    @property
    def dim(self) -> int:
        return self.patches * self.patch_dim

    def points(self) -> dict[str, list[tuple]]:
        """(K, p, eps, sizes, rho) of each sweep; sizes None means the chain's own patches."""
        return {
            "eps": [(self.patches, self.patch_dim, e, None, self.rho) for e in self.eps_values],
            "d": [(self.patches, p, self.eps, None, self.rho) for p in self.patch_dims],
            "K": [(K, self.dim // K, self.eps, None, r) for r in self.rhos for K in self.patch_counts],
            "unequal": [(self.dim, 1, self.eps, tuple(s), self.rho) for s in self.patchings],
        }


@dataclass(frozen=True)
class Params:
    patches: int
    patch_dim: int
    eps: float
    sizes: tuple | None
    rho: float
    delta: float
    max_steps: int
    data_seed: int
    seed: int


def _key(patches: int, patch_dim: int, eps: float, sizes, rho: float) -> str:
    shape = f"K{patches}-p{patch_dim}" if sizes is None else "sizes" + "-".join(map(str, sizes))
    return f"{shape}-eps{eps:g}-rho{rho:g}"


def cells(config: Config, seed: int) -> list[Cell]:
    """One cell per distinct (K, p, eps, sizes, rho); all on the chain of seed `seed`."""
    unique = dict.fromkeys(point for sweep in config.points().values() for point in sweep)
    shared = (config.delta, config.max_steps, seed)
    return [
        Cell(NAME, _key(*point), Params(*point, *shared, seed * 1000 + i)) for i, point in enumerate(unique)
    ]


def run_cell(params: Params, device: str) -> dict:
    """Exact searches for DDPM and the three AR-DM allocations; float64 on CPU (device unused)."""
    problem = Problem.chain(
        params.patches, params.patch_dim, params.rho, params.delta, params.data_seed, params.sizes
    )
    eps = params.eps
    ddpm = problem.ddpm_search(eps, params.max_steps)
    table = complexity(eps, problem.sizes, params.delta)
    ar = {how: problem.allocate(eps, how, params.max_steps) for how in ALLOCATIONS}
    best = ar["best"]
    return {
        "seed": params.seed,
        "key": _key(params.patches, params.patch_dim, eps, params.sizes, params.rho),
        "sizes": list(problem.sizes),
        "K": len(problem.sizes),
        "d": problem.dim,
        "eps": eps,
        "ddpm": {"T": problem.ddpm_t(eps), **ddpm._asdict()},
        "ar_T": problem.ar_t(eps),
        "ar": {
            how: {"steps": a.steps, "kl": a.kl, "nfe": a.nfe, "kl_total": a.kl_total} for how, a in ar.items()
        },
        "best_certificate": {"removal": best.removal, "transfer": best.transfer},
        "uniform_kl_below": [
            problem.stage_kl(k, T, n - 1) if n > 1 else None
            for k, (T, n) in enumerate(zip(problem.ar_t(eps), ar["uniform"].steps, strict=True))
        ],
        "predicted": {
            "ddpm": table.nfe("Benton", "DDPM"),
            "ar": table.nfe("Benton", "AR-DM"),
            "ratio": cost_ratio(problem.sizes, eps, params.delta),
        },
    }


# ----- aggregate ---------------------------------------------------------------------------------


def _cell_checks(r: dict) -> list[dict]:
    """Guaranteed facts of the searches: each found N reaches its budget and N - 1 does not; every
    allocation meets eps^2 in total (chain rule); the best allocation's certificate (no single
    removal keeps the budget, no one-step transfer lowers the KL) and best <= uniform, Lagrange NFE."""
    tag, eps2, K = r["key"], r["eps"] ** 2, r["K"]
    out = [check(f"{tag} DDPM: KL(N) <= eps^2", r["ddpm"]["kl"], eps2, "<=")]
    if r["ddpm"]["kl_below"] is not None:
        out.append(check(f"{tag} DDPM: KL(N - 1) > eps^2", r["ddpm"]["kl_below"], eps2, ">="))
    uniform = r["ar"]["uniform"]
    for k, (kl, below) in enumerate(zip(uniform["kl"], r["uniform_kl_below"], strict=True)):
        out.append(check(f"{tag} AR uniform stage {k}: KL(N_k) <= eps^2/K", kl, eps2 / K, "<="))
        if below is not None:
            out.append(check(f"{tag} AR uniform stage {k}: KL(N_k - 1) > eps^2/K", below, eps2 / K, ">="))
    for how in ALLOCATIONS:
        out.append(check(f"{tag} AR {how}: sum_k stage KL <= eps^2", r["ar"][how]["kl_total"], eps2, "<="))
    certificate, best = r["best_certificate"], r["ar"]["best"]
    if certificate["removal"] is not None:
        slack = eps2 - best["kl_total"]
        out.append(
            check(f"{tag} AR best: removing any one step breaks eps^2", certificate["removal"], slack, ">=")
        )
    if certificate["transfer"] is not None:
        out.append(
            check(f"{tag} AR best: no one-step transfer lowers the KL", certificate["transfer"], 0.0, "<=")
        )
    for how in ("uniform", "lagrange"):
        out.append(check(f"{tag} AR best NFE <= {how} NFE", best["nfe"], r["ar"][how]["nfe"], "<="))
    if K == 1:  # one stage: the AR-DM sampler, target and T rule are DDPM's
        for how in ALLOCATIONS:
            out.append(
                check(f"{tag} K = 1: AR {how} NFE == DDPM NFE", r["ar"][how]["nfe"], r["ddpm"]["steps"], "==")
            )
    return out


def _ratio(r: dict, how: str) -> float:
    return r["ar"][how]["nfe"] / r["ddpm"]["steps"]


def _sweep_series(config: Config, rows: list[dict], sweep: str) -> dict:
    x = [1 / r["eps"] if sweep == "eps" else r["d"] if sweep == "d" else r["K"] for r in rows]
    entry = {
        "x": x,
        "ddpm": [r["ddpm"]["steps"] for r in rows],
        "predicted_ddpm": [r["predicted"]["ddpm"] for r in rows],
        "predicted_ar": [r["predicted"]["ar"] for r in rows],
        "predicted_ratio": [r["predicted"]["ratio"] for r in rows],
    }
    for how in ALLOCATIONS:
        entry[f"ar_{how}"] = [r["ar"][how]["nfe"] for r in rows]
        entry[f"ratio_{how}"] = [_ratio(r, how) for r in rows]
        entry[f"steps_{how}"] = [r["ar"][how]["steps"] for r in rows]
    return entry


def aggregate(config: Config, results: list[dict]) -> Outcome:
    by_key = {r["key"]: r for r in results}
    points = config.points()
    checks = [c for r in results for c in _cell_checks(r)]
    base = [by_key[_key(*p)] for p in points["eps"] + points["d"]]
    fits = {
        "ddpm": fit_constant([r["ddpm"]["steps"] for r in base], [r["predicted"]["ddpm"] for r in base]),
        "ar": fit_constant([r["ar"]["uniform"]["nfe"] for r in base], [r["predicted"]["ar"] for r in base]),
    }
    series, metrics = {"fitted_C": {m: f.constant for m, f in fits.items()}}, {}
    for sweep in ("eps", "d", "unequal"):
        entry = _sweep_series(config, [by_key[_key(*p)] for p in points[sweep]], sweep)
        series[sweep] = entry
        if sweep == "unequal":
            entry["sizes"] = [list(p[3]) for p in points[sweep]]
            continue
        axis = "log(1/eps)" if sweep == "eps" else "log d"
        for model in ("ddpm", "ar_uniform", "ar_best", "predicted_ddpm", "predicted_ar"):
            slope, se = loglog_slope(entry["x"], entry[model])
            estimator = f"OLS slope of log NFE on {axis} (exact NFE; stderr = misfit of a power law)"
            if model.startswith("predicted"):
                estimator = f"OLS slope of log predicted NFE on {axis} (bounds.complexity, Benton)"
            metrics[f"slope_{sweep}_{model}"] = metric(slope, "1", estimator, stderr=se)
    for model, fit in fits.items():
        half = 1.96 * fit.log_stderr if math.isfinite(fit.log_stderr) else math.inf
        metrics[f"fitted_C_{model}"] = metric(
            fit.constant,
            "1",
            "bounds.fit.fit_constant over the eps and d sweeps (AR-DM: uniform allocation, as predicted)",
            ci=(math.exp(fit.log_constant - half), math.exp(fit.log_constant + half)),
        )
    Ks = list(config.patch_counts)
    repeats = [[by_key[_key(K, config.dim // K, config.eps, None, rho)] for K in Ks] for rho in config.rhos]
    n = len(config.rhos)
    k_entry = _sweep_series(config, repeats[0], "K")
    slopes = {}
    for how in ALLOCATIONS:
        ratios = np.array([[_ratio(r, how) for r in rows] for rows in repeats])
        slopes[how] = [loglog_slope(Ks, row)[0] for row in ratios]
        k_entry[f"ratio_{how}"] = ratios.mean(axis=0).tolist()
        k_entry[f"ratio_{how}_ci"] = [mean_interval(column)[2] for column in ratios.T]
        for K, column in zip(Ks, ratios.T, strict=True):
            mean, _, ci = mean_interval(column)
            metrics[f"ratio_{how}_K{K}"] = metric(
                mean,
                "1",
                f"AR-DM NFE ({how} allocation) / DDPM NFE, mean over {n} chains (rhos)",
                ci=ci,
            )
        mean, _, ci = mean_interval(slopes[how])
        metrics[f"ratio_slope_K_{how}"] = metric(
            mean,
            "1",
            f"log-log OLS slope of the {how} NFE ratio on K, mean over {n} chains (rhos)",
            ci=ci,
        )
    k_entry["slopes"] = slopes
    series["K"] = k_entry
    for K, predicted in zip(Ks, k_entry["predicted_ratio"], strict=True):
        metrics[f"predicted_ratio_K{K}"] = metric(predicted, "1", "bounds.ardm.cost_ratio (Benton, C = 1)")
    verdicts = [
        moderate_growth_exact(
            f"NFE, {how} allocation", slopes[how], config.moderate_slope, config.margin, how == "best"
        )
        for how in ALLOCATIONS
    ]
    return Outcome(metrics, checks, series, _summary(config, metrics, verdicts), verdicts)


def _summary(config: Config, metrics: dict, verdicts: list[dict]) -> dict:
    def value(name):
        m = metrics[name]
        low, high = m.get("ci", (m["value"], m["value"]))
        return f"{m['value']:.2f} [{low:.2f}, {high:.2f}]" if low != high else f"{m['value']:.2f}"

    K = config.patch_counts[-1]
    ratios = ", ".join(f"{how} {value(f'ratio_{how}_K{K}')}" for how in ALLOCATIONS)
    slopes = ", ".join(f"{how} {value(f'ratio_slope_K_{how}')}" for how in ALLOCATIONS)
    best = next(v for v in verdicts if v["primary"])
    grows = {
        "supported": "grows slower than K on every target",
        "contradicted": f"grows at least like K^{config.moderate_slope - config.margin:g} on every target",
        "unresolved": "grows slower than K on some targets only",
    }[best["verdict"]]
    return {
        "measured": (
            f"AR/DDPM NFE at K = {K} (d = {config.dim}, eps = {config.eps:g}): {ratios}; slope of the "
            f"ratio in K: {slopes}; under the best allocation the ratio {grows} "
            f"({describe(best, unit='1')}; 'only moderately larger': {overall(verdicts)})"
        ),
        "bound": (
            f"Benton per stage with budget eps^2 / K: AR/DDPM = "
            f"{metrics[f'predicted_ratio_K{K}']['value']:.2f} "
            f"(~K = {K}); NFE ~ eps^-a with a = {metrics['slope_eps_predicted_ddpm']['value']:.2f} locally"
        ),
    }


PROFILES = {
    "quick": Config(
        eps_values=(0.3, 0.1),
        patch_dims=(1, 2),
        patch_counts=(1, 2, 4),
        patchings=((1, 7), (1, 1, 6)),
        rhos=(0.5, 0.95),
        eps=0.2,
    ),
    "default": Config(),
    "full": Config(
        patch_dim=4,
        eps_values=(0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01),
        patch_dims=(1, 2, 4, 8, 16),
        patch_counts=(1, 2, 4, 8, 16),
        patchings=((1, 15), (15, 1), (4, 12), (2, 2, 12), (12, 2, 2), (1, 1, 1, 13), (8, 4, 2, 1, 1)),
        rhos=(0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99),
    ),
}


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 5.0, "default": 12.0, "full": 400.0},
)
