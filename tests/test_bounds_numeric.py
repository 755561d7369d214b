"""Measured constants (Lipschitz profile, m2, KL to gamma_d, kappa) and constant fitting."""

import math

import numpy as np
import pytest
import torch

from bounds.chen import CHEN
from bounds.constants import grid_constants, grid_kappa
from bounds.fit import fit_constant, ratios
from synthetic import GaussianMixture, MarkovChainMixture
from verify.metrics.constants import hessian, kl_to_gaussian, lipschitz, lipschitz_profile, second_moment

TIMES = [0.0, 0.05, 0.3, 1.0, 2.5]


class ScoreOnly:
    """The protocol without the closed-form extras: no Hessian, moments or component means."""

    has_hessian = has_moments = False
    component_means = None

    def __init__(self, dist):
        self.dist, self.dim = dist, dist.dim

    def sample(self, n, t=0.0, generator=None):
        return self.dist.sample(n, t, generator)

    def score(self, x, t=0.0):
        return self.dist.score(x, t)


def _gaussian():
    cov = torch.tensor([[2.0, 0.6, 0.0], [0.6, 0.5, 0.1], [0.0, 0.1, 0.05]], dtype=torch.float64)
    return GaussianMixture([1.0], [[1.0, -2.0, 0.5]], cov[None]), cov


def _closed_form_lipschitz(cov, t):
    """The Hessian of log q_t is -C(t)^{-1}, C(t) = e^{-2t} Sigma + (1 - e^{-2t}) I."""
    c = math.exp(-2 * t) * cov + (1 - math.exp(-2 * t)) * torch.eye(3, dtype=torch.float64)
    return 1.0 / float(torch.linalg.eigvalsh(c).min())


@pytest.mark.oracle
def test_gaussian_lipschitz_profile_is_the_closed_form():
    dist, cov = _gaussian()
    profile = lipschitz_profile(dist, TIMES, n=64, generator=torch.Generator().manual_seed(0))
    expected = [_closed_form_lipschitz(cov, t) for t in TIMES]
    np.testing.assert_allclose(profile.values, expected, rtol=1e-10)
    assert profile.sup == pytest.approx(max(expected), rel=1e-10)


@pytest.mark.oracle
def test_autograd_hessian_matches_closed_form():
    dist, cov = _gaussian()
    measured = lipschitz(ScoreOnly(dist), 0.3, n=16, generator=torch.Generator().manual_seed(1))
    assert measured == pytest.approx(_closed_form_lipschitz(cov, 0.3), rel=1e-10)


def _two_modes():
    return GaussianMixture([0.5, 0.5], [[-3.0], [3.0]], [0.2, 0.2])


def _brute_force_lipschitz(t):
    """sup_x |H(x)| on a dense grid, H = -1/C + w(1 - w) (6 a_t / C)^2 for means +-3, var 0.2."""
    a2 = math.exp(-2 * t)
    c, a = a2 * 0.2 + 1 - a2, math.sqrt(a2)
    x = np.linspace(-3 * a - 8 * math.sqrt(c), 3 * a + 8 * math.sqrt(c), 400_001)
    w = 1.0 / (1.0 + np.exp(-(6 * a / c) * x))  # posterior weight of the +3 mode
    return float(np.abs(-1.0 / c + w * (1 - w) * (6 * a / c) ** 2).max())


@pytest.mark.oracle
def test_math_md_two_mode_lipschitz_values():
    times = [0.0, 0.1, 1.0, 2.0]
    profile = lipschitz_profile(_two_modes(), times, n=4096, generator=torch.Generator().manual_seed(2))
    assert profile.values[0] == pytest.approx(220.0, rel=1e-9)  # midpoint: -5 + 15^2
    np.testing.assert_allclose(profile.values, [_brute_force_lipschitz(t) for t in times], rtol=1e-3)
    assert np.all(np.abs(profile.values[2:] - 1.0) < 0.15)


