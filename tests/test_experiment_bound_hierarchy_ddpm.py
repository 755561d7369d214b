"""Claim 1 experiment: every guaranteed check of a small sweep holds, the record is valid, and the
pieces it builds on agree with independent oracles (closed-form Gaussian KL, scipy quadrature)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from figures import render
from verify.experiments import bound_hierarchy_ddpm as experiment
from verify.grids import by_name
from verify.spec import TrainSpec

SMALL = experiment.Config(
    settings=(("gauss8", "perturbed"), ("mixture2", "perturbed"), ("gauss2", "learned")),
    steps=(8, 16),
    draws=400,
    nodes=64,
    train=TrainSpec(steps=40, batch=256, lr=3e-3, ema_decay=0.99),
    width=16,
)


@pytest.fixture(scope="module")
def outcome():
    results = [experiment.run_cell(cell.params, "cpu") for cell in experiment.cells(SMALL, 3)]
    return results, experiment.aggregate(SMALL, results)


def test_every_hierarchy_check_holds(outcome):
    results, out = outcome
    assert out.checks and all(c["holds"] for c in out.checks), [c for c in out.checks if not c["holds"]]
    # three links per N for every setting whose gap is available (all three here: d <= 2 or affine)
    assert len(out.checks) == 3 * len(SMALL.steps) * len(SMALL.settings)
    assert [r["rows"][0]["method"] for r in results] == ["gaussian (TV: upper bound)", "grid", "grid"]


def test_exact_gaussian_gap_against_scipy_in_one_dimension():
    """d = 1 target, biased score: the recursion's KL against scipy quadrature of the two normals."""
    from synthetic.gaussian_mixture import GaussianMixture

    target = GaussianMixture([1.0], [[2.0]], [[[0.25]]])
    config = experiment.Config(settings=(("gauss2", "perturbed"),), steps=(4, 8), perturbation=0.3)
    score, affine = experiment.build_score(target, "perturbed", config, 0, "cpu")
    grid = by_name("uniform", 3.0, 40, 0.01)
    gap = experiment.exact_gap(target, score, affine, grid, config)
    # the sampler law by hand: scalar mean/variance recursion with s(y, t) = -(y - a m)/C + 0.3
    mean, var = 0.0, 1.0
    times = grid.tolist()
    for hi, lo in zip(times[:-1], times[1:], strict=True):
        h, a = hi - lo, math.exp(-hi)
        c = a**2 * 0.25 + 1 - a**2
        gain = math.exp(h) - 2 * math.expm1(h) / c
        mean = gain * mean + 2 * math.expm1(h) * (a * 2.0 / c + 0.3)
        var = gain**2 * var + math.expm1(2 * h)
    a = math.exp(-0.01)
    q, p = stats.norm(a * 2.0, math.sqrt(a**2 * 0.25 + 1 - a**2)), stats.norm(mean, math.sqrt(var))
    kl, _ = integrate.quad(lambda x: q.pdf(x) * (q.logpdf(x) - p.logpdf(x)), -10, 14, limit=200)
    assert gap["gap"] == pytest.approx(kl, rel=1e-7)
    assert gap["gap"] == pytest.approx(0.102, abs=5e-4)  # docs/math.md section 5 sanity value


def test_fitted_constant_recovers_a_known_scale():
    shapes = np.array([1.0, 0.5, 0.25])
    fit = experiment.fitted_form(3.0 * shapes, shapes)
    assert fit["C"] == pytest.approx(3.0) and np.allclose(fit["ratios"], 1.0)
    assert math.isnan(experiment.fitted_form([1.0, -1.0], [1.0, 1.0])["C"])


def test_record_schema_through_the_runner_and_its_figure(quick_record, tmp_path):
    tiny = experiment.Config(settings=(("gauss2", "exact"),), steps=(4, 8), draws=50)
    record = quick_record(experiment, tiny)
    assert all(c["holds"] for c in record["checks"])
    assert render(record, tmp_path / "figures") == [f"figures/{experiment.NAME}.{x}" for x in ("png", "pdf")]
    # an unavailable gap as a record read back from JSON holds it: NaN written as "nan"
    setting = record["series"]["settings"][0]
    nan = ["nan"] * len(tiny.steps)
    setting.update(gap=nan, gap_err=nan, benton_C="nan", benton_fit=nan, method="unavailable")
    assert render(record, tmp_path / "unavailable")


@pytest.mark.parametrize(
    "field, value",
    [
        ("settings", (("gauss3", "exact"),)),
        ("steps", (8,)),
        ("grid", "ddpm"),
        ("scheme", "ancestral"),
        ("delta", 5.0),
        ("sub_steps", 6),
        ("nodes", 4),
        ("width", 0),
        ("train", 40),
    ],
)
def test_config_rejects_bad_fields(field, value):
    kwargs = {"settings": (("gauss2", "exact"),), "steps": (4, 8), field: value}
    with pytest.raises(ValueError, match=f"^{field}"):
        experiment.Config(**kwargs)


def test_quick_profile_is_valid():
    assert torch.is_tensor(by_name("exponential_linear", 3.0, 8, 0.02))
    for config in experiment.PROFILES.values():
        assert experiment.cells(config, 0)
