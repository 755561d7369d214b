"""Claim 5 experiment: the step search, the AR-DM target p_AR,delta, stage KLs, the quick profile."""

import math

import pytest
import torch

from figures import render
from verify.cost import ALLOCATIONS, Problem
from verify.exact.gaussian_law import gaussian_ar_sampler_law
from verify.experiments import complexity
from verify.experiments.complexity import Config
from verify.grids import exponential_linear
from verify.metrics.gaussian import gaussian_kl


def test_ar_target_is_q_delta_for_independent_patches_and_for_one_patch():
    for K, p, rho in ((3, 2, 0.0), (1, 4, 0.9)):
        problem = Problem.chain(K, p, rho, delta=0.05, seed=1)
        torch.testing.assert_close(problem.ar_target.mean, problem.q_delta[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(problem.ar_target.cov, problem.q_delta[1], rtol=0, atol=1e-12)


def test_ar_target_differs_from_q_delta_for_dependent_patches():
    """p_AR,delta itself is checked against Monte Carlo in tests/test_gaussian_law.py."""
    problem = Problem.chain(3, 2, 0.9, delta=0.3, seed=2)
    assert (problem.ar_target.cov - problem.q_delta[1]).abs().max() > 0.05


def test_stage_kls_add_up_to_the_joint_kl():
    """Chain rule: sum_k stage KL (each computed with the other stages on one step) equals
    KL(p_AR,delta || p^_AR) of the full sampler with N_k steps in stage k."""
    problem = Problem.chain(3, 2, 0.9, delta=0.01, seed=0)
    T, steps = 2.0, (5, 9, 14)
    stages = sum(problem.stage_kl(k, T, n) for k, n in enumerate(steps))
    grids = [exponential_linear(T, n, 0.01) for n in steps]
    law = gaussian_ar_sampler_law(problem.gaussian.conditional_affine_score, problem.sizes, grids)
    joint = gaussian_kl(problem.ar_target.mean, problem.ar_target.cov, law.mean, law.cov)
    assert stages == pytest.approx(joint, rel=1e-8)


def test_one_patch_stage_kl_equals_ddpm_kl():
    problem = Problem.chain(1, 3, 0.5, delta=0.01, seed=0)
    for steps in (3, 20):
        assert problem.stage_kl(0, 2.5, steps) == pytest.approx(problem.ddpm_kl(2.5, steps), rel=1e-9)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"patch_counts": (3,)}, "patch_counts"),
        ({"eps": 1.5}, "eps"),
        ({"eps_values": (0.1,)}, "eps_values"),
        ({"rho": 1.0}, "rho"),
        ({"delta": 0.0}, "delta"),
        ({"patch_dims": (0,)}, "patch_dims"),
        ({"patchings": ((1, 2),)}, "patchings"),
        ({"rhos": (0.5,)}, "rhos"),
        ({"margin": 0.0}, "margin"),
    ],
)
def test_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def test_quick_profile_record_checks_hold_and_figure_draws(tmp_path, quick_record):
    record = quick_record(complexity)
    assert record["checks"] and all(c["holds"] for c in record["checks"]), [
        c for c in record["checks"] if not c["holds"]
    ]
    assert all(record["metrics"][f"ratio_{how}_K1"]["value"] == 1.0 for how in ALLOCATIONS)
    assert [v["endpoint"] for v in record["verdicts"] if v["primary"]] == [
        f"NFE, best allocation: {record['config']['moderate_slope']:g} - slope of log(AR/DDPM) on log K, "
        "range over targets"
    ]
    assert math.isfinite(record["metrics"]["slope_eps_ddpm"]["value"])
    files = render(record, tmp_path / "figures")
    assert all((tmp_path / f).exists() for f in files) and len(files) == 2


def test_cells_are_distinct_and_seeded():
    cells = complexity.cells(complexity.PROFILES["default"], 3)
    assert len({c.key for c in cells}) == len(cells)
    assert len({c.params.seed for c in cells}) == len(cells)
    assert {c.params.data_seed for c in cells} == {3}
    assert {c.params.rho for c in cells} == set(complexity.PROFILES["default"].rhos)