def test_chen_refuses_the_step_condition_on_separated_modes():
    dist = _two_modes()
    grid = torch.linspace(3.0, 0.0, 41, dtype=torch.float64)
    constants = grid_constants(grid)
    L = lipschitz_profile(dist, grid.tolist(), n=256, generator=torch.Generator().manual_seed(3)).sup
    values = dict(d=1, T=constants["T"], h=constants["h"], L=L, m2=second_moment(dist).value, eps_score=0.0)
    values["kl_data"] = kl_to_gaussian(dist, 0.0, 1000, torch.Generator().manual_seed(4)).value
    with pytest.raises(ValueError, match="step condition h <= 1/L"):
        CHEN.evaluate(**values)


@pytest.mark.oracle
def test_second_moment_exact_and_monte_carlo_agree():
    dist = GaussianMixture([0.3, 0.7], [[1.0, -2.0], [0.5, 3.0]], [[0.5, 0.2], [1.0, 0.1]])
    exact = second_moment(dist)
    hand = 0.3 * (0.7 + 1 + 4) + 0.7 * (1.1 + 0.25 + 9)
    assert exact.stderr == 0 and exact.value == pytest.approx(math.sqrt(hand), rel=1e-12)
    mc = second_moment(ScoreOnly(dist), n=50_000, generator=torch.Generator().manual_seed(5))
    assert abs(mc.value - exact.value) < 4 * mc.stderr


def _gaussian_kl_to_standard(mean, cov):
    """KL(N(m, S) || N(0, I)) = 1/2 (tr S + |m|^2 - d - log det S)."""
    d = len(mean)
    return 0.5 * (np.trace(cov) + mean @ mean - d - np.linalg.slogdet(cov)[1])


@pytest.mark.oracle
@pytest.mark.parametrize("t", [0.0, 0.7])
def test_kl_to_gaussian_matches_closed_form(t):
    dist, cov = _gaussian()
    mean = math.exp(-t) * np.array([1.0, -2.0, 0.5])
    c = math.exp(-2 * t) * cov.numpy() + (1 - math.exp(-2 * t)) * np.eye(3)
    est = kl_to_gaussian(dist, t, 40_000, torch.Generator().manual_seed(6))
    assert abs(est.value - _gaussian_kl_to_standard(mean, c)) < 4 * est.stderr


def test_grid_kappa_and_constants():
    grid = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    # steps 1, 1, 0.5, 0.3 over min(1, t_{j+1}) = 1, 1, 0.5, 0.2
    assert grid_kappa(grid) == pytest.approx(1.5)
    assert grid_constants(grid) == pytest.approx({"T": 3.0, "N": 4, "delta": 0.2, "h": 1.0, "kappa": 1.5})
    assert grid_kappa(torch.tensor([1.0, 0.0], dtype=torch.float64)) == math.inf
    with pytest.raises(ValueError, match="grid"):
        grid_kappa(torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_fit_recovers_a_planted_constant():
    rng = np.random.default_rng(7)
    shape = 1.0 / np.arange(10, 200, 10)
    measured = 0.37 * shape * np.exp(0.05 * rng.standard_normal(shape.size))
    fit = fit_constant(measured, shape)
    assert abs(fit.log_constant - math.log(0.37)) < 4 * fit.log_stderr
    assert fit_constant(0.37 * shape, shape).constant == pytest.approx(0.37, rel=1e-12)
    np.testing.assert_allclose(ratios(2 * shape, shape), 2.0)
    with pytest.raises(ValueError, match="measured"):
        fit_constant([1.0, -1.0], [1.0, 1.0])


def test_hessian_by_autograd_equals_the_declared_closed_form():
    """A Markov chain declares no Hessian (autograd of its score); its enumerated mixture does."""
    chain = MarkovChainMixture([0.4, 0.6], [[0.7, 0.3], [0.2, 0.8]], [[1.0], [-1.5]], [[[0.3]], [[0.5]]], 2)
    mixture = chain.to_mixture()
    assert not chain.has_hessian and mixture.has_hessian
    x = chain.sample(8, 0.2, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(hessian(chain, x, 0.2), hessian(mixture, x, 0.2), rtol=1e-10, atol=1e-10)
    assert lipschitz(chain, 0.2, n=64, generator=torch.Generator().manual_seed(8)) > 0
