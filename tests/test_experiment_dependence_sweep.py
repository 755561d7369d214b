"""Claim 4 experiment: a small run's guaranteed checks, record schema and verdicts, the cells it
plans, and the mutual information it reports against an independent oracle (scipy quadrature)."""

import pytest
import torch
from scipy import integrate

from figures import render
from verify.experiments import dependence_sweep
from verify.pair import PairSpec
from verify.spec import DiffusionSpec, TrainSpec

SMALL = dependence_sweep.Config(
    strengths=(0.0, 0.9),
    seeds=2,
    spec=PairSpec(width=12, train=TrainSpec(steps=30, batch=64, lr=2e-3), diffusion=DiffusionSpec(steps=12)),
    nodes=64,
    draws=4096,
)


def test_small_run_has_a_valid_record_whose_checks_all_hold(tmp_path, quick_record):
    record = quick_record(dependence_sweep, SMALL)
    assert record["checks"] and all(c["holds"] for c in record["checks"]), record["checks"]
    # MI sign per strength + 3 grid checks per (target, model): 1 target at r = 0, 2 at r = 0.9
    assert len(record["checks"]) == 2 + 3 * 2 * (1 + 2)
    series = record["series"]
    assert series["strength"] == [0.0, 0.9] and abs(series["mi"][0]) < 1e-9 < series["mi"][1]
    kinds = [v["kind"] for v in record["verdicts"]]
    assert kinds == ["equivalence"] * 3 + ["superiority"] * 3
    assert render(record, tmp_path / "figures") == [
        "figures/dependence_sweep.png",
        "figures/dependence_sweep.pdf",
    ]


def test_cells_plan_a_truth_cell_per_strength_and_controls_only_where_dependent():
    cells = dependence_sweep.cells(SMALL, seed=0)
    truth = [c for c in cells if c.params.model == "truth"]
    assert [c.params.strength for c in truth] == [0.0, 0.9]
    controls = {c.params.strength for c in cells if c.params.target == "control"}
    assert controls == {0.9}
    assert len(cells) == 2 + 2 * 2 + 2 * 2 * 2 and len({c.key for c in cells}) == len(cells)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^strengths:"):
        dependence_sweep.Config(strengths=(0.5, 0.9))
    with pytest.raises(ValueError, match="^seeds:"):
        dependence_sweep.Config(seeds=1)
    with pytest.raises(ValueError, match="^draws:"):
        dependence_sweep.Config(draws=0)
    with pytest.raises(ValueError, match="^target:"):
        dependence_sweep.target("neither", 0.5)


def test_truth_cell_mutual_information_matches_quadrature():
    """I(x1; x2) = int int q log(q / (q1 q2)) by Simpson's rule (scipy) on a fine box around the
    dependent pair, against the cell's Monte Carlo estimate (within 4 standard errors)."""
    cell = next(
        c
        for c in dependence_sweep.cells(SMALL, seed=0)
        if c.params.model == "truth" and c.params.strength == 0.9
    )
    result = dependence_sweep.run_cell(cell.params, "cpu")
    dist = dependence_sweep.target("dependent", 0.9)
    x1 = torch.linspace(-4.5, 5.0, 1201, dtype=torch.float64)
    x2 = torch.linspace(-4.5, 6.0, 1301, dtype=torch.float64)
    mesh = torch.stack(torch.meshgrid(x1, x2, indexing="ij"), dim=-1).reshape(-1, 2)
    log_joint = dist.log_prob(mesh)
    log_product = dist.marginal(0).log_prob(mesh[:, :1]) + dist.marginal(1).log_prob(mesh[:, 1:])
    integrand = (log_joint.exp() * (log_joint - log_product)).reshape(len(x1), len(x2)).numpy()
    exact = integrate.simpson(integrate.simpson(integrand, x=x2.numpy(), axis=1), x=x1.numpy())
    assert result["mi"] == pytest.approx(exact, abs=4 * result["mi_stderr"])
    assert result["mi_stderr"] < 0.03


@pytest.mark.slow
def test_quick_profile_checks_hold(quick_record):
    record = quick_record(dependence_sweep, dependence_sweep.PROFILES["quick"])
    assert all(c["holds"] for c in record["checks"]), record["checks"]
