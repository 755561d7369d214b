"""rule_learning end to end on a tiny config: guaranteed checks hold, the record is valid, models
of one trained seed are paired, and the declared comparisons end in verdicts."""

import dataclasses

import numpy as np
import pytest
import torch

from verify import grids
from verify.experiments import load
from verify.experiments.rule_learning import DESIGN, Config, _finite_rows, aggregate
from verify.records import to_jsonable, validate_record, versions
from verify.samplers import sample
from verify.spec import DiffusionSpec, TrainSpec

TINY = {
    "tasks": ("two-squares",),
    "image_tasks": ("two-squares",),
    "train": TrainSpec(steps=5, batch=16, lr=2e-3, ema_decay=0.99),
    "image_train": TrainSpec(steps=3, batch=8, lr=2e-3, ema_decay=0.99),
    "diffusion": DiffusionSpec(T=4.0, delta=1e-2, steps=4, denoise=True),
    "draws": 30,
    "image_draws": 20,
    "nodes": 32,
    "truth_nodes": 40,
    "primary": (("two-squares", "parametric"),),
}


@pytest.mark.slow
def test_tiny_config_checks_hold():
    experiment = load("rule_learning")
    config = dataclasses.replace(experiment.profiles["quick"], **TINY)
    cells = experiment.cells(config, 0)
    results = [experiment.run_cell(cell.params, "cpu") for cell in cells]
    outcome = experiment.aggregate(config, results)
    assert outcome.checks and all(item["holds"] for item in outcome.checks)
    record = {
        "experiment": experiment.name,
        "claim": experiment.claim,
        "profile": "test",
        "config": to_jsonable(dataclasses.asdict(config)),
        "config_hash": "x",
        "seeds": {"root": 0},
        "versions": versions("cpu"),
        "metrics": outcome.metrics,
        "checks": outcome.checks,
        "series": to_jsonable(outcome.series),
        "summary": outcome.summary,
        "verdicts": outcome.verdicts,
        "elapsed_s": 0.0,
    }
    validate_record(record)
    assert {"measured", "bound"} <= set(outcome.summary)
    assert "Tweedie" in outcome.series["output"]
    for group in outcome.series["groups"]:
        assert group["seeds"] == 2 and 0.0 <= group["detect_rate"] <= 1.0


def test_cells_pair_the_models_of_each_seed():
    config = dataclasses.replace(Config(), **TINY)
    cells = load("rule_learning").cells(config, 3)
    by_run = {}
    for cell in cells:
        p = cell.params
        by_run.setdefault((p.task, p.form, p.seed), set()).add(p.model)
    assert all(set(DESIGN) <= models for models in by_run.values())
    parametric = {seed for task, form, seed in by_run if form == "parametric"}
    assert len(parametric) == config.seeds


def test_default_profile_declares_the_seed_counts():
    default = load("rule_learning").profiles["default"]
    assert default.seeds >= 5 and default.image_seeds >= 3
    assert len(default.primary) * 2.0**-default.seeds <= 0.05  # the primary family can reach 5%
    assert load("rule_learning").profiles["full"].draws >= 2000


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seeds", 1),
        ("margin", 0.0),
        ("tasks", ("nope",)),
        ("image_tasks", ("sun-shadow-clip",)),
        ("draws", 5),
        ("diffusion", DiffusionSpec(denoise=False)),
        ("train", 400),
        ("primary", (("two-squares", "image"),)),
    ],
)
def test_bad_input_names_the_parameter(field, value):
    with pytest.raises(ValueError, match=field):
        Config(**{field: value})


def _row(model, seed, total):
    fit = {"slope": 1.0, "intercept": 0.0, "bias": total / 2, "variance": total / 2, "total": total}
    return {
        "task": "sun-shadow",
        "form": "parametric",
        "model": model,
        "seed": seed,
        "u": [],
        "v": [],
        "samples": 10,
        "detect_rate": 1.0,
        **fit,
    }


def test_verdicts_use_the_declared_paired_differences():
    """Hand-made per-seed sum errors: the factorisation effect is the mean over seeds of
    ((J_T - A_T) + (J_M - A_M)) / 2, the only primary endpoint, at the config's margin."""
    totals = {
        "joint-transformer": [0.30, 0.35, 0.32],
        "ar-transformer": [0.10, 0.12, 0.16],
        "joint-mlp": [0.50, 0.40, 0.45],
        "ar-mlp": [0.20, 0.22, 0.21],
    }
    results = [_row(m, seed, v) for m, values in totals.items() for seed, v in enumerate(values)]
    config = Config(tasks=("sun-shadow",), forms=("parametric",), primary=(("sun-shadow", "parametric"),))
    outcome = aggregate(config, results)
    by_endpoint = {v["endpoint"]: v for v in outcome.verdicts}
    main = by_endpoint["sun-shadow parametric/factorisation"]
    t = {m: np.array(v) for m, v in totals.items()}
    expected = ((t["joint-transformer"] - t["ar-transformer"] + t["joint-mlp"] - t["ar-mlp"]) / 2).mean()
    assert main["primary"] and main["estimate"] == pytest.approx(expected)
    assert main["margin"] == config.margin and main["n"] == 3
    assert [v["endpoint"] for v in outcome.verdicts if v["primary"]] == [
        "sun-shadow parametric/factorisation"
    ]
    paper = by_endpoint["sun-shadow parametric/paper"]
    assert paper["estimate"] == pytest.approx((t["joint-mlp"] - t["ar-transformer"]).mean())


def test_a_diverged_chain_fails_only_its_own_row():
    """A score that is NaN on row 1 flags that row; the sampler runs on for the others."""
    diverged = torch.zeros(4, dtype=torch.bool)

    def score(x, t):
        out = -x.clone()
        out[1] = float("nan")
        return out

    x = sample(_finite_rows(score, diverged), grids.uniform(2.0, 5, 0.01), 4, 3, generator=torch.Generator())
    assert diverged.tolist() == [False, True, False, False]
    assert torch.isfinite(x).all()
