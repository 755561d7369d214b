"""Claim 8: learned AR-DM versus DDPM on hidden-state Markov-chain sequences (K = 8 to 16 patches).

Data: synthetic.presets.markov_sequence(K, S, p, stickiness) (MATH.md section 3). Per patch k:
- score-error term of each model's Girsanov bound (MATH.md section 5), exact, on a grid:
  AR-DM stage k on true prefixes,
  sum_j h_j E||s(k, x^k_{t_j}, x^{<k}, t_j) - grad log q_{t_j}(x^k | x^{<k})||^2;
  DDPM, patch k's share of the joint term, sum_j h_j E||s(x_{t_j}, t_j)^k - (grad log q_{t_j}(x_{t_j}))^k||^2
  (the shares add up to the joint term, as the AR stages do by the chain rule);
- discrete-state lower bounds (verify.metrics.markov_states): nearest-mean state assignment of
  generated and fresh true sequences; held-out TV lower bound (and the KL bounds it implies) for
  the consecutive pair of states (k-1, k) (k = 0: the first state) and for the whole sequence;
  per-patch transition error of the assigned states.
The same bounds for exact samples against independent exact samples are the calibration: the
true TV is 0, so every lower bound must be <= 0 except with probability 1 - confidence
(Bonferroni over the K + 1 statistics of a seed). Those are the only checks; AR-DM vs DDPM is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic import presets
from synthetic.validation import DTYPE
from verify import grids
from verify.experiments import Cell, Experiment, Outcome, check_positive_int
from verify.metrics.markov_states import (
    assign_states,
    sequence_codes,
    state_divergence_bounds,
    transition_error,
)
from verify.models import as_conditional_score, as_score, build_model, count_parameters, width_for_parameters
from verify.records import check, metric
from verify.samplers import sample, sample_ar
from verify.train import TrainConfig, integrated_score_error, noised, train

NAME = "markov_sequences"
KINDS = ("ar", "ddpm", "exact")


@dataclass(frozen=True)
class Config:
    """Data (K, S, p, stickiness); networks: AR-DM conditional MLP of width `hidden`, DDPM MLP with
    the same parameter count, `steps` x `batch`; sampler: EI on an exponential-linear grid (T, N,
    delta), n_samples sequences; score errors on an N_eval-step grid from n_eval draws per time;
    confidence of the discrete-state bounds (per seed, Bonferroni over K + 1 statistics)."""

    K: int = 8
    S: int = 4
    p: int = 2
    stickiness: float = 0.9
    steps: int = 1000
    batch: int = 256
    hidden: int = 128
    T: float = 6.0
    N: int = 100
    delta: float = 1e-3
    n_samples: int = 4000
    N_eval: int = 12
    n_eval: int = 1024
    confidence: float = 0.999
    seeds: int = 2

    def __post_init__(self):
        for name in (
            "K",
            "S",
            "p",
            "steps",
            "batch",
            "hidden",
            "N",
            "n_samples",
            "N_eval",
            "n_eval",
            "seeds",
        ):
            check_positive_int(name, getattr(self, name))
        if self.K < 2:
            raise ValueError(f"K: need at least 2 patches, got {self.K}")
        if not 0 <= self.stickiness <= 1:
            raise ValueError(f"stickiness: must lie in [0, 1], got {self.stickiness}")
        if not 0 < self.delta < self.T:
            raise ValueError(f"delta: must satisfy 0 < delta < T ({self.T}), got {self.delta}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence: must lie in (0, 1), got {self.confidence}")
        if self.n_samples < 4:
            raise ValueError(f"n_samples: need >= 4 for held-out halves, got {self.n_samples}")


@dataclass(frozen=True)
class Params:
    config: Config
    kind: str  # "ar", "ddpm" or "exact"
    seed: int


def cells(config: Config, seed: int) -> list[Cell]:
    return [
        Cell(NAME, f"{kind}-s{i}", Params(config, kind, seed * 1000 + i))
        for kind in KINDS
        for i in range(config.seeds)
    ]


def _distribution(config: Config):
    return presets.markov_sequence(K=config.K, S=config.S, p=config.p, stickiness=config.stickiness)


def ddpm_patch_errors(score, dist, grid, n: int, generator) -> list[tuple[float, float]]:
    """Patch k's share of the DDPM term sum_j h_j E||s(X_{t_j}) - grad log q_{t_j}(X_{t_j})||^2,
    with its standard error, for every k (independent draws at each grid time)."""
    steps = (grid[:-1] - grid[1:]).tolist()
    value, var = torch.zeros(dist.num_patches, dtype=DTYPE), torch.zeros(dist.num_patches, dtype=DTYPE)
    for h, t in zip(steps, grid[:-1].tolist(), strict=True):
        x0 = dist.sample(n, 0.0, generator)
        x_t = noised(
            x0, torch.tensor(t, dtype=DTYPE), torch.randn(x0.shape, dtype=DTYPE, generator=generator)
        )
        per_patch = (score(x_t, t) - dist.score(x_t, t)).square().reshape(n, dist.num_patches, -1).sum(-1)
        value += h * per_patch.mean(0)
        var += (h * per_patch.std(0)) ** 2 / n
    return list(zip(value.tolist(), var.sqrt().tolist(), strict=True))


def _state_bounds(states_gen, states_true, S: int, confidence: float) -> dict:
    """Held-out TV / KL lower bounds for every consecutive pair of states and the whole sequence."""
    K = states_gen.shape[1]
    each = 1 - (1 - confidence) / (K + 1)  # Bonferroni: all K + 1 bounds hold together
    out = {"tv": [], "kl_gen_true": [], "kl_true_gen": [], "tv_plug_in": []}
    for patches in [[0]] + [[k - 1, k] for k in range(1, K)] + [list(range(K))]:
        bounds = state_divergence_bounds(
            sequence_codes(states_gen, S, patches), sequence_codes(states_true, S, patches), each
        )
        out["tv"].append(bounds.tv.lower)
        out["kl_gen_true"].append(bounds.kl_gen_true_lower)
        out["kl_true_gen"].append(bounds.kl_true_gen_lower)
        out["tv_plug_in"].append(bounds.tv_plug_in)
    return out


def run_cell(params: Params, device: str) -> dict:
    config = params.config
    dist = _distribution(config)
    generator = torch.Generator().manual_seed(params.seed)
    grid = grids.exponential_linear(config.T, config.N, config.delta)
    result = {"seed": params.seed, "kind": params.kind}
    if params.kind == "exact":
        generated = dist.sample(config.n_samples, 0.0, generator)
    else:
        ar = build_model(
            "conditional-mlp", dist.dim, dist.patch_sizes, seed=params.seed, hidden=config.hidden
        )
        if params.kind == "ar":
            model = ar
        else:
            width = width_for_parameters("mlp", count_parameters(ar), dist.dim)
            model = build_model("mlp", dist.dim, seed=params.seed, hidden=width)
        train_config = TrainConfig(
            steps=config.steps, batch=config.batch, seed=params.seed, delta=config.delta, device=device
        )
        result["losses_tail"] = sum(train(model, dist, train_config).losses[-50:]) / min(50, config.steps)
        result["parameters"] = count_parameters(model)
        eval_grid = grids.exponential_linear(config.T, config.N_eval, config.delta)
        if params.kind == "ar":
            score = as_conditional_score(model)
            errors = [
                integrated_score_error(score, dist, eval_grid, config.n_eval, generator, k)
                for k in range(config.K)
            ]
            result["score_error"] = [(e.value, e.stderr) for e in errors]
            generated = sample_ar(
                score, dist.patch_sizes, grid, config.n_samples, generator=generator, device=device
            )
        else:
            score = as_score(model)
            result["score_error"] = ddpm_patch_errors(score, dist, eval_grid, config.n_eval, generator)
            generated = sample(score, grid, config.n_samples, dist.dim, generator=generator, device=device)
    generated = generated.cpu()
    true = dist.sample(config.n_samples, 0.0, generator)
    states_gen = assign_states(generated, dist.means, config.K)
    states_true = assign_states(true, dist.means, config.K)
    result["bounds"] = _state_bounds(states_gen, states_true, config.S, config.confidence)
    result["transition_error"] = [
        (e.value, e.stderr) for e in transition_error(states_gen, dist.transition, generator=generator)
    ]
    return result


def _mean_over_seeds(arrays: list[list[float]]) -> tuple[list[float], list[float]]:
    """Per-index mean over seeds and its standard error (across seeds; 0 with one seed)."""
    values = torch.tensor(arrays, dtype=DTYPE)
    se = (
        values.std(0) / math.sqrt(len(arrays))
        if len(arrays) > 1
        else torch.zeros(values.shape[1], dtype=DTYPE)
    )
    return values.mean(0).tolist(), se.tolist()


def aggregate(config: Config, results: list[dict]) -> Outcome:
    checks, metrics, series = [], {}, {"K": config.K}
    for result in (r for r in results if r["kind"] == "exact"):
        for index, lower in enumerate(result["bounds"]["tv"]):
            what = (
                "whole sequence"
                if index == config.K
                else ("state 0" if index == 0 else f"states ({index - 1}, {index})")
            )
            checks.append(
                check(
                    f"calibration seed {result['seed']}, {what}: TV lower bound (exact vs exact) <= 0",
                    lower,
                    0.0,
                    "<=",
                )
            )
    for kind in KINDS:
        group = [r for r in results if r["kind"] == kind]
        entry = {}
        for key in ("tv", "kl_gen_true", "kl_true_gen"):
            entry[key], entry[f"{key}_se"] = _mean_over_seeds([r["bounds"][key] for r in group])
        entry["transition"], entry["transition_se"] = _mean_over_seeds(
            [[v for v, _ in r["transition_error"]] for r in group]
        )
        if kind != "exact":
            entry["score_error"], entry["score_error_se"] = _mean_over_seeds(
                [[v for v, _ in r["score_error"]] for r in group]
            )
            (total,), (total_se,) = _mean_over_seeds([[sum(v for v, _ in r["score_error"])] for r in group])
            metrics[f"{kind}_total_score_error"] = metric(
                total,
                "nats",
                f"sum over patches of the Girsanov score term, mean of {len(group)} seeds",
                stderr=total_se if len(group) > 1 else None,
            )
            metrics[f"{kind}_parameters"] = metric(group[0]["parameters"], "count", "trainable parameters")
        metrics[f"{kind}_sequence_tv_lower"] = metric(
            entry["tv"][-1],
            "1",
            f"held-out TV lower bound, whole assigned sequence, mean of {len(group)} seeds",
            stderr=entry["tv_se"][-1] if len(group) > 1 else None,
        )
        metrics[f"{kind}_mean_transition_error"] = metric(
            sum(entry["transition"]) / len(entry["transition"]),
            "1",
            "mean over k of the bias-corrected transition error",
        )
        series[kind] = entry
    ar, dd = metrics["ar_total_score_error"]["value"], metrics["ddpm_total_score_error"]["value"]
    tv_ar, tv_dd = metrics["ar_sequence_tv_lower"]["value"], metrics["ddpm_sequence_tv_lower"]["value"]
    better = "lower" if ar < dd else "not lower"
    return Outcome(
        metrics=metrics,
        checks=checks,
        series=series,
        summary={
            "measured": (
                f"K={config.K}, S={config.S}: score-error term AR {ar:.3g} vs DDPM {dd:.3g} nats "
                f"(AR {better}); "
                f"sequence TV lower bound AR {tv_ar:.3f} vs DDPM {tv_dd:.3f}; "
                f"calibration {sum(c['holds'] for c in checks)}/{len(checks)}"
            ),
            "bound": "data-processing lower bounds; exact-vs-exact TV lower bound <= 0 (calibration)",
        },
    )


EXPERIMENT = Experiment(
    name=NAME,
    claim="On Markov-chain sequences, per-patch conditional score errors and discrete-state TV/KL "
    "lower bounds of learned AR-DM and DDPM (measured, with calibrated lower bounds).",
    profiles={
        "quick": Config(K=8, S=4, steps=150, hidden=48, N=30, n_samples=1000, N_eval=6, n_eval=256, seeds=1),
        "default": Config(K=8, S=4, steps=1500, hidden=128, N=100, n_samples=4000, seeds=2),
        "full": Config(
            K=16,
            S=8,
            steps=20000,
            batch=1024,
            hidden=256,
            N=200,
            n_samples=20000,
            N_eval=24,
            n_eval=4096,
            seeds=4,
        ),
    },
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 2.0, "default": 64.0, "full": 600.0},
)
