"""Claim 6: AR-DM's sampling cost (NFE and wall time) relative to DDPM's, as K grows at fixed d,
with the step counts of the best allocation and AR-DM networks in the forms they are deployed.

Data: `synthetic.presets.gaussian_chain(K, d / K, rho)`. Step counts (`verify.cost.Problem`,
exact): DDPM's smallest N with KL(q_delta || p^_N) <= eps^2 and AR-DM's best allocation N_k with
sum_k f_k(N_k) <= eps^2, on the horizons T and T_k of `bounds.ardm`.

Networks (untrained: a forward pass costs the same whatever the weights, and only cost is measured
here). DDPM: `ScoreMLP` on R^d (P parameters, M multiply-accumulates per sample and call). AR-DM:
- equal-mlp: one `ConditionalScoreMLP` for all stages, P parameters (so about M per call);
- patch-context: `PatchContextScore`, a context encoder run once per stage and one patch-sized
  denoiser per stage run at every step, P parameters in total;
- patch-context-flops: the same form with each denoiser's per-call cost matched to M instead;
- transformer-cached: `CausalTransformerScore` (backbone width `width` / 4, head width chosen for P
  parameters in total), the prefix's keys and values cached across stages (one new token per
  stage) and only the head run at every step.
Staged forms sample through `verify.models.staged.StagedScore`.

Wall time: `draws` per run on `device`; every round times DDPM and each form once in turn
(`verify.timing.interleaved_times`), `repeats` rounds; the ratio of round r is AR time / DDPM time.
Verdict ("only moderately larger"), declared in the config: per round and form, the log-log slope b
of the time ratio against K (`verify.cost.moderate_growth`; primary: the deployed forms
patch-context and transformer-cached, matched in total parameters). NFE identities (counted
calls = sum of grid steps; contexts = K) are checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from verify.cost import Problem, check_cost_config, loglog_slope, moderate_growth
from verify.experiments import Cell, Experiment, Outcome, check_positive_int, check_positive_ints
from verify.grids import exponential_linear
from verify.models import (
    CausalTransformerScore,
    ConditionalScoreMLP,
    ScoreMLP,
    as_conditional_score,
    as_score,
    count_parameters,
)
from verify.models.matching import match_width
from verify.models.patch_context import PatchContextScore
from verify.models.staged import StagedScore, linear_macs
from verify.pair import SIDES
from verify.records import check, metric
from verify.timing import interleaved_times, synchronised
from verify.verdicts import decide, describe, mean_interval, overall

NAME = "inference_cost"
CLAIM = (
    "AR-DM's inference time is only moderately larger than DDPM's: the AR/DDPM wall-time ratio grows "
    "slower than K, under the best step allocation and for AR-DM networks as deployed (patch-sized "
    "with a shared context, or a causal transformer with cached context)"
)
FORMS = ("equal-mlp", "patch-context", "patch-context-flops", "transformer-cached")
# the deployed forms, matched in total parameters; equal-mlp (a full-size network per patch) restates
# the set-up (issue 13) and is secondary
PRIMARY = ("patch-context", "transformer-cached")


@dataclass(frozen=True)
class Config:
    """d fixed, K in patch_counts (each dividing d), target KL eps^2; `draws` per timed
    run, `repeats` rounds; DDPM MLP of width `width` and `depth` hidden layers; the verdict's
    `moderate_slope` and `margin`."""

    dim: int = 8
    patch_counts: tuple = (1, 2, 4, 8)
    eps: float = 0.3
    draws: int = 2048
    repeats: int = 7
    width: int = 128
    depth: int = 3
    moderate_slope: float = 0.9
    margin: float = 0.1
    rho: float = 0.95
    delta: float = 1e-2
    max_steps: int = 2**16

    def __post_init__(self):
        for name in ("dim", "draws", "repeats", "width", "depth"):
            check_positive_int(name, getattr(self, name))
        counts = check_positive_ints("patch_counts", self.patch_counts)
        if any(self.dim % K for K in counts) or len(counts) < 2:
            raise ValueError(
                f"patch_counts: need >= 2 values, each dividing dim = {self.dim}, got {counts!r}"
            )
        if self.repeats < 2:
            raise ValueError(f"repeats: need at least 2 for an interval, got {self.repeats}")
        if not (math.isfinite(self.eps) and 0 < self.eps < 1):
            raise ValueError(f"eps: must lie in (0, 1), got {self.eps!r}")
        check_cost_config(self)


@dataclass(frozen=True)
class Params:
    patches: int
    config: Config
    data_seed: int
    seed: int


def cells(config: Config, seed: int) -> list[Cell]:
    """One cell per K, all on the chain of seed `seed`; network initialisations from the cell seed."""
    return [
        Cell(NAME, f"K{K}", Params(K, config, seed, seed * 1000 + i))
        for i, K in enumerate(config.patch_counts)
    ]


# ----- networks ------------------------------------------------------------------------------------


def _seeded(build, seed: int):
    def make(width: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return build(width)

    return make


def _forms(sizes, c: Config, ddpm: torch.nn.Module, seed: int) -> dict:
    """Each AR-DM form: (network, score callable, per-step MACs per stage, per-stage MACs)."""
    target, step_macs = count_parameters(ddpm), linear_macs(ddpm)
    backbone = max(
        8, 4 * round(c.width / 16)
    )  # transformer width (4 heads): width / 4; its head takes the rest
    builders = {
        "equal-mlp": (lambda w: ConditionalScoreMLP(sizes, hidden=w, depth=c.depth), count_parameters, 1),
        "patch-context": (lambda w: PatchContextScore(sizes, hidden=w, depth=c.depth), count_parameters, 1),
        "patch-context-flops": (
            lambda w: PatchContextScore(sizes, hidden=w, depth=c.depth),
            lambda m: max(linear_macs(d) for d in m.denoisers),
            1,
        ),
        "transformer-cached": (
            lambda w: CausalTransformerScore(sizes, width=backbone, head_hidden=w, head_depth=c.depth),
            count_parameters,
            1,
        ),
    }
    out = {}
    for i, (form, (build, size, step)) in enumerate(builders.items()):
        make = _seeded(build, seed + i)
        goal = step_macs if form == "patch-context-flops" else target
        model = make(match_width(make, size, goal, step))
        if form == "equal-mlp":
            out[form] = (model, as_conditional_score(model), [linear_macs(model)] * len(sizes), 0)
        elif form == "transformer-cached":
            backbone = linear_macs(model.tokens) + sum(linear_macs(b) for b in model.blocks)
            out[form] = (model, StagedScore(model), [linear_macs(model.head)] * len(sizes), backbone)
        else:
            per_step = [linear_macs(d) for d in model.denoisers]
            out[form] = (model, StagedScore(model), per_step, linear_macs(model.encoder))
    return out


class _Counted:
    """A score callable that counts its calls."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def run_cell(params: Params, device: str) -> dict:
    """Step counts of the best allocation, counted calls, and `repeats` interleaved wall times of
    DDPM and every AR-DM form for one K; networks on `device`, samples drawn there."""
    c, K = params.config, params.patches
    problem = Problem.chain(K, c.dim // K, c.rho, c.delta, params.data_seed)
    ddpm_steps = problem.ddpm_search(c.eps, c.max_steps).steps
    ar_steps = problem.allocate(c.eps, "best", c.max_steps).steps
    ddpm_grid = exponential_linear(problem.ddpm_t(c.eps), ddpm_steps, c.delta)
    ar_grids = [exponential_linear(T, n, c.delta) for T, n in zip(problem.ar_t(c.eps), ar_steps, strict=True)]
    ddpm_model = _seeded(lambda w: ScoreMLP(c.dim, hidden=w, depth=c.depth), params.seed)(c.width).to(device)
    forms = _forms(problem.sizes, c, ddpm_model, params.seed + 1)
    generator = torch.Generator(device=device)

    grids = {"ddpm": ddpm_grid, "ar": ar_grids}

    def runner(score, model: str, n: int = c.draws):
        def run():
            generator.manual_seed(params.seed)
            return SIDES[model].sample(
                score, problem.sizes, grids[model], n, generator=generator, device=device
            )

        return synchronised(run, device)

    ddpm_score = as_score(ddpm_model)
    counted = {"ddpm": _Counted(ddpm_score)}
    runner(counted["ddpm"], "ddpm", 2)()
    result = {
        "seed": params.seed,
        "K": K,
        "steps": {"ddpm": ddpm_steps, "ar": ar_steps},
        "ddpm": {
            "parameters": count_parameters(ddpm_model),
            "macs_step": linear_macs(ddpm_model),
            "calls": counted["ddpm"].calls,
        },
    }
    fns = {"ddpm": runner(ddpm_score, "ddpm")}
    for form, (model, score, per_step, per_stage) in forms.items():
        model.to(device)
        calls = _Counted(score)
        runner(calls, "ar", 2)()
        result[form] = {
            "parameters": count_parameters(model),
            "macs_step": float(np.dot(per_step, ar_steps) / sum(ar_steps)),
            "macs_stage": per_stage,
            "calls": calls.calls,
            "contexts": getattr(score, "contexts", None),
        }
        fns[form] = runner(score, "ar")
    for name, seconds in interleaved_times(fns, c.repeats).items():
        result[name]["seconds"] = seconds
    return result


# ----- aggregate ---------------------------------------------------------------------------------


def _checks(r: dict) -> list[dict]:
    """NFE identities: counted calls = N (DDPM) and sum_k N_k (every form); a staged form computes
    its context once per stage (K contexts per run; the count covers the counted run only)."""
    tag, total = f"K{r['K']}", sum(r["steps"]["ar"])
    out = [check(f"{tag} DDPM: score calls == N", r["ddpm"]["calls"], r["steps"]["ddpm"], "==")]
    for form in FORMS:
        out.append(check(f"{tag} {form}: score calls == sum_k N_k", r[form]["calls"], total, "=="))
        if r[form]["contexts"] is not None:
            out.append(check(f"{tag} {form}: contexts computed == K", r[form]["contexts"], r["K"], "=="))
    return out


def aggregate(config: Config, results: list[dict]) -> Outcome:
    by_K = {r["K"]: r for r in results}
    Ks = list(config.patch_counts)
    rows = [by_K[K] for K in Ks]
    nfe_ratio = [sum(r["steps"]["ar"]) / r["steps"]["ddpm"] for r in rows]
    series: dict = {
        "K": Ks,
        "nfe_ratio": nfe_ratio,
        "steps": [r["steps"] for r in rows],
        "seconds_ddpm": [mean_interval(r["ddpm"]["seconds"])[0] for r in rows],
        "seconds_ddpm_ci": [mean_interval(r["ddpm"]["seconds"])[2] for r in rows],
        "size": {
            form: {k: [r[form][k] for r in rows] for k in ("parameters", "macs_step", "macs_stage")}
            for form in FORMS
        },
        "ddpm_size": {k: rows[0]["ddpm"][k] for k in ("parameters", "macs_step")},
    }
    metrics: dict = {}
    slopes = {}
    for K, ratio in zip(Ks, nfe_ratio, strict=True):
        metrics[f"nfe_ratio_K{K}"] = metric(
            ratio, "1", "sum_k N_k (best allocation) / N, exact step searches"
        )
    for form in FORMS:
        ratios = np.array(
            [[a / b for a, b in zip(r[form]["seconds"], r["ddpm"]["seconds"], strict=True)] for r in rows]
        )
        slopes[form] = [loglog_slope(Ks, ratios[:, i])[0] for i in range(config.repeats)]
        series[f"time_ratio_{form}"] = [mean_interval(row)[0] for row in ratios]
        series[f"time_ratio_{form}_ci"] = [mean_interval(row)[2] for row in ratios]
        series[f"seconds_{form}"] = [mean_interval(r[form]["seconds"])[0] for r in rows]
        series[f"seconds_{form}_ci"] = [mean_interval(r[form]["seconds"])[2] for r in rows]
        for K, row in zip(Ks, ratios, strict=True):
            mean, _, ci = mean_interval(row)
            metrics[f"time_ratio_{form}_K{K}"] = metric(
                mean,
                "1",
                f"wall time AR-DM ({form}) / DDPM per round, mean over {config.repeats} interleaved rounds "
                f"({config.draws} draws; 95% t-interval)",
                ci=ci,
            )
        mean, _, ci = mean_interval(slopes[form])
        metrics[f"time_ratio_slope_K_{form}"] = metric(
            mean, "1", f"log-log OLS slope of the {form} time ratio on K, mean over rounds", ci=ci
        )
    nfe_slope = loglog_slope(Ks, nfe_ratio)[0]
    metrics["nfe_ratio_slope_K"] = metric(nfe_slope, "1", "log-log OLS slope of the exact NFE ratio on K")
    series["slopes"] = slopes
    comparisons = [
        moderate_growth(
            f"wall time, {form}", slopes[form], config.moderate_slope, config.margin, form in PRIMARY
        )
        for form in FORMS
    ]
    verdicts = decide(comparisons)
    checks = [c for r in results for c in _checks(r)]
    return Outcome(metrics, checks, series, _summary(config, metrics, series, verdicts), verdicts)


def _summary(config: Config, metrics: dict, series: dict, verdicts: list[dict]) -> dict:
    K = config.patch_counts[-1]

    def value(name):
        m = metrics[name]
        return f"{m['value']:.2f} [{m['ci'][0]:.2f}, {m['ci'][1]:.2f}]"

    def form_text(form, verdict):
        size = series["size"][form]
        return (
            f"{form} ({size['parameters'][-1]} params, {size['macs_step'][-1]:.0f} MAC/call) "
            f"{value(f'time_ratio_{form}_K{K}')}, slope {value(f'time_ratio_slope_K_{form}')} -> "
            f"{verdict['verdict']}"
        )

    forms = "; ".join(form_text(form, v) for form, v in zip(FORMS, verdicts, strict=True))
    ddpm = series["ddpm_size"]
    return {
        "measured": (
            f"K = {K}, d = {config.dim}, eps = {config.eps:g}, best allocation: AR/DDPM NFE "
            f"{metrics[f'nfe_ratio_K{K}']['value']:.2f} (slope {metrics['nfe_ratio_slope_K']['value']:.2f}); "
            f"wall time AR/DDPM (DDPM MLP {ddpm['parameters']} params, {ddpm['macs_step']} MAC/call): "
            f"{forms}; "
            f"'only moderately larger' (slope < {config.moderate_slope:g}): {overall(verdicts)}"
        ),
        "bound": f"predicted cost factor ~K = {K} (Benton per stage with budget eps^2 / K); "
        + "; ".join(describe(v, unit="1") for v in verdicts if v["primary"]),
    }


PROFILES = {
    "quick": Config(patch_counts=(1, 2, 4), eps=0.3, draws=256, repeats=3, width=32),
    "default": Config(),
    "full": Config(dim=16, patch_counts=(1, 2, 4, 8, 16), eps=0.1, draws=16384, repeats=10, width=512),
}


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 3.0, "default": 25.0, "full": 400.0},
)
