"""Symbolic bounds: lambdified values, hand-checked cases, monotonicity, limits, assumptions."""

import math
import re

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize

from bounds import ardm, hierarchy
from bounds.benton import BENTON, BENTON_N
from bounds.chen import CHEN, CHEN_N
from bounds.complexity import complexity
from bounds.core import TERMS, subs_by_name, sym
from bounds.li_yan import LI_YAN

CHEN_VALUES = dict(kl_data=4.0, T=1.0, L=1.0, d=4.0, N=4.0, m2=2.0, eps_score=0.5)
BENTON_VALUES = dict(d=2.0, T=1.0, delta=math.exp(-1), N=4.0, eps_score=0.3, m2=1.0)
LI_YAN_VALUES = dict(d=3.0, N=math.exp(2), eps_score=0.5, m2=1.0)
CASES = [(CHEN_N, CHEN_VALUES), (BENTON_N, BENTON_VALUES), (LI_YAN, LI_YAN_VALUES)]


@pytest.mark.parametrize("bound, values", CASES, ids=["chen", "benton", "li_yan"])
def test_lambdified_terms_match_sympy_evaluation(bound, values):
    numeric = bound.evaluate_terms(C=2.5, **values)
    for name in TERMS:
        exact = subs_by_name(bound.terms[name], values).evalf(30)
        assert numeric[name] == pytest.approx(2.5 * float(exact), rel=1e-12)


def test_hand_checked_values():
    # Chen, h = T/N = 1/4: sqrt(4) e^{-1} + (1 * sqrt(4/4) + 1 * 2/4) * 1 + 0.5 * 1
    chen = CHEN_N.evaluate_terms(**CHEN_VALUES)
    assert chen == pytest.approx(
        {"initialisation": 2 / math.e, "discretisation": 1.5, "score_error": 0.5}, rel=1e-14
    )
    # Benton, kappa = (1 + 1)/4 = 1/2: kappa^2 d N + kappa d T = 2 + 1, init 2 e^{-2}, eps^2
    benton = BENTON_N.evaluate_terms(**BENTON_VALUES)
    assert benton == pytest.approx(
        {"initialisation": 2 * math.exp(-2), "discretisation": 3.0, "score_error": 0.09}, rel=1e-14
    )
    # Li-Yan, log N = 2: 3 * 8 / e^2 + 0.5 sqrt(2)
    assert LI_YAN.evaluate(**LI_YAN_VALUES) == pytest.approx(
        24 * math.exp(-2) + 0.5 * math.sqrt(2), rel=1e-14
    )
    # Benton in kappa matches the step-rule form at kappa = 1/2
    kappa_form = BENTON.evaluate(d=2.0, T=1.0, N=4.0, kappa=0.5, eps_score=0.3, m2=1.0)
    assert kappa_form == pytest.approx(BENTON_N.evaluate(**BENTON_VALUES), rel=1e-14)


def _perturbed(values, name, factor):
    return {**values, name: values[name] * factor}


@pytest.mark.parametrize("bound, values", CASES[:2], ids=["chen", "benton"])
def test_monotone_in_n_d_and_score_error(bound, values):
    base = bound.evaluate(**values)
    assert bound.evaluate(**_perturbed(values, "N", 1.5)) < base
    assert bound.evaluate(**_perturbed(values, "d", 1.5)) > base
    assert bound.evaluate(**_perturbed(values, "eps_score", 1.5)) > base


def test_li_yan_monotonicity():
    base = LI_YAN.evaluate_terms(**{**LI_YAN_VALUES, "N": 30.0})  # log^3 N / N decreases for N > e^3
    later = LI_YAN.evaluate_terms(**{**LI_YAN_VALUES, "N": 45.0})
    assert later["discretisation"] < base["discretisation"]
    assert LI_YAN.evaluate(**_perturbed(LI_YAN_VALUES, "d", 1.5)) > LI_YAN.evaluate(**LI_YAN_VALUES)
    assert LI_YAN.evaluate(**_perturbed(LI_YAN_VALUES, "eps_score", 2)) > LI_YAN.evaluate(**LI_YAN_VALUES)


