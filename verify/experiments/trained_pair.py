"""Train DDPM and AR-DM on the same target with matched parameter counts and equal steps, then
measure each against the exact truth (shared by conditional_gap and dependence_sweep).

Matching: the AR-DM network ("conditional-mlp", one network for every stage) gets `ar_hidden`
units per layer; the DDPM network ("mlp", the joint) gets the width whose parameter count is
closest to it (`verify.models.width_for_parameters`). Both train with the same TrainConfig
(steps, batch, learning rate, data seed) and are evaluated through their EMA weights.

Measurements:
- `grid_gaps` (d = 2, 1-D patches): the sampler's law on a grid (MATH.md section 7), the joint
  KL(q || p^) and the per-prefix conditional KL(q(.|x1) || p^(.|x1)) and TV, averaged over true
  prefixes and worst-case over the high-probability prefix region. Chain rule (MATH.md section 4):
  joint KL = KL(q(x1) || p^(x1)) + average conditional KL, so average <= joint.
- `score_errors` (any p): integrated score errors sum_j h_j E||s - grad log q||^2 on the sampling
  grid, per patch. AR-DM stage k: conditional score on true clean prefixes. DDPM: the patch-k block
  of its joint score error, i.e. its error on grad_{x^k} log q_t(x^k_t | x^{<k}_t), the conditional
  score given the NOISY prefix. The totals are the eps_score^2 in each model's Girsanov bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy import stats

from verify.exact import conditional_divergences, grid_ar_sampler_law, grid_divergences, grid_sampler_law
from verify.experiments import check_positive_int
from verify.models import as_conditional_score, as_score, build_model, count_parameters, width_for_parameters
from verify.records import check, metric
from verify.train import TrainConfig, score_error, train

NETWORKS = {"ddpm": "mlp", "ar": "conditional-mlp"}
# |1 - quadrature mass of q on the box| and the chain-rule slack allowed for grid quadrature;
# the targets are Gaussian mixtures with scales >= dx, whose quadrature error is ~ e^{-2 pi^2}.
GRID_TOL = 1e-6
MASS_TOL = 1e-9  # FFT round-off clipped at 0 may add this much mass, never more


def check_model(model: str) -> str:
    if model not in NETWORKS:
        raise ValueError(f"model: must be one of {sorted(NETWORKS)}, got {model!r}")
    return model


@dataclass(frozen=True)
class PairSpec:
    """Network and training settings shared by both models (DDPM width matched to AR-DM's)."""

    ar_hidden: int = 64
    depth: int = 3
    steps: int = 1000
    batch: int = 256
    lr: float = 2e-3
    T: float = 4.0
    delta: float = 1e-3

    def __post_init__(self):
        for name in ("ar_hidden", "depth", "steps", "batch"):
            check_positive_int(name, getattr(self, name))
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: must be a finite positive number, got {self.lr}")
        if not (math.isfinite(self.T) and 0 < self.delta < self.T):
            raise ValueError(f"delta: must satisfy 0 < delta < T ({self.T}), got {self.delta}")


def check_grid_evaluation(spec, box: float, coverage: float) -> None:
    """Config fields shared by the grid-evaluated experiments: the training spec, the grid box
    (it must hold the start law N(0, I)) and the prefix coverage of the worst case."""
    if not isinstance(spec, PairSpec):
        raise ValueError(f"spec: must be a PairSpec, got {type(spec).__name__}")
    if not box >= 6.5:
        raise ValueError(f"box: must be >= 6.5 to hold the start law N(0, I), got {box}")
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage: must be in (0, 1], got {coverage}")


def hidden_width(model: str, spec: PairSpec, dim: int, patch_sizes) -> int:
    """AR-DM: spec.ar_hidden; DDPM: the width matching AR-DM's parameter count on this data."""
    if check_model(model) == "ar":
        return spec.ar_hidden
    target = count_parameters(
        build_model("conditional-mlp", dim, patch_sizes, hidden=spec.ar_hidden, depth=spec.depth)
    )
    return width_for_parameters("mlp", target, dim, depth=spec.depth)


def train_model(model: str, distribution, spec: PairSpec, seed: int, device: str = "cpu"):
    """Train `model` ("ddpm" or "ar") on `distribution`; returns (EMA network, parameter count)."""
    dim, sizes = distribution.dim, distribution.patch_sizes
    hidden = hidden_width(model, spec, dim, sizes)
    network = build_model(NETWORKS[model], dim, sizes, seed=seed, hidden=hidden, depth=spec.depth)
    config = TrainConfig(
        steps=spec.steps,
        batch=spec.batch,
        lr=spec.lr,
        T=spec.T,
        delta=spec.delta,
        seed=seed,
        device=device,
    )
    return train(network, distribution, config).ema, count_parameters(network)


def _prefix_log_prob(distribution):
    return lambda x1: distribution.conditional_log_prob(0, x1, x1[:, :0])


def score_function(model: str, network):
    """The network as a score callable: score(x, t) for DDPM, score(k, x_k, prefix, t) for AR-DM."""
    return as_score(network) if check_model(model) == "ddpm" else as_conditional_score(network)


def grid_gaps(model: str, score, distribution, grid, nodes: int, box: float, coverage: float) -> dict:
    """Joint and per-prefix conditional divergences of the EI sampler driven by `score` (a joint
    score for "ddpm", a conditional one for "ar") on a grid (d = 2, 1-D patches)."""
    if check_model(model) == "ddpm":
        law = grid_sampler_law(score, grid, 2, box=box, n=nodes)
    else:
        law = grid_ar_sampler_law(score, grid, box=box, n=nodes)
    joint = grid_divergences(law, distribution.log_prob)
    curves = conditional_divergences(
        law,
        lambda x2, x1: distribution.conditional_log_prob(1, x2, x1),
        _prefix_log_prob(distribution),
        coverage,
    )
    return {
        "joint_kl": joint.kl_target_sampler,
        "joint_tv": joint.tv,
        "sampler_mass": joint.sampler_mass,
        "target_mass": joint.target_mass,
        "mass_lost": law.mass_lost,
        "average_kl": curves.average_kl,
        "average_tv": curves.average_tv,
        "worst_kl": curves.worst_kl,
        "worst_tv": curves.worst_tv,
        "prefix": curves.prefix.tolist(),
        "weight": curves.weight.tolist(),
        "region": curves.region.tolist(),
        "kl": curves.kl.tolist(),
        "tv": curves.tv.tolist(),
    }


def score_errors(model: str, score, distribution, grid, n: int, generator: torch.Generator) -> dict:
    """Integrated score error of `score` (joint for "ddpm", conditional for "ar") per patch k on
    the grid's times t_0..t_{N-1} (weights h_j), with Monte Carlo standard errors:
    {"stages": [per patch], "stderr": [per patch], "total", "total_stderr"}."""
    times = grid.tolist()
    steps = [a - b for a, b in zip(times[:-1], times[1:], strict=True)]
    K = distribution.num_patches
    means, variances = [0.0] * K, [0.0] * K
    check_model(model)
    for h, t in zip(steps, times[:-1], strict=True):
        if model == "ar":
            terms = [score_error(score, distribution, t, n, generator, k=k) for k in range(K)]
            per_stage = [(e.value, e.stderr) for e in terms]
        else:
            x = distribution.sample(n, t, generator)
            squares = (score(x, t) - distribution.score(x, t)).square()
            blocks = [squares[:, distribution.patch_slice(k)].sum(dim=1) for k in range(K)]
            per_stage = [(float(b.mean()), float(b.std()) / math.sqrt(n)) for b in blocks]
        for k, (mean, se) in enumerate(per_stage):
            means[k] += h * mean
            variances[k] += (h * se) ** 2
    # DDPM blocks share draws, so the total's error is bounded by the sum of the block errors
    return {
        "stages": means,
        "stderr": [math.sqrt(v) for v in variances],
        "total": sum(means),
        "total_stderr": sum(math.sqrt(v) for v in variances),
    }


def across_seeds(values) -> dict:
    """Mean over seeds with its standard error and a 95% Student-t interval (None for one seed)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    if len(values) < 2:
        return {"value": mean, "stderr": None, "ci": None}
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    se = sd / math.sqrt(len(values))
    half = float(stats.t.ppf(0.975, len(values) - 1)) * se
    return {"value": mean, "stderr": se, "ci": (mean - half, mean + half)}


def seed_metric(values, unit: str, estimator: str) -> dict:
    """`verify.records.metric` of the mean over seeds, with its standard error and interval."""
    stats = across_seeds(values)
    return metric(stats["value"], unit, estimator, stderr=stats["stderr"], ci=stats["ci"])


def verdict(difference: dict) -> str:
    """Plain words for a DDPM-minus-AR-DM difference metric with its 95% interval."""
    if "ci" not in difference:
        return "one seed, no interval"
    low, high = difference["ci"]
    if low > 0:
        return "AR-DM lower"
    if high < 0:
        return "DDPM lower: AR-DM does not beat DDPM"
    return "no significant difference"


def grid_checks(label: str, rows: list[dict]) -> list[dict]:
    """Guaranteed relations of `grid_gaps` results over seeds: the chain rule (average
    conditional KL <= joint KL, worst seed), q's mass on the box, no mass created by the grid."""
    return [
        check(
            f"{label}: prefix-averaged conditional KL - joint KL <= 0 (chain rule, worst seed)",
            max(r["average_kl"] - r["joint_kl"] for r in rows),
            0.0,
            "<=",
            GRID_TOL,
        ),
        check(
            f"{label}: quadrature mass of q on the box == 1",
            max(abs(1 - r["target_mass"]) for r in rows),
            0.0,
            "==",
            GRID_TOL,
        ),
        check(
            f"{label}: grid sampler mass <= 1 (no mass created)",
            max(r["sampler_mass"] for r in rows),
            1.0,
            "<=",
            MASS_TOL,
        ),
    ]
