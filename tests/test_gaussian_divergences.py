"""Closed-form Gaussian KL / TV against scipy densities, quadrature and Monte Carlo."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from verify.metrics import (
    gaussian_conditional,
    gaussian_expected_conditional_kl,
    gaussian_kl,
    gaussian_kl_both,
    gaussian_tv_1d,
    gaussian_tv_bounds,
    gaussian_tv_equal_cov,
)

F64 = torch.float64
M0 = torch.tensor([0.3, -1.0, 0.5], dtype=F64)
S0 = torch.tensor([[1.0, 0.4, 0.1], [0.4, 0.7, -0.2], [0.1, -0.2, 0.5]], dtype=F64)
M1 = torch.tensor([0.8, -0.6, 0.2], dtype=F64)
S1 = torch.tensor([[1.5, 0.1, 0.0], [0.1, 0.5, 0.1], [0.0, 0.1, 0.9]], dtype=F64)


def mc_mean(values):
    return values.mean(), values.std(ddof=1) / math.sqrt(len(values))


def scipy_normal(mean, cov):
    return stats.multivariate_normal(mean.numpy(), cov.numpy())


def test_kl_against_monte_carlo():
    p0, p1 = scipy_normal(M0, S0), scipy_normal(M1, S1)
    x = p0.rvs(200_000, random_state=np.random.default_rng(0))
    est, se = mc_mean(p0.logpdf(x) - p1.logpdf(x))
    assert abs(gaussian_kl(M0, S0, M1, S1) - est) < 4 * se
    forward, backward = gaussian_kl_both(M0, S0, M1, S1)
    assert forward == gaussian_kl(M0, S0, M1, S1)
    assert backward == gaussian_kl(M1, S1, M0, S0)
    assert abs(gaussian_kl(M0, S0, M0, S0)) < 1e-14


def test_kl_1d_closed_form():
    # KL(N(m0, v0) || N(m1, v1)) = 1/2 [v0/v1 + (m1 - m0)^2 / v1 - 1 + log(v1 / v0)]
    m0, v0, m1, v1 = 0.4, 0.3, -0.2, 1.7
    expected = 0.5 * (v0 / v1 + (m1 - m0) ** 2 / v1 - 1 + math.log(v1 / v0))
    assert gaussian_kl([m0], [[v0]], [m1], [[v1]]) == pytest.approx(expected, rel=1e-13)


def tv_quadrature(m0, v0, m1, v1):
    def gap(x):
        return abs(stats.norm.pdf(x, m0, math.sqrt(v0)) - stats.norm.pdf(x, m1, math.sqrt(v1)))

    points = sorted({m0, m1})
    value, _ = integrate.quad(gap, -40, 40, points=points, limit=500, epsabs=1e-13)
    return 0.5 * value


@pytest.mark.parametrize(
    "m0, v0, m1, v1",
    [
        (0.0, 1.0, 1.3, 1.0),
        (0.5, 0.2, 0.1, 0.9),
        (0.0, 1.0, 0.0, 1.0 + 1e-9),
        (2.0, 3.0, -1.0, 0.1),
    ],
)
def test_tv_1d_against_quadrature(m0, v0, m1, v1):
    assert gaussian_tv_1d(m0, v0, m1, v1) == pytest.approx(tv_quadrature(m0, v0, m1, v1), abs=1e-9)


def test_tv_equal_covariance_against_quadrature_and_monte_carlo():
    assert gaussian_tv_equal_cov([0.2], [1.1], [[0.7]]) == pytest.approx(
        tv_quadrature(0.2, 0.7, 1.1, 0.7), abs=1e-10
    )
    p0, p1 = scipy_normal(M0, S0), scipy_normal(M1, S0)
    x = p0.rvs(200_000, random_state=np.random.default_rng(1))
    est, se = mc_mean(np.maximum(0.0, 1.0 - np.exp(p1.logpdf(x) - p0.logpdf(x))))
    exact = gaussian_tv_equal_cov(M0, M1, S0)
    assert abs(exact - est) < 4 * se
    assert gaussian_tv_bounds(M0, S0, M1, S0) == (exact, exact, exact)


def test_tv_bounds_bracket_monte_carlo():
    # TV = E_{x ~ N0} max(0, 1 - p1(x) / p0(x))
    p0, p1 = scipy_normal(M0, S0), scipy_normal(M1, S1)
    x = p0.rvs(200_000, random_state=np.random.default_rng(2))
    est, se = mc_mean(np.maximum(0.0, 1.0 - np.exp(p1.logpdf(x) - p0.logpdf(x))))
    bounds = gaussian_tv_bounds(M0, S0, M1, S1)
    assert bounds.exact is None
    assert bounds.lower <= est + 4 * se
    assert bounds.upper >= est - 4 * se
    kl = min(gaussian_kl_both(M0, S0, M1, S1))
    assert bounds.upper <= math.sqrt(kl / 2) + 1e-15


def test_tv_bounds_exact_in_one_dimension():
    bounds = gaussian_tv_bounds([0.5], [[0.2]], [0.1], [[0.9]])
    assert bounds.lower == bounds.upper == bounds.exact
    assert bounds.exact == pytest.approx(tv_quadrature(0.5, 0.2, 0.1, 0.9), abs=1e-9)


def test_conditional_law_against_scipy_density_ratio():
    # log N(b | a) = log N(a, b) - log N(a)
    law = gaussian_conditional(M0, S0, 1, 2)
    rng = np.random.default_rng(3)
    x = scipy_normal(M0, S0).rvs(5, random_state=rng)
    joint = scipy_normal(M0, S0).logpdf(x)
    prefix = stats.norm(M0[0].item(), math.sqrt(S0[0, 0].item())).logpdf(x[:, 0])
    for row, expected in zip(x, joint - prefix, strict=True):
        mean = law.gain @ torch.tensor(row[:1]) + law.offset
        got = scipy_normal(mean, law.cov).logpdf(row[1:])
        assert got == pytest.approx(expected, rel=1e-10)


def test_expected_conditional_kl_against_monte_carlo_over_prefixes():
    law0, law1 = gaussian_conditional(M0, S0, 2, 1), gaussian_conditional(M1, S1, 2, 1)
    prefixes = scipy_normal(M0[:2], S0[:2, :2]).rvs(4000, random_state=np.random.default_rng(4))
    values = []
    for a in torch.tensor(prefixes):
        values.append(
            gaussian_kl(law0.gain @ a + law0.offset, law0.cov, law1.gain @ a + law1.offset, law1.cov)
        )
    est, se = mc_mean(np.array(values))
    assert abs(gaussian_expected_conditional_kl(M0, S0, M1, S1, 2, 1) - est) < 4 * se


def test_chain_rule_for_any_pair_of_gaussians():
    total = sum(
        gaussian_expected_conditional_kl(M0, S0, M1, S1, p, size) for p, size in ((0, 1), (1, 1), (2, 1))
    )
    assert total == pytest.approx(gaussian_kl(M0, S0, M1, S1), abs=1e-12)


def test_bad_inputs():
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_kl(M0, -S0, M1, S1)
    with pytest.raises(ValueError, match="mean"):
        gaussian_kl(M0[:2], S0[:2, :2], M1, S1)
    with pytest.raises(ValueError, match="cov"):
        gaussian_kl(M0, S0[:2, :2], M1, S1)
    with pytest.raises(ValueError, match="block_dim"):
        gaussian_conditional(M0, S0, 2, 2)
