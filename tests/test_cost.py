"""verify.cost: step searches and allocations against brute-force enumeration and closed-form KLs."""

import itertools
import math

import numpy as np
import pytest

from verify.cost import ALLOCATIONS, Problem, best_allocation, loglog_slope, moderate_growth, smallest_steps
from verify.exact.gaussian_law import gaussian_ar_sampler_law
from verify.grids import exponential_linear
from verify.metrics.gaussian import gaussian_kl
from verify.timing import best_time, interleaved_times, wall_times


def _brute_force(tables, budget):
    """min sum_k N_k over the enumerated grid with sum_k f_k(N_k) <= budget (tables[k][n - 1] = f_k(n))."""
    best = None
    for steps in itertools.product(*(range(1, len(t) + 1) for t in tables)):
        if sum(t[n - 1] for t, n in zip(tables, steps, strict=True)) <= budget:
            best = min(best or math.inf, sum(steps))
    assert best is not None, "enumeration range too small"
    return best


@pytest.mark.parametrize("budget", [0.3, 0.08])
def test_best_allocation_matches_enumeration_on_convex_stages(budget):
    f = [lambda n, a=a, p=p: a / n**p + 1e-3 for a, p in ((1.0, 1.0), (0.3, 2.0), (2.0, 1.5))]
    tables = [[fk(n) for n in range(1, 41)] for fk in f]
    start = [smallest_steps(fk, budget / 3, 10**4).steps for fk in f]
    found = best_allocation(f, budget, start, 10**4)
    assert found.nfe == _brute_force(tables, budget)
    assert found.kl_total <= budget < found.kl_total + found.removal
    assert found.transfer <= 0


def test_best_allocation_matches_enumeration_on_a_two_stage_gaussian():
    """The oracle: every (N_1, N_2) enumerated with the closed-form stage KLs; the stage KLs are
    themselves the chain-rule split of the closed-form joint KL (checked on the found allocation)."""
    problem = Problem.chain(2, 2, 0.9, delta=0.01, seed=0)
    eps = 0.2
    f = problem.stage_kls(eps)
    tables = [[fk(n) for n in range(1, 45)] for fk in f]
    found = problem.allocate(eps, "best", 10**4)
    assert found.nfe == _brute_force(tables, eps**2)
    grids = [exponential_linear(T, n, 0.01) for T, n in zip(problem.ar_t(eps), found.steps, strict=True)]
    law = gaussian_ar_sampler_law(problem.gaussian.conditional_affine_score, problem.sizes, grids)
    joint = gaussian_kl(problem.ar_target.mean, problem.ar_target.cov, law.mean, law.cov)
    assert found.kl_total == pytest.approx(joint, rel=1e-8)
    assert joint <= eps**2


def test_allocations_meet_the_budget_and_best_is_smallest():
    problem = Problem.chain(1, 4, 0.0, delta=0.01, seed=0, sizes=(1, 3))
    found = {how: problem.allocate(0.2, how, 10**4) for how in ALLOCATIONS}
    assert all(a.kl_total <= 0.04 for a in found.values())
    assert found["best"].nfe <= min(found["uniform"].nfe, found["lagrange"].nfe)


def test_one_patch_allocations_equal_the_ddpm_search():
    problem = Problem.chain(1, 3, 0.5, delta=0.01, seed=0)
    ddpm = problem.ddpm_search(0.1, 10**4)
    assert {problem.allocate(0.1, how, 10**4).nfe for how in ALLOCATIONS} == {ddpm.steps}


def test_regrouped_chain_keeps_the_joint_law():
    whole, regrouped = Problem.chain(3, 2, 0.9, 0.01, 0), Problem.chain(3, 2, 0.9, 0.01, 0, sizes=(1, 5))
    assert regrouped.sizes == (1, 5)
    assert np.allclose(whole.q_delta[1], regrouped.q_delta[1], atol=1e-14)


@pytest.mark.parametrize("budget", [0.5, 0.05, 3e-3, 1e-3, 2.0])
def test_smallest_steps_matches_brute_force_on_monotone_kl(budget):
    def kl(n):
        return 3.0 / n**1.5 + 1e-4

    found = smallest_steps(kl, budget, 10**5)
    first = next(n for n in range(1, 10**5) if kl(n) <= budget)
    assert found.steps == first
    assert found.kl == kl(first)
    assert found.kl_below == (kl(first - 1) if first > 1 else None)


def test_smallest_steps_returns_a_boundary_on_non_monotone_kl():
    values = {n: (0.5 if n % 7 == 3 else 1.0 / n) for n in range(1, 200)}
    found = smallest_steps(values.__getitem__, 0.05, 199)
    assert found.kl <= 0.05 < found.kl_below
    assert found.evaluations < 20


def test_smallest_steps_raises_when_the_budget_is_unreachable():
    with pytest.raises(ValueError, match="max_steps"):
        smallest_steps(lambda n: 1e-2 + 1.0 / n, 1e-3, 64)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="start"):
        best_allocation([lambda n: 1.0 / n], 0.01, [2], 100)
    with pytest.raises(ValueError, match="start"):
        best_allocation([lambda n: 1.0 / n] * 2, 0.5, [4], 100)
    with pytest.raises(ValueError, match="how"):
        Problem.chain(2, 1, 0.5, 0.01, 0).allocate(0.1, "greedy", 100)
    with pytest.raises(ValueError, match="repeats"):
        wall_times(lambda: None, 0)


def test_loglog_slope_recovers_a_power_law():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    slope, se = loglog_slope(x, 3.0 * x**0.7)
    assert slope == pytest.approx(0.7, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)


def test_moderate_growth_reads_slopes_against_the_declared_threshold():
    assert moderate_growth("e", [0.5, 0.55, 0.6, 0.52, 0.58], 0.9, 0.1, True).differences[0] == pytest.approx(
        0.4
    )


def test_best_time_is_the_minimum_of_the_wall_times():
    assert 0 <= best_time(lambda: sum(range(100)), 3) < 1


def test_interleaved_times_pairs_rounds_and_warms_up_once():
    calls = {"a": 0, "b": 0}

    def counter(name):
        def run():
            calls[name] += 1

        return run

    times = interleaved_times({"a": counter("a"), "b": counter("b")}, 3)
    assert calls == {"a": 4, "b": 4} and [len(v) for v in times.values()] == [3, 3]
    with pytest.raises(ValueError, match="repeats"):
        interleaved_times({"a": counter("a")}, 0)
