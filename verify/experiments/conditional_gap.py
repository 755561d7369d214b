"""Claim 3, the paper's central claim: AR-DM captures the conditional law of x2 given x1 better than
DDPM on dependent patches, and is no better on independent ones.

Targets (d = 2, 1-D patches): `dependent_pair(strength)`; its product-of-marginals control (same
marginals, dependence removed); and `rare_prefix(weight)` for each rare weight (a low-weight x1
component with its own conditional law). Each cell trains one model (verify.pair: matched
parameters, one diffusion horizon, same data order for the DDPM and AR-DM of one seed) and
measures on the grid every conditional endpoint (verify.exact.conditional_endpoints) of the
early-stopped output x_delta against q_delta. (The Tweedie-denoised output is not measured on the
grid: its final step is a deterministic map, whose bilinear deposit aliases without a diffusion
after it; markov_sequences and rule_learning measure that output by sampling.) The first seed of
each (target, model) is also measured on a grid of 3/2 the nodes: the refinement pair gives every
endpoint, and every paired log ratio, its grid-error estimate (verify.pair.grid_error). An
"exact" cell per (target, model) repeats the measurement with the exact score: the calibration
of the measurement itself (time discretisation and grid alone). On the dependent target the EMA
weights at training checkpoints are measured too (conditional endpoints versus joint KL).

Pre-declared (in Config, before any outcome was seen): the primary endpoints PRIMARY, compared
on a log scale (d_i = log E_DDPM,i - log E_AR,i, paired by seed), with Holm's correction within
each claim: (A) superiority on the dependent target, (B) the dependence-by-model interaction
d_dep - d_control (difference-in-differences), both against `margin`; (C) equivalence on the
control, TOST against `equivalence_margin`. A decision must hold for every shift of the
mean by the grid error of the paired log ratio (`Comparison.numerical_error`). Secondary: the
other endpoints, the comparison at matched joint KL across checkpoints, the rare component's
conditional KL per weight.

Guaranteed checks: the chain rule (average conditional KL <= joint KL, any model), q's mass on
the box, no mass created. Which model wins is measured, never asserted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synthetic import presets
from verify.experiments import Cell, Experiment, Outcome, check_positive_int
from verify.pair import (
    MODELS,
    SIDES,
    PairSpec,
    check_model,
    check_paired_design,
    comparisons,
    evaluate,
    finer,
    grid_checks,
    log_ratios,
    paired_rows,
    ratio_grid_error,
    refined,
    seed_metric,
    train_model,
)
from verify.records import metric
from verify.spec import DiffusionSpec, TrainSpec
from verify.verdicts import Comparison, by_claim, decide, describe

NAME = "conditional_gap"
CLAIM = (
    "AR-DM approximates the conditional law of x2 given x1 better than DDPM on dependent patches, "
    "and no better on independent ones (trained models, matched parameters, exact on a grid, paired seeds)"
)
PRIMARY = ("average_kl", "model_prefix_reverse_kl", "worst_kl")
PRIMARY_CLAIMS = ("dependent", "interaction", "control")
SECONDARY = ("joint_kl", "average_reverse_kl", "model_prefix_kl", "worst_reverse_kl")
CLAIMS = {
    "dependent": "on dependent patches AR-DM's conditional KL is smaller than DDPM's",
    "interaction": "AR-DM's advantage is larger on dependent patches than on their independent control",
    "control": "on independent patches AR-DM is no better than DDPM (equivalence)",
    "rare": "at a rare prefix component AR-DM's conditional KL is smaller than DDPM's",
    "matched": "at matched joint KL (training checkpoints) AR-DM's conditional KL is smaller than DDPM's",
}


@dataclass(frozen=True)
class Config:
    """strength: dependence of the dependent target; rare_weights: weights of the rare-prefix
    targets; seeds: paired training seeds per target (>= 8 so that a sign-flip test on 8 pairs
    can reach p = 1/256 and survive Holm over 3 endpoints); rare_seeds: seeds of the rare targets
    (>= 5: one unadjusted one-sided test reaches p = 1/32); nodes, box: the grid (the refinement
    uses 3 nodes / 2); margin: smallest log-ratio of interest (log 1.25: a 25% smaller KL);
    equivalence_margin: the TOST band (log 1.5)."""

    strength: float = 0.95
    rare_weights: tuple = (0.3, 0.03, 0.003)
    seeds: int = 8
    rare_seeds: int = 5
    spec: PairSpec = field(default_factory=lambda: PairSpec(checkpoints=(0.125, 0.25, 0.5)))
    nodes: int = 320
    box: float = 6.5
    margin: float = math.log(1.25)
    equivalence_margin: float = math.log(1.5)

    def __post_init__(self):
        if not (math.isfinite(self.strength) and 0 < self.strength < 1):
            raise ValueError(f"strength: must be in (0, 1), got {self.strength}")
        if any(not 0 < w < 1 for w in self.rare_weights):
            raise ValueError(f"rare_weights: must be weights in (0, 1), got {self.rare_weights}")
        for name in ("seeds", "rare_seeds", "nodes"):
            check_positive_int(name, getattr(self, name))
        check_paired_design(self)


@dataclass(frozen=True)
class Params:
    """kind "trained" (seed `index`) or "exact" (the exact score in the model's form: the
    calibration of the measurement itself, no training)."""

    target: str
    model: str
    kind: str
    index: int
    seed: int
    strength: float
    spec: PairSpec
    nodes: int
    box: float


def target(name: str, strength: float):
    """ "dependent", "control" (its product of marginals) or "rare<weight>"."""
    if name == "dependent":
        return presets.dependent_pair(strength)
    if name == "control":
        return presets.independent_control(presets.dependent_pair(strength))
    if name.startswith("rare"):
        return presets.rare_prefix(float(name[4:]))
    raise ValueError(f"target: must be dependent, control or rare<weight>, got {name!r}")


def targets(config: Config) -> list[tuple[str, int]]:
    """(target name, number of seeds)."""
    return [("dependent", config.seeds), ("control", config.seeds)] + [
        (f"rare{w:g}", config.rare_seeds) for w in config.rare_weights
    ]


def cells(config: Config, seed: int) -> list[Cell]:
    runs = [
        (name, model, kind, i)
        for name, count in targets(config)
        for model in MODELS
        for kind, i in [("exact", 0)] + [("trained", i) for i in range(count)]
    ]
    return [
        Cell(
            NAME,
            f"{name}-{model}-{'exact' if kind == 'exact' else f's{i}'}",
            Params(
                name, model, kind, i, seed * 1000 + i, config.strength, config.spec, config.nodes, config.box
            ),
        )
        for name, model, kind, i in runs
    ]


def _rare_weight(prefix) -> np.ndarray:
    """The rare component's prefix density on the grid, normalised: where its conditional is read."""
    mean, var = presets.RARE_COMPONENT
    weight = np.exp(-0.5 * (np.asarray(prefix) - mean) ** 2 / var)
    return weight / weight.sum()


