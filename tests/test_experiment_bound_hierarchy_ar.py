"""Claim 2 experiment: chain rule and per-stage hierarchy checks of a small sweep hold, the record is
valid, and the AR target law p_AR it builds agrees with an independent Monte Carlo oracle."""

import math

import pytest
import torch

from verify.executor import LocalExecutor
from verify.experiments import bound_hierarchy_ar as experiment
from verify.metrics.init_kl import sample_ar_target
from verify.records import validate_record
from verify.runner import plan, run

SMALL = experiment.Config(
    settings=(("chain", "perturbed"), ("pair", "perturbed")),
    steps=(8, 16),
    draws=400,
    grid_nodes=(64, 128),
    K=3,
)


@pytest.fixture(scope="module")
def outcome():
    results = [experiment.run_cell(cell.params, "cpu") for cell in experiment.cells(SMALL, 5)]
    return results, experiment.aggregate(SMALL, results)


def test_every_check_holds(outcome):
    _, out = outcome
    assert all(c["holds"] for c in out.checks), [c for c in out.checks if not c["holds"]]
    rule = [c for c in out.checks if "sum_k stage gap == joint KL" in c["name"]]
    assert len(rule) == len(SMALL.steps) * len(SMALL.settings)
    # per N and setting: one chain-rule check, 3 links for each of the K stages and for the joint
    per_n = (1 + 3 * (SMALL.K + 1)) + (1 + 3 * (2 + 1))  # chain (K patches), pair (2 patches)
    assert len(out.checks) == len(SMALL.steps) * per_n


def test_chain_rule_to_round_off_for_gaussians(outcome):
    results, _ = outcome
    for row in results[0]["rows"]:
        assert sum(row["stage_gap"]) == pytest.approx(row["joint_gap"], abs=1e-10)
        assert all(g > 0 for g in row["stage_gap"])


def test_ar_target_law_matches_monte_carlo():
    """Moments of p_AR drawn patch by patch (verify.metrics.init_kl) against the stacked law."""
    target = experiment.build_target("chain", SMALL)
    delta, n = 0.3, 200_000
    mean, cov = experiment.ar_target_gaussian(target.mean(), target.covariance(), target.patch_sizes, delta)
    x = sample_ar_target(target, [delta] * target.num_patches, n, torch.Generator().manual_seed(0))
    se_mean = (cov.diagonal() / n).sqrt()
    assert ((x.mean(0) - mean).abs() <= 5 * se_mean).all()
    centred = x - x.mean(0)
    sample_cov = centred.T @ centred / (n - 1)
    se_cov = ((cov.diagonal()[:, None] * cov.diagonal()[None, :] + cov**2) / n).sqrt()
    assert ((sample_cov - cov).abs() <= 5 * se_cov).all()


def test_ar_target_law_closed_form_two_patches():
    """K = 2 one-dimensional patches by hand: x1 ~ N(a m1, a^2 S11 + s^2), x2 | x1 regression."""
    mean = torch.tensor([1.0, -0.5], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.8], [0.8, 1.5]], dtype=torch.float64)
    delta = 0.2
    a, s2 = math.exp(-delta), -math.expm1(-2 * delta)
    g = 0.8 / 1.0
    v1 = a**2 + s2
    expected_cov = torch.tensor(
        [[v1, a * g * v1], [a * g * v1, (a * g) ** 2 * v1 + a**2 * (1.5 - g * 0.8) + s2]], dtype=torch.float64
    )
    m1 = a * 1.0
    expected_mean = torch.tensor([m1, a * (g * m1 - 0.5 - g * 1.0)], dtype=torch.float64)
    got_mean, got_cov = experiment.ar_target_gaussian(mean, cov, (1, 1), delta)
    assert torch.allclose(got_mean, expected_mean, atol=1e-14)
    assert torch.allclose(got_cov, expected_cov, atol=1e-14)


def test_record_schema_through_the_runner(tmp_path, monkeypatch):
    tiny = experiment.Config(settings=(("chain", "exact"),), steps=(4, 8), draws=50, K=2)
    monkeypatch.setitem(experiment.EXPERIMENT.profiles, "quick", tiny)
    items = plan([experiment.NAME], "quick", 0, "cpu", tmp_path)
    records, failures = run(
        items,
        profile="quick",
        seed=0,
        device="cpu",
        out=tmp_path,
        executor=LocalExecutor(1),
        log=lambda *_: None,
    )
    assert failures == {} and len(records) == 1
    validate_record(records[0])
    assert all(c["holds"] for c in records[0]["checks"])


@pytest.mark.parametrize(
    "field, value", [("settings", (("chain", "learned"),)), ("K", 0), ("rho", 1.0), ("strength", -0.1)]
)
def test_config_rejects_bad_fields(field, value):
    kwargs = {"settings": (("chain", "exact"),), "steps": (4, 8), field: value}
    with pytest.raises(ValueError, match=f"^{field}"):
        experiment.Config(**kwargs)
