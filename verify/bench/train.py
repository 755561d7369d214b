"""Training acceptance (issue 3): the DDPM ("mlp") and AR-DM ("conditional-mlp") networks of
`verify.pair` on the dependent_pair preset, each trained within a 2-minute CPU budget and again
with 4x the steps.

Measured: the exact integrated score error of each EMA network on one fixed grid (docs/math.md
section 5), eps_score^2 = sum_j h_j E||s - grad log q_{t_j}||^2 with its Monte Carlo standard
error: the joint score for DDPM, the sum over stages k of the conditional error on true clean
prefixes for AR-DM. Every evaluation uses the same draws (seed EVAL_SEED), so short and long runs
are compared on the same points. Target: short / long <= 2 for each model. The ratio's error bar
treats the two estimates as independent (it overstates the error of these positively
correlated estimates). Wall times are training only (evaluations at the curve checkpoints are
timed and subtracted) with one torch thread; the machine's load is printed alongside.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from synthetic.presets import make
from verify.grids import exponential_linear
from verify.models import build_model, count_parameters
from verify.pair import SIDES, PairSpec, matched_width
from verify.train import Estimate, TrainConfig, integrated_score_error, train

PRESET = "dependent_pair"
PAIR = PairSpec(width=64)  # AR-DM width and depth; the DDPM width matches its parameter count
BUDGET_S, TARGET_RATIO, LONG_FACTOR = 120.0, 2.0, 4
SETTINGS = {"steps": 8000, "batch": 1024, "lr": 1e-2, "lr_schedule": "cosine", "warmup_steps": 200}
GRID = exponential_linear(4.0, 40, 1e-3)  # T = 4 and delta = 1e-3, as in TrainConfig's defaults
EVAL_N, EVAL_SEED = 4096, 1234
CURVE_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 1)


@dataclass
class Run:
    """One training run: its score-error curve [(step, Estimate)] (last = final) and wall time."""

    steps: int
    curve: list
    train_s: float


def networks(distribution) -> dict:
    """{"ddpm": network, "ar": network} of the pair (verify.pair), parameter counts matched."""
    return {
        model: build_model(
            side.network,
            distribution.dim,
            distribution.patch_sizes,
            seed=0,
            hidden=matched_width(model, PAIR, distribution),
            depth=PAIR.depth,
        )
        for model, side in SIDES.items()
    }


def score_error(model: str, network, distribution) -> Estimate:
    """eps_score^2 on GRID: joint (DDPM), or summed over AR-DM stages (independent draws)."""
    generator, side = torch.Generator().manual_seed(EVAL_SEED), SIDES[model]
    score = side.score(network)
    if not side.conditional:
        return integrated_score_error(score, distribution, GRID, EVAL_N, generator)
    stages = side.patch_errors(score, distribution, GRID, EVAL_N, generator)
    return Estimate(sum(e.value for e in stages), math.sqrt(sum(e.stderr**2 for e in stages)), EVAL_N)


def run(model: str, network, distribution, config: TrainConfig) -> Run:
    """Train `model`'s `network` under `config`, evaluating its EMA at CURVE_FRACTIONS of the steps."""
    marks = {max(1, round(f * config.steps)) for f in CURVE_FRACTIONS}
    curve, evaluating = [], [0.0]

    def checkpoint(info):
        if info.step in marks:
            began = time.perf_counter()
            curve.append((info.step, score_error(model, info.ema, distribution)))
            evaluating[0] += time.perf_counter() - began

    result = train(network, distribution, config, callback=checkpoint)
    return Run(config.steps, curve, result.elapsed_s - evaluating[0])


def ratio(short: Estimate, long: Estimate) -> tuple[float, float]:
    """short / long and its delta-method standard error for independent estimates."""
    value = short.value / long.value
    return value, value * math.hypot(short.stderr / short.value, long.stderr / long.value)


def _load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _show(e: Estimate) -> str:
    return f"{e.value:8.4g} +- {e.stderr:.2g}"


def main() -> None:
    distribution = make(PRESET)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        models = networks(distribution)
        counts = {name: count_parameters(net) for name, net in models.items()}
        print(f"{PRESET}, {SETTINGS}, EMA weights; grid exponential_linear(4, 40, 1e-3), n = {EVAL_N}")
        print(f"parameters {counts}; 1 torch thread; before: {_load()}")
        runs = {}
        for name in models:
            for factor in (1, LONG_FACTOR):
                config = TrainConfig(**{**SETTINGS, "steps": factor * SETTINGS["steps"]})
                runs[name, factor] = run(name, networks(distribution)[name], distribution, config)
        print(f"after: {_load()}")
    finally:
        torch.set_num_threads(threads)
    print(f"{'model':<16}{'steps':>7}{'wall s':>8}  {'eps_score^2 +- se':<20}")
    for (name, _), result in runs.items():
        print(f"{name:<16}{result.steps:>7}{result.train_s:>8.1f}  {_show(result.curve[-1][1])}")
    print(f"ratio short / long (target <= {TARGET_RATIO}, short run within {BUDGET_S:.0f} s):")
    for name in models:
        short, long = runs[name, 1], runs[name, LONG_FACTOR]
        value, stderr = ratio(short.curve[-1][1], long.curve[-1][1])
        meets = value <= TARGET_RATIO and short.train_s <= BUDGET_S
        print(f"  {name:<16}{value:6.3f} +- {stderr:.3f}  {'meets' if meets else 'MISSES'}")
    print("score-error curve (EMA) at checkpoints: step  eps_score^2 +- se")
    for (name, factor), result in runs.items():
        points = "  ".join(f"{step}: {_show(e).replace(' ', '')}" for step, e in result.curve)
        print(f"  {name:<16}x{factor}  {points}")
