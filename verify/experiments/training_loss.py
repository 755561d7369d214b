"""Claim 7: the denoising loss at a fixed noise level is the exact score error plus a known constant.

For eps_hat = -s_t s and x_t = a_t x_0 + s_t eps (docs/math.md section 1), Tweedie's formula
E[eps | x_t] = -s_t grad log q_t(x_t) removes the cross term, so at every fixed t

    loss(t) = E ||eps_hat - eps||^2 = s_t^2 E ||s - grad log q_t||^2 + constant(t),
    constant(t) = d - s_t^2 E ||grad log q_t(X_t)||^2,

with d -> d_k and the conditional score of stage k (clean true prefix) for an AR-DM stage. Over the
training of an AR-DM network (per stage) and a DDPM network (joint), both sides are measured from
the same draws at several checkpoints and times (verify.train.dsm_identity); their per-draw
difference has mean exactly 0, which is the check (margin 5 standard errors: with at most a
thousand checks a run fails by chance with probability < 1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic import presets
from synthetic.ou import ou_variance
from verify.experiments import Cell, Experiment, Outcome, check_instance, check_positive_int
from verify.models import build_model
from verify.pair import SIDES
from verify.records import MARGIN_SE, check, metric
from verify.spec import DiffusionSpec, TrainSpec
from verify.train import dsm_identity, train

NAME = "training_loss"
CLAIM = (
    "The denoising loss minus its known constant equals s_t^2 times the exact (conditional) "
    "score error, at every checkpoint, noise level and stage."
)
MODELS = ("ar", "ddpm")  # record order


@dataclass(frozen=True)
class Config:
    """preset: synthetic preset name; both sides' networks (verify.pair.SIDES) of the same
    `width`, trained with `train` on the horizon of `diffusion`; checkpoints: training steps at
    which both sides are measured (0 = the untrained network); times: fixed noise levels t > 0;
    draws per (checkpoint, t, stage); seeds: independent trainings per model."""

    preset: str = "dependent_pair"
    train: TrainSpec = TrainSpec(steps=400, batch=256, lr=2e-3)
    diffusion: DiffusionSpec = DiffusionSpec()
    width: int = 64
    checkpoints: tuple = (0, 20, 100, 400)
    times: tuple = (0.05, 0.3, 1.0)
    draws: int = 4096
    seeds: int = 1

    def __post_init__(self):
        if self.preset not in presets.names():
            raise ValueError(f"preset: unknown {self.preset!r}; known: {presets.names()}")
        for name in ("width", "draws", "seeds"):
            check_positive_int(name, getattr(self, name))
        check_instance("train", self.train, TrainSpec)
        check_instance("diffusion", self.diffusion, DiffusionSpec)
        steps = list(self.checkpoints)
        if not steps or steps != sorted(set(steps)) or steps[0] < 0 or steps[-1] > self.train.steps:
            raise ValueError(
                f"checkpoints: must increase strictly within [0, train.steps], got {self.checkpoints}"
            )
        if not self.times or not all(math.isfinite(t) and t > 0 for t in self.times):
            raise ValueError(f"times: need finite times t > 0, got {self.times}")


@dataclass(frozen=True)
class Params:
    config: Config
    model: str  # "ar" or "ddpm"
    seed: int


def cells(config: Config, seed: int) -> list[Cell]:
    return [
        Cell(NAME, f"{model}-s{i}", Params(config, model, seed * 1000 + i))
        for model in MODELS
        for i in range(config.seeds)
    ]


def _measure(network, model: str, distribution, config: Config, step: int, generator) -> list[dict]:
    """Both sides of the identity at every time (and every stage of a conditional side) from
    fresh draws."""
    side = SIDES[model]
    score = side.score(network)
    stages = range(distribution.num_patches) if side.conditional else [None]
    rows = []
    for t in config.times:
        for k in stages:
            identity = dsm_identity(score, distribution, t, config.draws, generator, k)
            row = {"step": step, "t": t, "stage": "joint" if k is None else k}
            for name in ("loss", "score_error", "constant", "difference"):
                estimate = getattr(identity, name)
                row[name], row[f"{name}_se"] = estimate.value, estimate.stderr
            rows.append(row)
    return rows


def run_cell(params: Params, device: str) -> dict:
    config = params.config
    distribution = presets.make(config.preset)
    model = build_model(
        SIDES[params.model].network,
        distribution.dim,
        distribution.patch_sizes,
        seed=params.seed,
        hidden=config.width,
    )
    generator = torch.Generator().manual_seed(params.seed + 1)
    rows = []
    if 0 in config.checkpoints:
        rows += _measure(model, params.model, distribution, config, 0, generator)

    def callback(info) -> None:
        if info.step in config.checkpoints:
            rows.extend(_measure(info.model, params.model, distribution, config, info.step, generator))

    train_config = config.diffusion.train_config(config.train, seed=params.seed, device=device)
    result = train(model, distribution, train_config, callback=callback)
    return {"seed": params.seed, "model": params.model, "rows": rows, "losses": result.losses}


def _label(result: dict, row: dict) -> str:
    stage = "joint" if row["stage"] == "joint" else f"stage {row['stage']}"
    return f"{result['model']} seed {result['seed']} step {row['step']} t={row['t']:g} {stage}"


def aggregate(config: Config, results: list[dict]) -> Outcome:
    checks, metrics, curves = [], {}, []
    for result in results:
        for row in result["rows"]:
            checks.append(
                check(
                    f"{_label(result, row)}: loss - constant - s_t^2 score error == 0",
                    row["difference"],
                    0.0,
                    "==",
                    MARGIN_SE * row["difference_se"],
                )
            )
        losses = torch.tensor(result["losses"], dtype=torch.float64)
        every = max(1, len(losses) // 200)
        curves.append(
            {
                "model": result["model"],
                "seed": result["seed"],
                "steps": list(range(1, len(losses) + 1, every)),
                "loss": losses[::every].tolist(),
            }
        )
    final = config.checkpoints[-1]
    for model in MODELS:
        finals = [r for res in results if res["model"] == model for r in res["rows"] if r["step"] == final]
        for t in config.times:
            for stage in sorted({r["stage"] for r in finals}, key=str):
                values = [r["score_error"] for r in finals if r["t"] == t and r["stage"] == stage]
                ses = [r["score_error_se"] for r in finals if r["t"] == t and r["stage"] == stage]
                metrics[f"score_error_{model}_{stage}_t{t:g}"] = metric(
                    sum(values) / len(values),
                    "squared score units",
                    f"exact score error at step {final}, mean over {len(values)} seeds",
                    stderr=math.sqrt(sum(s * s for s in ses)) / len(ses),
                )
    worst = max(abs(c["lhs"]) / max(c["margin"] / MARGIN_SE, 1e-300) for c in checks)
    metrics["max_abs_difference_in_se"] = metric(worst, "standard errors", "max |difference| / se")
    held = sum(c["holds"] for c in checks)
    rows = [dict(r, model=res["model"], seed=res["seed"]) for res in results for r in res["rows"]]
    t0 = config.times[0]
    ar_final = [
        v["value"]
        for key, v in metrics.items()
        if key.startswith("score_error_ar_") and key.endswith(f"_t{t0:g}")
    ]
    ddpm_final = metrics[f"score_error_ddpm_joint_t{t0:g}"]["value"]
    return Outcome(
        metrics=metrics,
        checks=checks,
        series={
            "rows": rows,
            "curves": curves,
            "s2": {f"{t:g}": ou_variance(t) for t in config.times},
            "margin_se": MARGIN_SE,
        },
        summary={
            "measured": (
                f"identity holds in {held}/{len(checks)} (checkpoint, t, stage) cells, max |diff| "
                f"{worst:.1f} se; final score error at t={t0:g}: AR stages "
                + ", ".join(f"{v:.3g}" for v in ar_final)
                + f" vs DDPM joint {ddpm_final:.3g}"
            ),
            "bound": "loss(t) - constant(t) = s_t^2 score_error(t) (exact identity, 5 se)",
        },
    )


PROFILES = {
    "quick": Config(
        train=TrainSpec(steps=150, batch=128, lr=2e-3),
        checkpoints=(0, 30, 150),
        times=(0.05, 0.5),
        draws=2048,
    ),
    "default": Config(
        train=TrainSpec(steps=1500, batch=256, lr=2e-3),
        width=96,
        checkpoints=(0, 50, 200, 600, 1500),
        seeds=3,
    ),
    "full": Config(
        preset="embedded_pair",
        train=TrainSpec(steps=20000, batch=1024, lr=1e-3),
        width=256,
        checkpoints=(0, 100, 1000, 5000, 20000),
        times=(0.02, 0.1, 0.5, 2.0),
        draws=16384,
        seeds=4,
    ),
}


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 1.0, "default": 25.0, "full": 600.0},
)
