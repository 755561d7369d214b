"""Claim 2 experiment: chain rule and per-stage hierarchy checks of a small sweep hold, the record is
valid (the AR target law p_AR it builds is tested in tests/test_gaussian_law.py)."""

import pytest

from figures import render
from verify.experiments import bound_hierarchy_ar as experiment

SMALL = experiment.Config(
    settings=(("chain", "perturbed"), ("pair", "perturbed")),
    steps=(8, 16),
    draws=400,
    nodes=64,
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


def test_record_schema_through_the_runner_and_its_figure(quick_record, tmp_path):
    tiny = experiment.Config(settings=(("chain", "exact"),), steps=(4, 8), draws=50, K=2)
    record = quick_record(experiment, tiny)
    assert all(c["holds"] for c in record["checks"])
    assert render(record, tmp_path / "figures") == [f"figures/{experiment.NAME}.{x}" for x in ("png", "pdf")]


@pytest.mark.parametrize(
    "field, value", [("settings", (("chain", "learned"),)), ("K", 0), ("rho", 1.0), ("strength", -0.1)]
)
def test_config_rejects_bad_fields(field, value):
    kwargs = {"settings": (("chain", "exact"),), "steps": (4, 8), field: value}
    with pytest.raises(ValueError, match=f"^{field}"):
        experiment.Config(**kwargs)
