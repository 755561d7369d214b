"""Claim 2: the AR-DM bound hierarchy per stage and the chain rule (docs/math.md sections 4-5).

The AR-DM target is p_AR(x) = prod_k q^k_{delta}(x^k | x^{<k}); stage k runs an EI (or EM) sampler
on patch k given the clean prefix. By the chain rule, for the sampler's joint law p^,

    KL(p_AR || p^) = sum_k E_{x^{<k} ~ p_AR} KL(q^k_delta(. | x^{<k}) || p^_k(. | x^{<k}))   (identity)

and each stage's prefix-averaged conditional KL obeys the DDPM hierarchy stage by stage:
gap_k <= chain path KL_k <= Girsanov_k <= split_k (prefixes drawn from p_AR). Measured versus the
number of steps N per stage, for exact and perturbed conditional scores, on a LinearGaussianChain
(exact per-stage laws by the Gaussian recursion; the identity holds to round-off) and on a
dependent 2-D mixture with 1-D patches (grid law, two resolutions and Richardson; the identity
holds within the grid error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from synthetic.base import Distribution
from synthetic.presets import dependent_pair, gaussian_chain
from verify.exact import (
    GridLaw,
    conditional_divergences,
    gaussian_ar_sampler_law,
    gaussian_ar_target,
    grid_ar_sampler_law,
    grid_divergences,
    grid_sampler_law,
)
from verify.experiments import Cell, Experiment, Outcome, check_positive_int
from verify.hierarchy import (
    LEVELS,
    SweepConfig,
    SweepParams,
    bound_values,
    hierarchy_checks,
    quarter_turn,
    richardson_pair,
    sign_vector,
    sweep_cells,
)
from verify.metrics.gaussian import gaussian_expected_conditional_kl, gaussian_kl
from verify.metrics.girsanov import girsanov_bound_ar
from verify.metrics.path_kl import chain_path_kl_ar
from verify.records import check, metric
from verify.samplers.perturb import Bias, RotationField

NAME = "bound_hierarchy_ar"
CLAIM = (
    "AR-DM: per-stage contributions add up to the joint KL (chain rule) and each stage obeys "
    "gap <= chain path KL <= Girsanov <= split"
)
TARGETS = ("chain", "pair")
SCORES = ("exact", "perturbed")
CHAIN_RULE_TOLERANCE = 1e-8  # Gaussian case: the identity up to float64 round-off
BOUNDS = tuple(f"{level}{suffix}" for level in LEVELS[1:] for suffix in ("", "_se"))  # series keys


@dataclass(frozen=True)
class Config(SweepConfig):
    """AR sweep: `chain` is a LinearGaussianChain of K patches in R^p with correlation rho;
    `pair` the dependent 2-D mixture (1-D patches, K = 2) of dependence `strength`."""

    TARGETS: ClassVar[tuple[str, ...]] = TARGETS
    SCORES: ClassVar[tuple[str, ...]] = SCORES

    K: int = 4
    p: int = 2
    rho: float = 0.9
    strength: float = 0.9

    def __post_init__(self):
        super().__post_init__()
        for name in ("K", "p"):
            check_positive_int(name, getattr(self, name))
        for name in ("rho", "strength"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name}: must lie in [0, 1), got {getattr(self, name)}")


def build_target(name: str, config: Config) -> Distribution:
    if name == "chain":
        return gaussian_chain(K=config.K, p=config.p, rho=config.rho, seed=1)
    return dependent_pair(strength=config.strength)


def build_score(target: Distribution, kind: str, config: Config):
    """(conditional score s(k, x^k, x^{<k}, t), conditional affine(k, t) -> (A, B, c) or None)."""
    sizes = target.patch_sizes
    exact = target.conditional_score
    gaussian = target.is_gaussian
    if kind == "exact":
        return exact, target.conditional_affine_score if gaussian else None
    if gaussian:
        score = Bias(exact, sign_vector(target.dim, config.perturbation), sizes)
        return score, lambda k, t: score.conditional_affine(k, *target.conditional_affine_score(k, t), t)
    return RotationField(exact, quarter_turn(), config.perturbation, sizes), None


def gaussian_stage_gaps(target, affine, grid, scheme: str) -> dict:
    """Exact per-stage conditional KLs and the joint KL(p_AR || p^) by the Gaussian recursion."""
    sizes, bounds = target.patch_sizes, target.patch_bounds
    law = gaussian_ar_sampler_law(affine, sizes, grid, scheme)
    mean, cov, _ = gaussian_ar_target(target.mean(), target.covariance(), sizes, float(grid[-1]))
    stages = [
        gaussian_expected_conditional_kl(mean, cov, law.mean, law.cov, bounds[k], size)
        for k, size in enumerate(sizes)
    ]
    joint = gaussian_kl(mean, cov, law.mean, law.cov)
    return {
        "stage_gap": stages,
        "stage_gap_err": [0.0] * len(sizes),
        "joint_gap": joint,
        "joint_gap_err": 0.0,
        "chain_rule_margin": CHAIN_RULE_TOLERANCE,
        "method": "gaussian",
    }


def _grid_stage_values(law: GridLaw, first: GridLaw, target, delta: float) -> list[float]:
    """[stage-1 KL, prefix-averaged stage-2 KL, joint KL] by quadrature, from the AR grid law and
    the stage-1 law `first` (its own 1-D propagation: law.marginal(0) would also carry the
    stage-2 mass lost from the box)."""

    def log_first(x):
        return target.conditional_log_prob(0, x, x.new_zeros(x.shape[0], 0), delta)

    def log_second(x2, x1):
        return target.conditional_log_prob(1, x2, x1, delta)

    stage_1 = grid_divergences(first, log_first).kl_target_sampler
    stage_2 = conditional_divergences(law, log_second, log_first).average_kl
    joint = grid_divergences(law, lambda x: log_first(x[:, :1]) + log_second(x[:, 1:], x[:, :1]))
    return [stage_1, stage_2, joint.kl_target_sampler]


def grid_stage_gaps(target, score, grid, config: Config) -> dict:
    """Per-stage and joint KLs from the AR grid law (K = 2, 1-D patches), Richardson over two
    resolutions; the chain-rule margin is the sum of their grid-error estimates."""
    delta = float(grid[-1])
    laws = [grid_ar_sampler_law(score, grid, config.box, n, config.scheme) for n in config.resolutions]
    firsts = [
        grid_sampler_law(lambda x, t: score(0, x, x[:, :0], t), grid, 1, config.box, n, config.scheme)
        for n in config.resolutions
    ]
    values = [_grid_stage_values(law, first, target, delta) for law, first in zip(laws, firsts, strict=True)]
    dxs = [law.dx for law in laws]
    pairs = [richardson_pair([v[i] for v in values], dxs) for i in range(3)]
    return {
        "stage_gap": [pairs[0][0], pairs[1][0]],
        "stage_gap_err": [pairs[0][1], pairs[1][1]],
        "joint_gap": pairs[2][0],
        "joint_gap_err": pairs[2][1],
        "chain_rule_margin": sum(err for _, err in pairs),
        "mass_lost": max(law.mass_lost for law in laws),
        "method": "grid",
    }


def cells(config: Config, seed: int) -> list[Cell]:
    return sweep_cells(NAME, config, seed)


def run_cell(params: SweepParams, device: str) -> dict:
    config = params.config
    target = build_target(params.target, config)
    score, affine = build_score(target, params.score, config)
    generator = torch.Generator().manual_seed(params.seed)
    rows = []
    for N in config.steps:
        grid = config.diffusion(N).time_grid()
        if affine is not None:
            gaps = gaussian_stage_gaps(target, affine, grid, config.scheme)
        else:
            gaps = grid_stage_gaps(target, score, grid, config)
        chain = chain_path_kl_ar(target, score, grid, config.draws, config.scheme, generator)
        girsanov = girsanov_bound_ar(
            target, score, grid, config.draws, config.scheme, generator, config.sub_steps
        )
        stages = [
            {"gap": gap, "gap_err": err, **bound_values(c, g)}
            for gap, err, c, g in zip(
                gaps["stage_gap"], gaps["stage_gap_err"], chain.stages, girsanov.stages, strict=True
            )
        ]
        joint = {
            "gap": gaps["joint_gap"],
            "gap_err": gaps["joint_gap_err"],
            **bound_values(chain.joint, girsanov.joint),
        }
        rows.append({"N": N, **gaps, "stages": stages, "joint": joint})
    return {
        "seed": params.seed,
        "target": params.target,
        "score": params.score,
        "patch_sizes": list(target.patch_sizes),
        "rows": rows,
    }


def aggregate(config: Config, results: list[dict]) -> Outcome:
    metrics, checks, series = {}, [], {"settings": [], "steps": list(config.steps)}
    residuals = []
    for result in results:
        label = f"{result['target']}/{result['score']}"
        rows = result["rows"]
        for row in rows:
            where = f"{label} N={row['N']}"
            residual = sum(row["stage_gap"]) - row["joint_gap"]
            residuals.append(abs(residual))
            checks.append(
                check(
                    f"{where}: sum_k stage gap == joint KL",
                    sum(row["stage_gap"]),
                    row["joint_gap"],
                    "==",
                    row["chain_rule_margin"],
                )
            )
            for k, stage in enumerate(row["stages"]):
                checks += hierarchy_checks(f"{where} stage {k + 1}", stage)
            checks += hierarchy_checks(f"{where} joint", row["joint"])
        last = rows[-1]
        metrics[f"{label}/joint_gap@N={last['N']}"] = metric(
            last["joint_gap"], "nats", last["method"], stderr=last["joint_gap_err"]
        )
        metrics[f"{label}/chain_rule_residual_max"] = metric(
            max(abs(sum(r["stage_gap"]) - r["joint_gap"]) for r in rows), "nats", "|sum_k stage - joint|"
        )
        for k, stage in enumerate(last["stages"]):
            metrics[f"{label}/stage{k + 1}_gap@N={last['N']}"] = metric(
                stage["gap"], "nats", last["method"], stderr=stage["gap_err"]
            )
        series["settings"].append(
            {
                "target": result["target"],
                "score": result["score"],
                "method": last["method"],
                "patch_sizes": result["patch_sizes"],
                "stage_gap": [r["stage_gap"] for r in rows],
                "stage_gap_err": [r["stage_gap_err"] for r in rows],
                "joint": {key: [r["joint"][key] for r in rows] for key in ("gap", "gap_err", *BOUNDS)},
                "stages": [
                    {key: [r["stages"][k][key] for r in rows] for key in BOUNDS}
                    for k in range(len(result["patch_sizes"]))
                ],
            }
        )
    held = sum(c["holds"] for c in checks)
    summary = {
        "measured": f"per-stage hierarchy and chain rule in {held}/{len(checks)} checks over N in "
        f"{list(config.steps)}; max |sum_k stage KL - joint KL| = {max(residuals):.2g} nats",
        "bound": "KL(p_AR||p^) = sum_k E KL(stage k); per stage gap <= chain path KL <= Girsanov <= split",
    }
    return Outcome(metrics, checks, series, summary)


PROFILES = {
    "quick": Config(
        settings=(("chain", "exact"), ("chain", "perturbed"), ("pair", "exact"), ("pair", "perturbed")),
        steps=(8, 16, 32),
        draws=600,
        nodes=96,
        K=3,
    ),
    "default": Config(
        settings=tuple((t, s) for t in TARGETS for s in SCORES),
        steps=(8, 16, 32, 64),
        draws=2000,
        nodes=128,
        K=4,
    ),
    "full": Config(
        settings=tuple((t, s) for t in TARGETS for s in SCORES),
        steps=(8, 16, 32, 64, 128, 256),
        draws=20_000,
        nodes=256,
        K=8,
    ),
}

EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 4.0, "default": 16.0, "full": 600.0},
)
