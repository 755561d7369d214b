"""Claim 3 experiment and its shared trained_pair routine: a small run's guaranteed checks and
record schema, and oracles for the pieces (exact scores, brute-force width matching, scipy)."""

import math

import pytest
import torch
from scipy import stats

from figures import render
from verify import grids
from verify.experiments import conditional_gap
from verify.experiments.trained_pair import (
    PairSpec,
    across_seeds,
    grid_gaps,
    hidden_width,
    score_errors,
    train_model,
)
from verify.models import build_model, count_parameters

SMALL = conditional_gap.Config(
    seeds=2, spec=PairSpec(ar_hidden=16, steps=40, batch=128), grid_steps=16, nodes=96
)


def test_small_run_has_a_valid_record_whose_checks_all_hold(tmp_path, quick_record):
    record = quick_record(conditional_gap, SMALL)
    assert record["checks"] and all(c["holds"] for c in record["checks"]), record["checks"]
    assert len(record["checks"]) == 12  # 3 guaranteed relations x 2 targets x 2 models
    metrics = record["metrics"]
    for target in conditional_gap.TARGETS:
        # matched parameter counts: within 2% of each other
        counts = [metrics[f"{target}_{m}_parameters"]["value"] for m in conditional_gap.MODELS]
        assert abs(counts[0] - counts[1]) <= 0.02 * counts[1]
        for model in conditional_gap.MODELS:
            average = metrics[f"{target}_{model}_average_kl"]
            assert average["value"] >= 0 and average["ci"][0] <= average["value"] <= average["ci"][1]
    assert set(record["summary"]) == {"measured", "bound"}
    assert render(record, tmp_path / "figures") == [
        "figures/conditional_gap.png",
        "figures/conditional_gap.pdf",
    ]


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^strength:"):
        conditional_gap.Config(strength=1.0)
    with pytest.raises(ValueError, match="^box:"):
        conditional_gap.Config(box=4.0)
    with pytest.raises(ValueError, match="^steps:"):
        PairSpec(steps=0)
    with pytest.raises(ValueError, match="^target:"):
        conditional_gap.target("neither", 0.5)


def test_cells_cover_target_model_seed_with_distinct_derived_seeds():
    cells = conditional_gap.cells(SMALL, seed=7)
    assert len(cells) == 2 * 2 * 2 and len({c.key for c in cells}) == 8
    assert {c.params.seed for c in cells} == {7000, 7001}


def test_ddpm_width_is_the_brute_force_closest_parameter_count():
    spec = PairSpec(ar_hidden=24, depth=2)
    for dim, sizes in ((2, (1, 1)), (16, (8, 8))):
        target = count_parameters(build_model("conditional-mlp", dim, sizes, hidden=24, depth=2))
        errors = {
            h: abs(count_parameters(build_model("mlp", dim, hidden=h, depth=2)) - target)
            for h in range(1, 80)
        }
        assert errors[hidden_width("ddpm", spec, dim, sizes)] == min(errors.values())
        assert hidden_width("ar", spec, dim, sizes) == 24


def test_exact_scores_on_independent_patches_give_identical_ddpm_and_ar_laws():
    """On a product target the exact joint score is (s_1(x1), s_2(x2)), so the DDPM sampler is the
    product of the two 1-D samplers, which is the AR-DM sampler with exact conditional scores: the
    grid laws coincide (the deposit and the diffusion are separable). The conditional curves then
    differ only by the grid's conventions for mass lost off the box (DDPM rows renormalised,
    AR-DM rows not), by log(1 - lost) <= 2 lost; 40 steps lose ~6e-7. The two runs prune slightly
    different negligible masses (< 1e-12, see verify.exact.grid_law.PRUNE)."""
    target = conditional_gap.target("independent", 0.9)
    grid = grids.exponential_linear(4.0, 40, 1e-3)
    ddpm = grid_gaps("ddpm", target.score, target, grid, 96, 6.5, 0.99)
    ar = grid_gaps("ar", target.conditional_score, target, grid, 96, 6.5, 0.99)
    for key in ("joint_kl", "joint_tv", "mass_lost"):
        assert ddpm[key] == pytest.approx(ar[key], rel=1e-9, abs=1e-12), key
    lost = 2 * ar["mass_lost"]
    assert 0 < lost < 1e-5
    for key in ("average_kl", "worst_kl", "average_tv", "worst_tv"):
        assert ddpm[key] == pytest.approx(ar[key], abs=lost), key
    region = torch.tensor(ar["region"])
    curves = [torch.tensor(law["kl"])[region] for law in (ddpm, ar)]
    torch.testing.assert_close(*curves, rtol=0, atol=lost)
    assert 0 <= ddpm["average_kl"] <= ddpm["joint_kl"]


@pytest.mark.parametrize("model", ["ddpm", "ar"])
def test_score_errors_of_a_shifted_exact_score_are_the_closed_form(model):
    """s = grad log q + c (c per patch) has error ||c_k||^2 on patch k at every t, so the integrated
    error is (T - delta) ||c_k||^2 with zero variance."""
    target = conditional_gap.target("dependent", 0.8)
    shift = torch.tensor([0.3, -0.5], dtype=torch.float64)
    if model == "ddpm":

        def score(x, t):
            return target.score(x, t) + shift

    else:

        def score(k, x_k, prefix, t):
            return target.conditional_score(k, x_k, prefix, t) + shift[k]

    grid = grids.uniform(2.0, 5, 0.01)
    errors = score_errors(model, score, target, grid, 64, torch.Generator().manual_seed(0))
    expected = [(2.0 - 0.01) * c**2 for c in shift.tolist()]
    assert errors["stages"] == pytest.approx(expected, rel=1e-12)
    assert errors["total"] == pytest.approx(sum(expected), rel=1e-12)
    assert errors["stderr"] == pytest.approx([0.0, 0.0], abs=1e-12)


def test_across_seeds_matches_scipy_t_interval():
    values = [0.3, 0.7, 0.45, 0.52]
    out = across_seeds(values)
    mean, sem = sum(values) / 4, stats.sem(values)
    low, high = stats.t.interval(0.95, 3, loc=mean, scale=sem)
    assert out["value"] == pytest.approx(mean) and out["stderr"] == pytest.approx(sem)
    assert out["ci"] == pytest.approx((low, high))
    assert across_seeds([1.5]) == {"value": 1.5, "stderr": None, "ci": None}


def test_train_model_is_reproducible_and_returns_its_parameter_count():
    target = conditional_gap.target("dependent", 0.9)
    spec = PairSpec(ar_hidden=8, depth=1, steps=3, batch=16)
    first, count = train_model("ar", target, spec, seed=3)
    second, _ = train_model("ar", target, spec, seed=3)
    assert count == sum(p.numel() for p in first.parameters()) == 473  # (53 + 1) 8 + 9 + 32
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert all(math.isfinite(float(p.abs().sum())) for p in first.parameters())


@pytest.mark.gpu
def test_device_is_honoured_for_the_networks():
    target = conditional_gap.target("dependent", 0.9)
    network, _ = train_model("ddpm", target, PairSpec(ar_hidden=8, steps=2, batch=16), seed=0, device="cuda")
    assert next(network.parameters()).device.type == "cuda"


@pytest.mark.slow
def test_quick_profile_checks_hold(quick_record):
    record = quick_record(conditional_gap, conditional_gap.PROFILES["quick"])
    assert all(c["holds"] for c in record["checks"]), record["checks"]