def run_cell(params: Params, device: str) -> dict:
    distribution = target(params.target, params.strength)
    model, diffusion = check_model(params.model), params.spec.diffusion
    if params.kind == "exact":
        score, parameters, snapshots = SIDES[model].truth(distribution), 0, {}
    else:
        trained, parameters, snapshots = train_model(model, distribution, params.spec, params.seed, device)
        score = SIDES[model].score(trained.ema)
    values, curves = evaluate(model, score, distribution, diffusion, params.nodes, params.box)
    out = {
        "seed": params.seed,
        "index": params.index,
        "target": params.target,
        "model": model,
        "kind": params.kind,
        "parameters": parameters,
        **values,
        "curves": curves,
    }
    if params.target.startswith("rare"):
        out["rare_kl"] = float(_rare_weight(curves["prefix"]) @ np.asarray(curves["kl"]))
    if params.index == 0:
        out["finer"] = evaluate(model, score, distribution, diffusion, finer(params.nodes), params.box)[0]
    if params.target == "dependent":
        out["checkpoints"] = [
            {
                "step": step,
                **evaluate(model, SIDES[model].score(net), distribution, diffusion, params.nodes, params.box)[
                    0
                ],
            }
            for step, net in sorted(snapshots.items())
        ]
    return out


def aggregate(config: Config, results: list[dict]) -> Outcome:
    metrics, checks, series = {}, [], {}
    estimator = (
        f"exact grid law of the {config.spec.diffusion.output} vs its exact target; mean over paired seeds"
    )
    grid_estimator = f"1.8 |F({finer(config.nodes)} nodes) - F({config.nodes} nodes)| (O(dx^2)), first seed"
    for name, _ in targets(config):
        series[name] = {}
        trained, exact = (
            paired_rows(results, target=name, kind="trained"),
            paired_rows(results, target=name, kind="exact"),
        )
        for model, rows, (truth,) in zip(MODELS, trained, exact, strict=True):
            label = f"{name}_{model}"
            fine = refined(rows[0], rows[0]["finer"])
            for key in PRIMARY + SECONDARY:
                metrics[f"{label}_{key}"] = seed_metric([r[key] for r in rows], "nats", estimator)
                metrics[f"{label}_{key}_grid_error"] = metric(fine[key][1], "nats", grid_estimator)
                metrics[f"{label}_{key}_exact_score"] = metric(
                    truth[key], "nats", "the same measurement with the exact score (calibration, no training)"
                )
            metrics[f"{label}_parameters"] = metric(rows[0]["parameters"], "count", "count_parameters")
            if name.startswith("rare"):
                metrics[f"{label}_rare_kl"] = seed_metric([r["rare_kl"] for r in rows], "nats", estimator)
            checks += grid_checks(f"{name} {model}", rows + [truth])
            kl = np.array([r["curves"]["kl"] for r in rows])
            series[name][model] = {
                "kl": kl.mean(0).tolist(),
                "reverse_kl": np.array([r["curves"]["reverse_kl"] for r in rows]).mean(0).tolist(),
                "kl_per_seed": kl.tolist(),
                "exact_score_kl": truth["curves"]["kl"],
                "resolved": rows[0]["curves"]["resolved"],
                "checkpoints": [
                    r.get("checkpoints", [])
                    + [{"step": config.spec.train.steps, **{k: r[k] for k in PRIMARY + SECONDARY}}]
                    for r in rows
                ],
            }
        series[name]["prefix"] = rows[0]["curves"]["prefix"]
        series[name]["prefix_density"] = rows[0]["curves"]["prefix_density"]
        for key in PRIMARY:
            ddpm, ar = (r[0] for r in trained)
            metrics[f"{name}_log_ratio_{key}_grid_error"] = metric(
                ratio_grid_error(ddpm, ar, key), "log ratio", grid_estimator + ", of log(DDPM/AR)"
            )
            (d_exact,), (a_exact,) = exact
            share = abs(d_exact[key] - a_exact[key]) / min(
                metrics[f"{name}_{m}_{key}"]["value"] for m in MODELS
            )
            metrics[f"{name}_{key}_exact_score_share"] = metric(
                share, "1", "|E_DDPM - E_AR| with exact scores over the smaller trained mean (calibration)"
            )
    verdicts = _verdicts(config, results, metrics)
    series["rare"] = {
        "weights": list(config.rare_weights),
        **{
            f"{m}_{key}": [metrics[f"rare{w:g}_{m}_{key}"]["value"] for w in config.rare_weights]
            for m in MODELS
            for key in ("rare_kl", "joint_kl")
        },
    }
    claims = by_claim(verdicts)
    average = {v["claim"]: v for v in verdicts if v["endpoint"] == "average_kl" and v["primary"]}
    lines = [
        f"{claims[CLAIMS[c]]} ({c}; {describe(average[CLAIMS[c]], 'log ratio')})" for c in PRIMARY_CLAIMS
    ]
    ratio_errors = [
        metrics[f"{n}_log_ratio_{k}_grid_error"]["value"] for n in ("dependent", "control") for k in PRIMARY
    ]
    calibration = [
        metrics[f"{n}_{k}_exact_score_share"]["value"] for n in ("dependent", "control") for k in PRIMARY
    ]
    return Outcome(
        metrics,
        checks,
        series,
        {
            "measured": (
                f"log(KL_DDPM / KL_AR) over {config.seeds} paired seeds, {len(PRIMARY)} primary endpoints, "
                f"{config.spec.diffusion.output}: "
                + "; ".join(lines)
                + f"; grid error of a primary log ratio <= {max(ratio_errors):.2g} "
                f"(margin {config.margin:.3g}); "
                f"with exact scores the two models' primary endpoints differ by at most "
                f"{100 * max(calibration):.2g}% of the smaller trained value (calibration)"
            ),
            "bound": "avg conditional KL <= joint KL (chain rule), both models; the comparison is measured",
        },
        verdicts,
    )