@pytest.mark.parametrize("bound", [CHEN_N, BENTON_N], ids=["chen", "benton"])
def test_infinitely_many_steps_leave_score_and_initialisation(bound):
    limit = sp.limit(bound.shape, sym("N"), sp.oo)
    rest = bound.terms["initialisation"] + bound.terms["score_error"]
    assert sp.simplify(limit - rest) == 0


@pytest.mark.parametrize(
    "bound, values, assumption",
    [
        (CHEN_N, {**CHEN_VALUES, "L": 8.0}, "step condition h <= 1/L"),
        (CHEN, {**CHEN_VALUES, "h": 0.5, "L": 3.0, "N": None}, "step condition h <= 1/L"),
        (BENTON, dict(d=2.0, T=1.0, N=4.0, kappa=1.5, eps_score=0.3, m2=1.0), "0 < kappa <= 1"),
        (BENTON_N, {**BENTON_VALUES, "N": 1.0}, "0 < kappa <= 1"),
        (BENTON_N, {**BENTON_VALUES, "delta": 1.5}, "early stopping"),
        (LI_YAN, {**LI_YAN_VALUES, "N": 1.0}, "N >= 2"),
        (BENTON_N, {**BENTON_VALUES, "eps_score": -0.1}, "score error"),
        (CHEN_N, {k: v for k, v in CHEN_VALUES.items() if k != "L"}, "L-Lipschitz"),
        (BENTON_N, {**BENTON_VALUES, "m2": math.inf}, "second moment"),
    ],
)
def test_violated_assumption_is_refused_by_name(bound, values, assumption):
    values = {k: v for k, v in values.items() if v is not None}
    with pytest.raises(ValueError, match=re.escape(assumption)):
        bound.evaluate(**values)


def test_step_condition_at_its_boundary_is_accepted():
    assert math.isfinite(CHEN_N.evaluate(**{**CHEN_VALUES, "L": 4.0}))  # h = 1/4 = 1/L


def test_unknown_constant_is_refused():
    with pytest.raises(ValueError, match="values"):
        BENTON_N.evaluate(**BENTON_VALUES, L=1.0)


# ----- AR-DM -----------------------------------------------------------------------------------


def test_ardm_with_one_stage_is_the_ddpm_bound():
    one = ardm.ardm_bound(1)
    renamed = subs_by_name(one.shape, {f"{n}_1": sym(n) for n in ardm.STAGE_NAMES})
    assert sp.simplify(renamed - BENTON_N.shape) == 0
    stage = {f"{n}_1": v for n, v in BENTON_VALUES.items()}
    assert one.evaluate(**stage) == pytest.approx(BENTON_N.evaluate(**BENTON_VALUES), rel=1e-14)


def test_ardm_bound_is_the_sum_of_stage_bounds():
    second = dict(d=5.0, T=2.0, delta=0.01, N=50.0, eps_score=0.2, m2=2.0)
    values = {f"{n}_{k}": v for k, s in ((1, BENTON_VALUES), (2, second)) for n, v in s.items()}
    expected = BENTON_N.evaluate(**BENTON_VALUES) + BENTON_N.evaluate(**second)
    assert ardm.ardm_bound(2).evaluate(**values) == pytest.approx(expected, rel=1e-14)
    with pytest.raises(ValueError, match="stage|early stopping"):
        ardm.ardm_bound(2).evaluate(**{**values, "delta_2": 2.0})


def test_step_counts_meet_the_budget():
    K, d_k, delta, eps = 4, 3.0, 0.01, 0.1
    T_k = ardm.stage_t(K, d_k, eps)
    assert d_k * math.exp(-2 * T_k) == pytest.approx(eps**2 / K, rel=1e-12)
    n_k = ardm.stage_steps(K, d_k, T_k, delta, eps)
    kappa = (T_k + math.log(1 / delta)) / n_k  # exponential-then-linear step rule
    assert kappa**2 * d_k * n_k == pytest.approx(eps**2 / K, rel=1e-12)
    assert n_k == pytest.approx(K * d_k * (T_k + math.log(1 / delta)) ** 2 / eps**2, rel=1e-12)


