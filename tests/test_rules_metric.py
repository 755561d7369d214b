"""The rule metric on hand-made point sets."""

import numpy as np
import pytest

from verify.rules.metric import rule_errors, rule_fit


def test_perfect_rule_zero_bias():
    u = np.linspace(0.1, 0.3, 50)
    fit = rule_fit(u, 1.5 * u, 1.5)
    assert fit.bias == pytest.approx(0.0, abs=1e-12)
    assert fit.variance == pytest.approx(0.0, abs=1e-12)


def test_known_slope_and_intercept_error():
    u = np.linspace(0.0, 1.0, 101)
    fit = rule_fit(u, 1.2 * u + 0.05, 1.0)
    assert fit.bias == pytest.approx(0.2 + 0.05)
    assert fit.total == pytest.approx(fit.bias + fit.variance)


def test_known_residual_std():
    u = np.linspace(0.0, 1.0, 200)
    noise = np.tile([0.1, -0.1], 100)  # orthogonal enough: fitted line ~ exact
    fit = rule_fit(u, u + noise, 1.0)
    assert fit.variance == pytest.approx(0.1, rel=1e-2)


def test_outlier_rule_same_for_any_input():
    rng = np.random.default_rng(0)
    u = rng.uniform(0, 1, 300)
    v = u + 0.01 * rng.standard_normal(300)
    v[:3] += 50.0  # three gross outliers
    fit = rule_fit(u, v, 1.0)
    assert fit.dropped == 3
    order = rng.permutation(300)
    assert rule_fit(u[order], v[order], 1.0) == pytest.approx(fit)
    clean = rule_fit(u[3:], v[3:], 1.0)
    assert fit.slope == pytest.approx(clean.slope)


def test_failures_dropped_and_undefined():
    u = np.array([0.1, 0.2, np.nan, 0.4])
    assert rule_fit(u, u, 1.0).dropped == 1
    assert np.isnan(rule_errors(np.full(5, np.nan), np.ones(5), 1.0, boots=5)["total"])
