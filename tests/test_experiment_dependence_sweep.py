"""Claim 4 experiment: a small run's guaranteed checks and record schema, the cells it plans, and
the mutual information it reports against an independent oracle (scipy quadrature)."""

import pytest
import torch
from scipy import integrate

from figures import render
from verify.experiments import dependence_sweep
from verify.experiments.trained_pair import PairSpec

SMALL = dependence_sweep.Config(
    strengths=(0.0, 0.9),
    dims=(1, 3),
    seeds=2,
    spec=PairSpec(ar_hidden=12, steps=30, batch=128),
    grid_steps=12,
    nodes=96,
    draws=256,
)


def test_small_run_has_a_valid_record_whose_checks_all_hold(tmp_path, quick_record):
    record = quick_record(dependence_sweep, SMALL)
    assert record["checks"] and all(c["holds"] for c in record["checks"]), record["checks"]
    # per strength: MI sign + 3 grid checks per model; per p: MI sign
    assert len(record["checks"]) == 2 * (1 + 3 * 2) + 2
    strength, dim = record["series"]["strength"], record["series"]["dim"]
    assert strength["strength"] == [0.0, 0.9] and dim["p"] == [1, 3]
    assert len(strength["gap_average_kl"]) == 2 and all(
        s is not None for s in strength["gap_average_kl_stderr"]
    )
    assert abs(strength["mi"][0]) < 1e-9 < strength["mi"][1]
    assert render(record, tmp_path / "figures") == [
        "figures/dependence_sweep.png",
        "figures/dependence_sweep.pdf",
    ]


def test_cells_plan_one_truth_cell_per_setting_and_seeded_training_cells():
    cells = dependence_sweep.cells(SMALL, seed=2)
    assert len(cells) == 4 * (1 + 2 * 2) and len({c.key for c in cells}) == len(cells)
    truth = [c for c in cells if c.params.model == "truth"]
    assert len(truth) == 4
    assert {c.params.seed for c in cells} == {2000, 2001}
    assert {(c.params.axis, c.params.p) for c in cells if c.params.axis == "dim"} == {("dim", 1), ("dim", 3)}


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^strengths:"):
        dependence_sweep.Config(strengths=(0.5, 1.0))
    with pytest.raises(ValueError, match="^dims:"):
        dependence_sweep.Config(dims=(0, 4))
    with pytest.raises(ValueError, match="^draws:"):
        dependence_sweep.Config(draws=1)
    with pytest.raises(ValueError, match="^noise:"):
        dependence_sweep.Config(noise=0.0)


def test_truth_cell_mutual_information_matches_quadrature():
    """I(x1; x2) = int int q log(q / (q1 q2)) by Simpson's rule (scipy) on a fine box around the
    dependent pair, against the cell's Monte Carlo estimate (within 4 standard errors)."""
    cell = next(
        c
        for c in dependence_sweep.cells(SMALL, seed=0)
        if c.params.model == "truth" and c.params.strength == 0.9
    )
    result = dependence_sweep.run_cell(cell.params, "cpu")
    dist = dependence_sweep.target(cell.params)
    x1 = torch.linspace(-4.5, 5.0, 1201, dtype=torch.float64)
    x2 = torch.linspace(-4.5, 6.0, 1301, dtype=torch.float64)
    mesh = torch.stack(torch.meshgrid(x1, x2, indexing="ij"), dim=-1).reshape(-1, 2)
    log_joint = dist.log_prob(mesh)
    log_product = dist.marginal(0).log_prob(mesh[:, :1]) + dist.marginal(1).log_prob(mesh[:, 1:])
    integrand = (log_joint.exp() * (log_joint - log_product)).reshape(len(x1), len(x2)).numpy()
    exact = integrate.simpson(integrate.simpson(integrand, x=x2.numpy(), axis=1), x=x1.numpy())
    assert result["mi"] == pytest.approx(exact, abs=4 * result["mi_stderr"])
    assert result["mi_stderr"] < 0.02


@pytest.mark.slow
def test_quick_profile_checks_hold(quick_record):
    record = quick_record(dependence_sweep, dependence_sweep.PROFILES["quick"])
    assert all(c["holds"] for c in record["checks"]), record["checks"]