def test_equal_patches_cost_exactly_k_times_ddpm():
    assert ardm.EQUAL_PATCH_RATIO == sym("K")
    assert ardm.cost_ratio([2, 2, 2, 2, 2], 0.05, 1e-3) == pytest.approx(5.0, rel=1e-12)
    assert ardm.cost_ratio([7], 0.05, 1e-3) == pytest.approx(1.0, rel=1e-12)


ALLOC = dict(patch_sizes=[1.0, 4.0, 16.0], T_values=[2.0, 3.0, 3.0], delta_values=[0.01] * 3)


def test_lagrange_allocation_beats_uniform_and_matches_brute_force():
    total = 600.0
    best = ardm.optimal_allocation(total, **ALLOC)
    assert best.sum() == pytest.approx(total, rel=1e-12)
    uniform = np.full(3, total / 3)
    value = ardm.discretisation_total(best, **ALLOC)
    assert value < ardm.discretisation_total(uniform, **ALLOC)
    result = minimize(
        lambda n: ardm.discretisation_total(n, **ALLOC),
        uniform,
        constraints=[{"type": "eq", "fun": lambda n: n.sum() - total}],
        bounds=[(1e-6, total)] * 3,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert result.success
    assert value <= result.fun * (1 + 1e-9)
    np.testing.assert_allclose(best, result.x, rtol=1e-4)


def test_lagrange_allocation_is_uniform_for_equal_stages():
    best = ardm.optimal_allocation(90.0, [3.0] * 3, [2.0] * 3, [0.01] * 3)
    np.testing.assert_allclose(best, 30.0, rtol=1e-14)


def test_lagrange_formula_solves_the_full_system():
    c = sp.symbols("c1:3", positive=True)
    n = sp.symbols("n1:3", positive=True)
    lam, total = sp.symbols("lam total", positive=True)
    lagrangian = sum(ci / ni for ci, ni in zip(c, n, strict=True)) + lam * (sum(n) - total)
    solutions = sp.solve([sp.diff(lagrangian, v) for v in (*n, lam)], [*n, lam], dict=True)
    s = sum(sp.sqrt(ci) for ci in c)
    expected = [ardm.ALLOCATION.xreplace({ardm.c_k: ci, ardm.S: s, ardm.N_total: total}) for ci in c]
    matches = [
        all(sp.simplify(sol[ni] - e) == 0 for ni, e in zip(n, expected, strict=True)) for sol in solutions
    ]
    assert any(matches)


# ----- hierarchy and complexity ----------------------------------------------------------------


def test_split_slack_is_a_square():
    a, b = sp.symbols("a b", real=True)
    assert sp.expand(hierarchy.SPLIT_SLACK - (a - b) ** 2) == 0
    assert hierarchy.split_bound(0.1, 0.2, 0.3) == pytest.approx(0.1 + 2 * 0.04 + 0.6)


def test_complexity_table_formulas():
    eps, delta, sizes, L = 0.1, 0.01, [2, 2, 2, 2], 3.0
    table = complexity(eps, sizes, delta, L=L)
    d = 8
    T = 0.5 * math.log(d / eps**2)
    assert table.nfe("Benton", "DDPM") == pytest.approx(
        d * (T + math.log(1 / delta)) ** 2 / eps**2, rel=1e-12
    )
    assert table.nfe("Chen", "DDPM") == pytest.approx(L**2 * d / eps**2, rel=1e-12)
    assert table.nfe("Li-Yan", "DDPM") == pytest.approx(d / eps, rel=1e-12)
    for bound in ("Benton", "Chen", "Li-Yan"):
        assert table.ratio(bound) == pytest.approx(4.0, rel=1e-12)
    assert "Chen" not in str(complexity(eps, sizes, delta))
    with pytest.raises(ValueError, match="eps"):
        complexity(0.0, sizes, delta)
