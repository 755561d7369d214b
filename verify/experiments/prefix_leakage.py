"""Claim 11, the mechanism behind claim 3 made exact: a known score error placed in the prefix
direction leaks into DDPM's conditional law of x2, but never into AR-DM's.

Target `dependent_pair(strength)` (d = 2, 1-D patches), exact scores plus a constant bias b
(verify.samplers.perturb.Bias): DDPM's joint score s(x, t) + b; AR-DM's stage k score
s(k, x^k, x^{<k}, t) + b_k. Directions at size beta: "prefix" b = (beta, 0) (DDPM's x1 block,
AR-DM's stage 1), "conditional" b = (0, beta) (DDPM's x2 block, AR-DM's stage 2), "split"
b = (beta, beta) / sqrt 2. Every direction and both models have the same integrated score error
eps_score^2 = sum_j h_j ||b||^2 = beta^2 (T - delta), exactly. Each sampler's law is propagated
on a grid (the early-stopped output x_delta, against q_delta) at `nodes` and 3 `nodes` / 2 (the
refinement pair gives every endpoint, and every response, its grid-error estimate), and every
conditional endpoint of verify.exact.conditional_endpoints is reported with its response
Delta(beta) = E(beta) - E(0).

Why AR-DM cannot leak: its stage 2 never evaluates stage 1's score, so with b = (beta, 0) its
p^(x2 | x1 = a) is the exact-score stage law for every a, and the prefix-averaged conditional KL
under q(a) does not move (only the prefix law p^(x1) does). DDPM's x1 and x2 share one reverse
process, so its conditional moves. Pre-declared verdict (exact, interval = +- summed grid errors):
Delta_DDPM - Delta_AR > 0 for the prefix direction, per primary endpoint and size, with `margin`
the smallest response of interest. Deterministic: no seeds, no training; seconds on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from synthetic import presets
from synthetic.validation import DTYPE
from verify.experiments import Cell, Experiment, Outcome, check_instance, check_positive_int
from verify.pair import (
    MODELS,
    SIDES,
    check_model,
    evaluate,
    finer,
    grid_checks,
    grid_error,
    refined,
)
from verify.records import check, metric
from verify.samplers.perturb import Bias
from verify.spec import DiffusionSpec
from verify.verdicts import exact, overall

NAME = "prefix_leakage"
CLAIM = (
    "A score error in the prefix direction leaks into DDPM's conditional law of x2 but not into "
    "AR-DM's, at matched integrated score error (exact scores plus known bias, exact on a grid)"
)
DIRECTIONS = {"prefix": (1.0, 0.0), "conditional": (0.0, 1.0), "split": (1 / math.sqrt(2), 1 / math.sqrt(2))}
PRIMARY = ("average_kl", "model_prefix_reverse_kl", "worst_kl")
VERDICT_CLAIM = (
    "a score error in the prefix direction moves DDPM's conditional law of x2 more than AR-DM's (leakage)"
)


@dataclass(frozen=True)
class Config:
    """strength: dependence of the target; bias_norms: the norms beta of the bias; diffusion: the sampler (its
    T and delta fix eps_score^2 = beta^2 (T - delta)); nodes, box: the grid (refinement at
    3 nodes / 2); margin: the smallest response difference of interest, in nats."""

    strength: float = 0.95
    bias_norms: tuple = (0.1, 0.2, 0.4)
    diffusion: DiffusionSpec = field(default_factory=DiffusionSpec)
    nodes: int = 192
    box: float = 6.5
    margin: float = 1e-3

    def __post_init__(self):
        if not (math.isfinite(self.strength) and 0 < self.strength < 1):
            raise ValueError(f"strength: must be in (0, 1), got {self.strength}")
        if not self.bias_norms or any(not (math.isfinite(s) and s > 0) for s in self.bias_norms):
            raise ValueError(f"bias_norms: must be positive, got {self.bias_norms}")
        check_instance("diffusion", self.diffusion, DiffusionSpec)
        check_positive_int("nodes", self.nodes)
        if not self.box >= 6.5:
            raise ValueError(f"box: must be >= 6.5 to hold the start law N(0, I), got {self.box}")
        if not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin: must be a finite positive number of nats, got {self.margin}")


@dataclass(frozen=True)
class Params:
    model: str
    direction: str
    size: float
    strength: float
    diffusion: DiffusionSpec
    nodes: int
    box: float


def cells(config: Config, seed: int) -> list[Cell]:
    runs = [("exact", 0.0)] + [(d, s) for d in DIRECTIONS for s in config.bias_norms]
    return [
        Cell(
            NAME,
            f"{model}-{d}-{s:g}",
            Params(model, d, s, config.strength, config.diffusion, config.nodes, config.box),
        )
        for model in MODELS
        for d, s in runs
    ]


def _endpoints(params: Params, nodes: int) -> dict:
    distribution = presets.dependent_pair(params.strength)
    b = torch.tensor(DIRECTIONS.get(params.direction, (0.0, 0.0)), dtype=DTYPE) * params.size
    side = SIDES[check_model(params.model)]
    sizes = distribution.patch_sizes if side.conditional else None
    perturbed = Bias(side.truth(distribution), b, patch_sizes=sizes)
    return evaluate(params.model, perturbed, distribution, params.diffusion, nodes, params.box)[0]


def run_cell(params: Params, device: str) -> dict:
    return {
        "model": params.model,
        "direction": params.direction,
        "size": params.size,
        "seed": None,
        "values": _endpoints(params, params.nodes),
        "finer": _endpoints(params, finer(params.nodes)),
    }


def _response(results, model: str, direction: str, size: float, key: str) -> tuple[float, float]:
    """E(beta) - E(0) and its grid-error estimate: the refinement pair applied to the response
    itself, whose grid errors largely cancel."""
    (base,) = [r for r in results if (r["model"], r["direction"]) == (model, "exact")]
    (cell,) = [r for r in results if (r["model"], r["direction"], r["size"]) == (model, direction, size)]
    value, finer_value = (cell[g][key] - base[g][key] for g in ("values", "finer"))
    return value, grid_error(value, finer_value)


def aggregate(config: Config, results: list[dict]) -> Outcome:
    eps2 = [s**2 * (config.diffusion.T - config.diffusion.delta) for s in config.bias_norms]
    metrics, checks, verdicts = {}, [], []
    series = {"bias_norms": list(config.bias_norms), "eps_score_squared": eps2}
    (sample,) = [r for r in results if (r["model"], r["direction"]) == ("ddpm", "exact")]
    keys = [k for k in refined(sample["values"], sample["finer"]) if not k.startswith("binned")]
    for model in MODELS:
        checks += grid_checks(model, [r["values"] for r in results if r["model"] == model])
        (base,) = [r for r in results if (r["model"], r["direction"]) == (model, "exact")]
        for key, (value, error) in refined(base["values"], base["finer"]).items():
            metrics[f"{model}_exact_{key}"] = metric(
                value, "nats", f"exact grid law, exact score; grid error {error:.2g}"
            )
        for direction in DIRECTIONS:
            for key in keys:
                pairs = [_response(results, model, direction, s, key) for s in config.bias_norms]
                series[f"{model}_{direction}_{key}"] = [v for v, _ in pairs]
                series[f"{model}_{direction}_{key}_grid_error"] = [e for _, e in pairs]
                for s, (value, error) in zip(config.bias_norms, pairs, strict=True):
                    metrics[f"{model}_{direction}_{s:g}_{key}_response"] = metric(
                        value,
                        "nats",
                        f"exact grid law; E(beta) - E(0); grid error {error:.2g} (refinement pair)",
                    )
    for s in config.bias_norms:
        for key in PRIMARY:
            (d_value, d_err), (a_value, a_err) = (_response(results, m, "prefix", s, key) for m in MODELS)
            verdicts.append(
                exact(VERDICT_CLAIM, f"{key}, beta = {s:g}", d_value - a_value, d_err + a_err, config.margin)
            )
        value, error = _response(results, "ar", "prefix", s, "average_kl")
        checks.append(
            check(
                f"AR-DM, prefix bias {s:g}: average conditional KL unchanged (stage 2 never sees stage 1)",
                value,
                0.0,
                "==",
                error + 1e-12,
            )
        )
    at = len(config.bias_norms) // 2
    summary = ", ".join(
        f"{d}: DDPM {series[f'ddpm_{d}_average_kl'][at]:+.3g} / AR-DM {series[f'ar_{d}_average_kl'][at]:+.3g}"
        for d in DIRECTIONS
    )
    supported = sum(v["verdict"] == "supported" for v in verdicts)
    return Outcome(
        metrics,
        checks,
        series,
        {
            "measured": (
                f"leakage {overall(verdicts)} ({supported}/{len(verdicts)} endpoint-size pairs supported); "
                f"response of the average conditional KL to a bias of norm {config.bias_norms[at]:g} "
                f"(eps_score^2 = {eps2[at]:.3g}, matched): {summary} nats"
            ),
            "bound": "AR-DM: prefix-direction error leaves the average conditional KL unchanged (exact)",
        },
        verdicts,
    )


PROFILES = {
    "quick": Config(bias_norms=(0.2,), diffusion=DiffusionSpec(steps=30), nodes=64),
    "default": Config(),
    "full": Config(bias_norms=(0.05, 0.1, 0.2, 0.4, 0.8), diffusion=DiffusionSpec(steps=100), nodes=320),
}

EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 3.0, "default": 40.0, "full": 600.0},
)