def _matched_joint(pair, steps: int) -> list[float]:
    """Per seed, log average_kl of DDPM's final model minus AR-DM's at the same joint KL, AR-DM's
    value interpolated (log-log) between its checkpoints; seeds where DDPM's joint KL lies outside
    AR-DM's checkpoint range are skipped (no extrapolation; the record says how many remain)."""
    out = []
    for ddpm, ar in zip(*pair, strict=True):
        runs = ar.get("checkpoints", []) + [ar]
        joint = np.log([c["joint_kl"] for c in runs])
        conditional = np.log([c["average_kl"] for c in runs])
        goal = math.log(ddpm["joint_kl"])
        if joint.min() <= goal <= joint.max():
            order = np.argsort(joint)
            out.append(
                math.log(ddpm["average_kl"]) - float(np.interp(goal, joint[order], conditional[order]))
            )
    return out


def _verdicts(config: Config, results, metrics) -> list[dict]:
    pairs = {name: paired_rows(results, target=name, kind="trained") for name in ("dependent", "control")}

    def ratios(name):
        return lambda key: log_ratios(*pairs[name], lambda r: r[key])

    def grid(name, key):
        return metrics[f"{name}_log_ratio_{key}_grid_error"]["value"]

    dep, ctrl = ratios("dependent"), ratios("control")

    def interaction(key):
        return np.subtract(dep(key), ctrl(key))

    families = (
        ("dependent", "superiority", dep, config.margin, {k: grid("dependent", k) for k in PRIMARY}),
        (
            "interaction",
            "superiority",
            interaction,
            config.margin,
            {k: grid("dependent", k) + grid("control", k) for k in PRIMARY},
        ),
        ("control", "equivalence", ctrl, config.equivalence_margin, {k: grid("control", k) for k in PRIMARY}),
    )
    out = []
    for claim, kind, values, margin, errors in families:
        out += decide(comparisons(CLAIMS[claim], kind, values, margin, PRIMARY, errors=errors))
    secondary = comparisons(CLAIMS["dependent"], "superiority", dep, config.margin, SECONDARY, primary=False)
    matched = _matched_joint(pairs["dependent"], config.spec.train.steps)
    if len(matched) >= 2:
        secondary.append(
            Comparison(
                CLAIMS["matched"],
                f"average_kl at DDPM's final joint KL ({len(matched)} of {config.seeds} seeds in range)",
                "superiority",
                matched,
                config.margin,
                False,
                "log",
            )
        )
    for w in config.rare_weights:
        values = log_ratios(
            *paired_rows(results, target=f"rare{w:g}", kind="trained"), lambda r: r["rare_kl"]
        )
        secondary.append(
            Comparison(
                CLAIMS["rare"], f"rare_kl, weight {w:g}", "superiority", values, config.margin, False, "log"
            )
        )
    return out + decide(secondary)


PROFILES = {
    "quick": Config(
        rare_weights=(0.03,),
        seeds=2,
        rare_seeds=2,
        spec=PairSpec(
            width=32,
            train=TrainSpec(steps=200, lr=2e-3),
            diffusion=DiffusionSpec(steps=30),
            checkpoints=(0.5,),
        ),
        nodes=64,
    ),
    "default": Config(),
    "full": Config(
        seeds=16,
        rare_seeds=8,
        spec=PairSpec(
            width=128,
            train=TrainSpec(steps=5000, batch=1024, lr=2e-3),
            diffusion=DiffusionSpec(steps=100),
            checkpoints=(0.05, 0.1, 0.25, 0.5),
        ),
        nodes=640,
    ),
}

EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 15.0, "default": 600.0, "full": 3000.0},
)
