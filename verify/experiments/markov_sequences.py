"""Claim 8: learned AR-DM versus DDPM on hidden-state Markov-chain sequences (K = 8 to 16 patches).

Data: synthetic.presets.markov_sequence(K, S, p, stickiness) (docs/math.md section 3). Both networks
train and sample on one `verify.spec.DiffusionSpec` (training times on [delta, T], the sampler
from T to delta). Generated sequences are mapped to discrete states by the nearest emission mean
(verify.metrics.markov_states), patch by patch; A_k is the assigned state of patch k.

Primary endpoints (declared in the config before any run; paired by seed, DDPM minus AR-DM, one
family, Holm-corrected, verify.verdicts):
1. transition error under the model's OWN prefixes: mean over k = 1..K-1 of
   e_k = E_{a ~ model's A_{k-1}} TV(P^_k(a, .), Q_k(a, .)), Q_k the exact transition law of the
   TRUE assigned states (the hidden P pushed through the assignment's confusion matrix M; Q = P
   when emissions do not overlap), bootstrap bias-corrected with a bootstrap standard error;
2. stay after a rare switch: |P^(A_{k+1} = A_k | A_k != A_{k-1}) - its exact value|, pooled over
   k, a conditional on prefixes of probability about (1 - P(s, s)) per position.
Superiority of AR-DM (positive differences) with margins `margin_transition`, `margin_stay`
(probability units). The measured output is the sampler's spec.output (the Tweedie-denoised
output by default); the same endpoints on the other output (x_delta) are secondary comparisons.

Secondary information, never used to rank the models: the score-error term of each model's
Girsanov bound per patch (an UPPER bound ingredient: AR-DM stage k on true prefixes; DDPM patch
k's share of the joint term), the held-out TV/KL lower bounds on the laws of assigned states.
Checks (guaranteed): exact samples' TV lower bounds <= 0 (Bonferroni over the K + 1 statistics of
a seed) and exact samples' stay-after-switch within 5 standard errors of its exact value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from synthetic import presets
from synthetic.validation import DTYPE
from verify.experiments import Cell, Experiment, Outcome, check_instance, check_positive_int
from verify.metrics.markov_states import (
    assign_states,
    assigned_state_law,
    confusion_matrix,
    sequence_codes,
    state_divergence_bounds,
    stay_after_switch,
    transition_error,
)
from verify.pair import SIDES, PairSpec, train_model
from verify.records import MARGIN_SE, check, metric
from verify.spec import DiffusionSpec, TrainSpec
from verify.verdicts import Comparison, decide, describe, mean_interval, overall

NAME = "markov_sequences"
CLAIM = (
    "On Markov-chain sequences, AR-DM's transition law under its own prefixes (every position, "
    "and right after a rare switch) is closer to the chain's than DDPM's (paired seeds, Holm)."
)
KINDS = ("ar", "ddpm", "exact")
MODELS = ("ar", "ddpm")
OUTPUTS = {True: "denoised", False: "x_delta"}
VERDICT_CLAIM = "AR-DM's transition law under its own prefixes is closer to the chain's than DDPM's"
CONFUSION_SEED = 20250430
SPEC = PairSpec(
    width=128,
    train=TrainSpec(steps=2000, batch=256, lr=2e-3, ema_decay=0.995),
    diffusion=DiffusionSpec(T=6.0, delta=1e-3, steps=100, denoise=True),
)


@dataclass(frozen=True)
class Config:
    """Data (K, S, p, stickiness); `spec`: the pair (verify.pair: AR-DM conditional MLP of its
    width, DDPM MLP with the same parameter count, both trained with `spec.train` and evaluated
    through the EMA of the weights, whose decay averages over ~1 / (1 - ema_decay) steps, short
    against the training steps, so early weights do not linger; `spec.diffusion` the sampler and
    training horizon); `draws` sequences per model and seed; score errors on an `eval_steps`-step
    grid from `eval_draws` draws per time; `confusion_draws` draws per state for the confusion
    matrix; confidence of the discrete-state bounds; `seeds` paired seeds; margins of the two
    primary endpoints (probability units), declared before any run. Seeds: the exact sign-flip
    p-value on n pairs is at least 2^-n, and Holm over the two primary endpoints doubles the
    smaller one, so n = 6 is the fewest that can decide at 5% (2 x 2^-6 = 0.031; n = 5 gives
    0.0625): the default profile uses 6, the quick profile's 2 are a smoke test whose verdicts
    stay unresolved."""

    K: int = 8
    S: int = 4
    p: int = 2
    stickiness: float = 0.9
    spec: PairSpec = SPEC
    draws: int = 4000
    eval_steps: int = 12
    eval_draws: int = 1024
    confusion_draws: int = 200_000
    confidence: float = 0.999
    seeds: int = 6
    margin_transition: float = 0.02
    margin_stay: float = 0.02

    def __post_init__(self):
        for name in ("K", "S", "p", "draws", "eval_steps", "eval_draws", "confusion_draws"):
            check_positive_int(name, getattr(self, name))
        if self.K < 3:
            raise ValueError(f"K: need at least 3 patches (a switch and the step after), got {self.K}")
        if not 0 <= self.stickiness <= 1:
            raise ValueError(f"stickiness: must lie in [0, 1], got {self.stickiness}")
        check_instance("spec", self.spec, PairSpec)
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence: must lie in (0, 1), got {self.confidence}")
        if self.draws < 4:
            raise ValueError(f"draws: need >= 4 for held-out halves, got {self.draws}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < 2:
            raise ValueError(f"seeds: need at least 2 paired seeds for a verdict, got {self.seeds!r}")
        for name in ("margin_transition", "margin_stay"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name}: must lie in (0, 1), got {getattr(self, name)}")


@dataclass(frozen=True)
class Params:
    config: Config
    kind: str  # "ar", "ddpm" or "exact"
    seed: int


def cells(config: Config, seed: int) -> list[Cell]:
    """Seed i of every kind shares one seed: the same training data order (x_0 of every step) and
    the same sampling generator."""
    return [
        Cell(NAME, f"{kind}-s{i}", Params(config, kind, seed * 1000 + i))
        for kind in KINDS
        for i in range(config.seeds)
    ]


def _distribution(config: Config):
    return presets.markov_sequence(K=config.K, S=config.S, p=config.p, stickiness=config.stickiness)


def reference_law(config: Config, dist):
    """Exact laws of the TRUE assigned states (transitions Q_k, stay after a switch), with the
    confusion matrix from confusion_draws draws per state (a fixed seed: one reference for every cell)."""
    confusion, stderr = confusion_matrix(
        dist.means, dist.covariances, config.confusion_draws, torch.Generator().manual_seed(CONFUSION_SEED)
    )
    return assigned_state_law(dist.initial, dist.transition, confusion, config.K), float(stderr.max())


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


def _measure(generated, true_states, dist, law, config: Config, generator) -> dict:
    """Endpoints of one set of generated sequences (module docstring)."""
    states = assign_states(generated.cpu(), dist.means, config.K)
    transition = transition_error(states, law.transitions, generator=generator)
    stay = stay_after_switch(states, config.S, generator=generator)
    return {
        "transition": [e.value for e in transition],
        "transition_se": [e.stderr for e in transition],
        "stay": stay.value,
        "stay_se": stay.stderr,
        "switches": stay.n,
        "bounds": _state_bounds(states, true_states, config.S, config.confidence),
    }


def _trained(params: Params, dist, device: str) -> tuple[dict, dict]:
    """Train the model of `params.kind` (EMA weights); its score-error terms and its samples for
    both outputs (the spec's and the other), from the same sampling noise."""
    config, diffusion, side = params.config, params.config.spec.diffusion, SIDES[params.kind]
    trained, parameters, _ = train_model(params.kind, dist, config.spec, params.seed, device)
    score = side.score(trained.ema.eval())
    generator = torch.Generator().manual_seed(params.seed + 1)
    eval_grid = diffusion.time_grid(config.eval_steps)
    errors = side.patch_errors(score, dist, eval_grid, config.eval_draws, generator)
    info = {
        "losses_tail": sum(trained.losses[-50:]) / min(50, config.spec.train.steps),
        "parameters": parameters,
        "score_error": [(e.value, e.stderr) for e in errors],
    }

    def draw(denoise: bool) -> torch.Tensor:
        noise = torch.Generator().manual_seed(params.seed)  # the same start for both outputs
        return side.sample(
            score,
            dist.patch_sizes,
            diffusion.time_grid(),
            config.draws,
            scheme=diffusion.scheme,
            generator=noise,
            device=device,
            denoise=denoise,
        )

    outputs = {OUTPUTS[denoise]: draw(denoise) for denoise in (diffusion.denoise, not diffusion.denoise)}
    return info, outputs


def run_cell(params: Params, device: str) -> dict:
    config = params.config
    dist = _distribution(config)
    law, confusion_se = reference_law(config, dist)
    result = {
        "seed": params.seed,
        "kind": params.kind,
        "reference": {"stay": law.stay_after_switch, "confusion_se_max": confusion_se},
    }
    if params.kind == "exact":
        outputs = {"exact": dist.sample(config.draws, 0.0, torch.Generator().manual_seed(params.seed))}
    else:
        info, outputs = _trained(params, dist, device)
        result.update(info)
    generator = torch.Generator().manual_seed(params.seed + 2)
    true_states = assign_states(dist.sample(config.draws, 0.0, generator), dist.means, config.K)
    result["outputs"] = {
        name: _measure(x, true_states, dist, law, config, generator) for name, x in outputs.items()
    }
    return result


def _seed_values(group: list[dict], output: str, stay_exact: float) -> dict:
    """Per-seed endpoint values (ordered by seed) of one model and output."""
    group = sorted(group, key=lambda r: r["seed"])
    entries = [r["outputs"][output] for r in group]
    return {
        "seeds": [r["seed"] for r in group],
        "transition": [sum(e["transition"]) / len(e["transition"]) for e in entries],
        "stay": [e["stay"] for e in entries],
        "stay_error": [abs(e["stay"] - stay_exact) for e in entries],
        "per_k": [e["transition"] for e in entries],
    }


def aggregate(config: Config, results: list[dict]) -> Outcome:
    stay_exact = results[0]["reference"]["stay"]
    primary_output = OUTPUTS[config.spec.diffusion.denoise]
    checks, metrics = [], {}
    series = {"K": config.K, "stay_exact": stay_exact, "primary_output": primary_output}
    for result in sorted((r for r in results if r["kind"] == "exact"), key=lambda r: r["seed"]):
        entry = result["outputs"]["exact"]
        for index, lower in enumerate(entry["bounds"]["tv"]):
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
        checks.append(
            check(
                f"calibration seed {result['seed']}: stay after a switch (exact samples) == exact value",
                entry["stay"],
                stay_exact,
                "==",
                MARGIN_SE * math.hypot(entry["stay_se"], result["reference"]["confusion_se_max"]),
            )
        )
    values = {
        ("exact", "exact"): _seed_values([r for r in results if r["kind"] == "exact"], "exact", stay_exact)
    }
    for kind in MODELS:
        group = [r for r in results if r["kind"] == kind]
        for output in OUTPUTS.values():
            values[kind, output] = _seed_values(group, output, stay_exact)
        totals = [sum(v for v, _ in r["score_error"]) for r in group]
        mean, se, _ = mean_interval(totals)
        metrics[f"{kind}_total_score_error"] = metric(
            mean,
            "nats",
            f"secondary (an upper-bound ingredient, does not rank the models): sum over patches of the "
            f"Girsanov score term, mean of {len(group)} seeds",
            stderr=se,
        )
        metrics[f"{kind}_parameters"] = metric(group[0]["parameters"], "count", "trainable parameters")
    for (kind, output), v in values.items():
        suffix = "" if output in ("exact", primary_output) else f"_{output}"
        for endpoint, unit, words in (
            ("transition", "1", "mean over k of the bias-corrected transition TV under own prefixes"),
            ("stay", "1", "P(stay | just switched), pooled over k"),
            ("stay_error", "1", "|P^(stay | just switched) - exact|"),
        ):
            mean, se, ci = mean_interval(v[endpoint])
            metrics[f"{kind}_{endpoint}{suffix}"] = metric(
                mean, unit, f"{words}; mean of {len(v[endpoint])} seeds, t-interval", stderr=se, ci=ci
            )
    comparisons = []
    for output in (primary_output, OUTPUTS[not config.spec.diffusion.denoise]):
        primary = output == primary_output
        for endpoint, margin in (
            ("transition", config.margin_transition),
            ("stay_error", config.margin_stay),
        ):
            ar, dd = values["ar", output], values["ddpm", output]
            comparisons.append(
                Comparison(
                    VERDICT_CLAIM,
                    f"{endpoint} ({output})",
                    "superiority",
                    tuple(d - a for d, a in zip(dd[endpoint], ar[endpoint], strict=True)),
                    margin,
                    primary=primary,
                )
            )
    verdicts = decide(comparisons)
    for kind, output in values:
        per_k = torch.tensor(values[kind, output]["per_k"], dtype=DTYPE)
        stats_k = [mean_interval(per_k[:, j].tolist()) for j in range(per_k.shape[1])]
        stay_mean, _, stay_ci = mean_interval(values[kind, output]["stay"])
        series[f"{kind}_{output}"] = {
            **values[kind, output],
            "per_k_mean": [s[0] for s in stats_k],
            "per_k_ci": [s[2] for s in stats_k],
            "stay_mean": stay_mean,
            "stay_ci": stay_ci,
        }
    series["score_error"] = {
        kind: [
            [v for v, _ in r["score_error"]]
            for r in sorted((r for r in results if r["kind"] == kind), key=lambda r: r["seed"])
        ]
        for kind in MODELS
    }
    primary_text = "; ".join(describe(v, unit="(probability)") for v in verdicts if v["primary"])
    return Outcome(
        metrics=metrics,
        checks=checks,
        series=series,
        summary={
            "measured": (
                f"K={config.K}, S={config.S}, {config.seeds} paired seeds, output: "
                f"{config.spec.diffusion.output}; {primary_text}; overall {overall(verdicts)}; "
                f"calibration {sum(c['holds'] for c in checks)}/{len(checks)}"
            ),
            "bound": "calibration on exact samples: TV lower bounds <= 0, stay after a switch == exact",
        },
        verdicts=verdicts,
    )


PROFILES = {
    "quick": Config(
        spec=replace(
            SPEC, width=48, train=replace(SPEC.train, steps=150), diffusion=replace(SPEC.diffusion, steps=30)
        ),
        draws=1000,
        eval_steps=6,
        eval_draws=256,
        confusion_draws=20_000,
        seeds=2,
    ),
    "default": Config(),
    "full": Config(
        K=16,
        S=8,
        spec=replace(
            SPEC,
            width=256,
            train=replace(SPEC.train, steps=20000, batch=1024),
            diffusion=replace(SPEC.diffusion, steps=200),
        ),
        draws=20000,
        eval_steps=24,
        eval_draws=4096,
        confusion_draws=1_000_000,
        seeds=8,
    ),
}


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 10.0, "default": 225.0, "full": 1200.0},
)
