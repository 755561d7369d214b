"""Claim 6: NFE and wall time of AR-DM versus DDPM as the number of patches K grows.

Data: `synthetic.presets.gaussian_chain(K, p, rho)` at fixed d = K p, p = d / K. Two budgets:
- equal steps per stage: DDPM runs N steps on R^d, AR-DM N steps per stage, NFE = K N;
- equal total KL target eps^2: the step counts that `verify.experiments.complexity` finds with
  exact scores (DDPM: KL(q_delta || p^) <= eps^2; AR-DM: each stage's expected KL <= eps^2 / K,
  so KL(p_AR,delta || p^_AR) <= eps^2), NFE = sum_k N_k.
Two scores, both timed with the same step counts: the exact (closed-form) score, and a network
score (DDPM: ScoreMLP on R^d; AR-DM: ConditionalScoreMLP with a matched parameter count). The
networks are untrained: a forward pass costs the same whatever the weights, and only cost is
measured here. Wall times (n samples, `verify.bench.timing.wall_times`: best of `inner` calls,
`repeats` times for a spread) are research measurements; the NFE identities (score calls counted
by a wrapper = sum of per-stage grid steps = the sampler's reported NFE) are checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from bounds.ardm import stage_t
from verify.bench.timing import wall_times
from verify.experiments import Cell, Experiment, Outcome, check_positive_int
from verify.experiments.complexity import Problem
from verify.grids import exponential_linear
from verify.models import as_conditional_score, as_score, build_model, count_parameters, width_for_parameters
from verify.records import check, metric
from verify.samplers import sample, sample_ar

NAME = "inference_cost"
CLAIM = "AR-DM's sampling cost (NFE and wall time) grows proportionally to K relative to DDPM's"
BUDGETS = ("equal_steps", "equal_kl")
SCORES = ("exact", "network")
MODELS = ("ddpm", "ar")


@dataclass(frozen=True)
class Config:
    """d fixed, K in patch_counts (each dividing d); `steps` per stage for the equal-steps budget,
    `eps` for the equal-KL budget; `samples` drawn per timed run; wall time = best of `inner`
    runs, repeated `repeats` times."""

    dim: int = 8
    patch_counts: tuple = (1, 2, 4, 8)
    steps: int = 50
    eps: float = 0.1
    samples: int = 500
    repeats: int = 5
    inner: int = 1
    hidden: int = 128
    depth: int = 3
    rho: float = 0.95
    delta: float = 1e-2
    max_steps: int = 2**16

    def __post_init__(self):
        for name in ("dim", "steps", "samples", "repeats", "inner", "hidden", "depth", "max_steps"):
            check_positive_int(name, getattr(self, name))
        counts = tuple(self.patch_counts)
        if not counts or any(isinstance(K, bool) or not isinstance(K, int) or K < 1 for K in counts):
            raise ValueError(f"patch_counts: must be positive integers, got {counts!r}")
        if any(self.dim % K for K in counts):
            raise ValueError(f"patch_counts: every K must divide dim = {self.dim}, got {counts!r}")
        if self.repeats < 2:
            raise ValueError(f"repeats: need at least 2 for a spread, got {self.repeats}")
        if not (math.isfinite(self.eps) and 0 < self.eps < 1):
            raise ValueError(f"eps: must lie in (0, 1), got {self.eps!r}")
        if not 0 <= self.rho < 1:
            raise ValueError(f"rho: must lie in [0, 1), got {self.rho!r}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta: must lie in (0, 1), got {self.delta!r}")


PROFILES = {
    "quick": Config(patch_counts=(1, 2, 4), steps=10, eps=0.2, samples=256, repeats=3, inner=1, hidden=64),
    "default": Config(),
    "full": Config(dim=16, patch_counts=(1, 2, 4, 8, 16), samples=4000, repeats=5, inner=1, eps=0.05),
}


@dataclass(frozen=True)
class Params:
    patches: int
    score: str
    config: Config
    data_seed: int
    seed: int


def cells(config: Config, seed: int) -> list[Cell]:
    """One cell per (K, score kind), all on the chain of seed `seed`; a network's initialisation
    comes from the cell seed."""
    pairs = [(K, score) for K in config.patch_counts for score in SCORES]
    return [
        Cell(NAME, f"K{K}-{score}", Params(K, score, config, seed, seed * 1000 + i))
        for i, (K, score) in enumerate(pairs)
    ]


def _scores(params: Params, chain, device: str):
    """(joint score, conditional score, parameter counts) of the requested kind."""
    if params.score == "exact":
        return chain.score, chain.conditional_score, {}
    c = params.config
    joint = build_model("mlp", chain.dim, seed=params.seed, hidden=c.hidden, depth=c.depth).to(device)
    target = count_parameters(joint)
    width = width_for_parameters("conditional-mlp", target, chain.dim, chain.patch_sizes, depth=c.depth)
    conditional = build_model(
        "conditional-mlp", chain.dim, chain.patch_sizes, seed=params.seed + 1, hidden=width, depth=c.depth
    ).to(device)
    counts = {"ddpm": target, "ar": count_parameters(conditional)}
    return as_score(joint), as_conditional_score(conditional), counts


def _counted(fn):
    """fn wrapped to count its calls in `wrapper.calls`."""

    def wrapper(*args):
        wrapper.calls += 1
        return fn(*args)

    wrapper.calls = 0
    return wrapper


def _synchronised(fn, device: str):
    if torch.device(device).type != "cuda":
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return run


def _step_counts(params: Params, problem: Problem) -> dict[str, tuple[int, list[int]]]:
    """Per budget: (DDPM steps N, AR-DM steps [N_k])."""
    c = params.config
    ddpm = problem.ddpm_search(c.eps, c.max_steps)[1]
    ar = problem.ar_search(c.eps, c.max_steps)[1]
    return {
        "equal_steps": (c.steps, [c.steps] * params.patches),
        "equal_kl": (ddpm.steps, [s.steps for s in ar]),
    }


def _measure(joint, conditional, sizes, ddpm_grid, ar_grids, config: Config, seed: int, device: str) -> dict:
    """Counted score calls (one untimed run each) and `repeats` best-of-`inner` wall times."""
    n, dim = config.samples, sum(sizes)
    generator = torch.Generator(device=device)
    counted_joint, counted_conditional = _counted(joint), _counted(conditional)
    sample(counted_joint, ddpm_grid, n, dim, generator=generator, device=device)
    _, info = sample_ar(
        counted_conditional, sizes, ar_grids, n, generator=generator, device=device, return_info=True
    )

    def run_ddpm():
        generator.manual_seed(seed)
        return sample(joint, ddpm_grid, n, dim, generator=generator, device=device)

    def run_ar():
        generator.manual_seed(seed)
        return sample_ar(conditional, sizes, ar_grids, n, generator=generator, device=device)

    def seconds(fn):
        times = wall_times(_synchronised(fn, device), config.repeats * config.inner)
        return [min(times[i : i + config.inner]) for i in range(0, len(times), config.inner)]

    return {
        "ddpm": {
            "grid_steps": len(ddpm_grid) - 1,
            "calls": counted_joint.calls,
            "seconds": seconds(run_ddpm),
        },
        "ar": {
            "grid_steps": [len(g) - 1 for g in ar_grids],
            "calls": counted_conditional.calls,
            "reported_nfe": info["nfe_total"],
            "seconds": seconds(run_ar),
        },
    }


def run_cell(params: Params, device: str) -> dict:
    """Count score calls and time both samplers under both budgets for one (K, score kind); the
    exact score runs in float64 on the CPU, the networks on `device`."""
    c = params.config
    problem = Problem(params.patches, c.dim // params.patches, c.rho, c.delta, params.data_seed)
    device = device if params.score == "network" else "cpu"
    joint, conditional, parameters = _scores(params, problem.chain, device)
    ddpm_T = float(stage_t(1, c.dim, c.eps))
    ar_T = [float(stage_t(params.patches, size, c.eps)) for size in problem.sizes]
    result = {"seed": params.seed, "K": params.patches, "score": params.score, "parameters": parameters}
    for budget, (ddpm_steps, ar_steps) in _step_counts(params, problem).items():
        ddpm_grid = exponential_linear(ddpm_T, ddpm_steps, c.delta)
        ar_grids = [exponential_linear(T, n, c.delta) for T, n in zip(ar_T, ar_steps, strict=True)]
        result[budget] = _measure(
            joint, conditional, problem.sizes, ddpm_grid, ar_grids, c, params.seed, device
        )
    return result


# ----- aggregate ---------------------------------------------------------------------------------


def _mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, float)
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def _ratio_se(num: tuple[float, float], den: tuple[float, float]) -> tuple[float, float]:
    """r = a / b with the first-order (delta-method) standard error, a and b independent."""
    ratio = num[0] / den[0]
    return ratio, abs(ratio) * math.hypot(num[1] / num[0], den[1] / den[0])


def _checks(r: dict) -> list[dict]:
    """NFE identities: counted calls = grid steps (DDPM); counted calls = sampler-reported NFE =
    sum_k N_k (AR-DM), and K N under equal steps."""
    tag = f"K{r['K']}-{r['score']}"
    out = []
    for budget in BUDGETS:
        ddpm, ar = r[budget]["ddpm"], r[budget]["ar"]
        total = sum(ar["grid_steps"])
        out += [
            check(f"{tag} {budget} DDPM: score calls == N", ddpm["calls"], ddpm["grid_steps"], "=="),
            check(f"{tag} {budget} AR: score calls == sum_k N_k", ar["calls"], total, "=="),
            check(f"{tag} {budget} AR: reported NFE == sum_k N_k", ar["reported_nfe"], total, "=="),
        ]
    steps = r["equal_steps"]
    equal = r["K"] * steps["ddpm"]["grid_steps"]
    out.append(check(f"{tag} equal_steps: AR NFE == K N", steps["ar"]["calls"], equal, "=="))
    return out


def aggregate(config: Config, results: list[dict]) -> Outcome:
    by_key = {(r["K"], r["score"]): r for r in results}
    Ks = list(config.patch_counts)
    series: dict = {"K": Ks}
    metrics: dict = {}
    for budget in BUDGETS:
        entry = {
            "nfe_ddpm": [by_key[(K, "exact")][budget]["ddpm"]["calls"] for K in Ks],
            "nfe_ar": [by_key[(K, "exact")][budget]["ar"]["calls"] for K in Ks],
        }
        entry["nfe_ratio"] = [a / b for a, b in zip(entry["nfe_ar"], entry["nfe_ddpm"], strict=True)]
        for score in SCORES:
            for model in MODELS:
                stats = [_mean_se(by_key[(K, score)][budget][model]["seconds"]) for K in Ks]
                entry[f"seconds_{score}_{model}"] = [s[0] for s in stats]
                entry[f"seconds_se_{score}_{model}"] = [s[1] for s in stats]
            ratios = [
                _ratio_se(
                    _mean_se(by_key[(K, score)][budget]["ar"]["seconds"]),
                    _mean_se(by_key[(K, score)][budget]["ddpm"]["seconds"]),
                )
                for K in Ks
            ]
            entry[f"time_ratio_{score}"] = [r[0] for r in ratios]
            entry[f"time_ratio_se_{score}"] = [r[1] for r in ratios]
            for K, (value, se) in zip(Ks, ratios, strict=True):
                metrics[f"{budget}_time_ratio_{score}_K{K}"] = metric(
                    value,
                    "1",
                    f"mean over {config.repeats} repeats of best-of-{config.inner} wall time, AR / DDPM "
                    f"({config.samples} samples; delta-method stderr)",
                    stderr=se,
                )
        for K, ratio in zip(Ks, entry["nfe_ratio"], strict=True):
            metrics[f"{budget}_nfe_ratio_K{K}"] = metric(ratio, "1", "counted score calls, AR-DM / DDPM")
        series[budget] = entry
    parameters = by_key[(Ks[-1], "network")]["parameters"]
    series["parameters"] = {str(K): by_key[(K, "network")]["parameters"] for K in Ks}
    checks = [c for r in results for c in _checks(r)]
    return Outcome(metrics, checks, series, _summary(config, series, parameters))


def _summary(config: Config, series: dict, parameters: dict) -> dict:
    K = series["K"][-1]
    kl, steps = series["equal_kl"], series["equal_steps"]

    def time_ratio(score):
        return " / ".join(
            f"{e[f'time_ratio_{score}'][-1]:.2f}+-{e[f'time_ratio_se_{score}'][-1]:.2f}" for e in (steps, kl)
        )

    cheaper = kl["nfe_ratio"][-1] < 1 and steps["nfe_ratio"][-1] < 1
    return {
        "measured": (
            f"K = {K}, d = {config.dim}, AR/DDPM (equal steps / equal KL eps = {config.eps:g}): NFE "
            f"{steps['nfe_ratio'][-1]:.0f} / {kl['nfe_ratio'][-1]:.2f}; wall time, exact score "
            f"{time_ratio('exact')}; network ({parameters['ddpm']} vs {parameters['ar']} params) "
            f"{time_ratio('network')}; AR-DM is {'cheaper' if cheaper else 'costlier'} than DDPM"
        ),
        "bound": f"predicted cost factor ~K = {K} (Benton per stage with budget eps^2 / K)",
    }


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 2.0, "default": 24.0, "full": 240.0},
)
