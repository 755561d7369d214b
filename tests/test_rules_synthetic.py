"""Quadrature mixtures of the rule tasks against direct Monte Carlo of the generative process."""

import math

import pytest
import torch
from scipy import stats

from synthetic.rules import (
    NOISE,
    SUN_SHADOW,
    SUN_SHADOW_CLIP,
    TWO_SQUARES,
    UNIT,
    quadrature_kl_bound,
    quadrature_mixture,
    sample_free,
    sample_parametric,
)

N = 40000


@pytest.mark.parametrize("task", [SUN_SHADOW, SUN_SHADOW_CLIP, TWO_SQUARES], ids=lambda t: t.name)
def test_moments_match_process(task):
    mixture = quadrature_mixture(task)
    draws = sample_parametric(task, N, torch.Generator().manual_seed(1))
    mean_se = draws.std(0) / math.sqrt(N)
    assert ((draws.mean(0) - mixture.mean()).abs() <= 4 * mean_se).all()
    centred = draws - draws.mean(0)
    second = centred[:, :, None] * centred[:, None, :]
    cov_se = second.std(0) / math.sqrt(N)
    assert ((second.mean(0) - mixture.covariance()).abs() <= 4 * cov_se + 1e-12).all()


@pytest.mark.parametrize("task", [SUN_SHADOW, SUN_SHADOW_CLIP, TWO_SQUARES], ids=lambda t: t.name)
def test_rule_residual_distribution_matches_process(task):
    generator = torch.Generator().manual_seed(2)
    mixture = quadrature_mixture(task)
    residuals = []
    for x in (mixture.sample(5000, 0.0, generator), sample_parametric(task, 5000, generator)):
        u, v = task.rule_pair(task.from_parametric(x))
        residuals.append((v - task.slope * u).numpy())
    assert stats.ks_2samp(*residuals).pvalue > 1e-3


def test_kl_bound_closed_form_for_linear_rule():
    # f(a) = (a, 1.5 a): E||f(a) - f(a~)||^2 = (1 + 2.25) Delta^2 / 12
    m = 30
    delta = 0.15 / m
    exact = 3.25 * delta**2 / 12 / (2 * UNIT**2 * NOISE**2)
    mean, se = quadrature_kl_bound(TWO_SQUARES, m, 40000, torch.Generator().manual_seed(3))
    assert abs(mean - exact) <= 4 * se


@pytest.mark.parametrize("task", [SUN_SHADOW, SUN_SHADOW_CLIP], ids=lambda t: t.name)
def test_sun_shadow_process_obeys_rule_exactly(task):
    geometry = task.geometry(sample_free(task, 1000, torch.Generator().manual_seed(4)))
    u, v = task.rule_pair(geometry)
    assert torch.allclose(u, v, atol=1e-14)
    assert (torch.sign(geometry[:, 0]) == -torch.sign(geometry[:, 3])).all()


def test_clip_binds_on_half_the_data_only_in_the_variant():
    """H = clip(2h, 0.6, 0.8) binds iff h < 0.3, probability 1/2 under h ~ U[0.2, 0.4] (binomial
    band); the original clip(2h, 0.3, 0.8) never binds, so its shadow equals |s|."""
    n = 20000
    theta = sample_free(SUN_SHADOW, n, torch.Generator().manual_seed(5))
    binds = (SUN_SHADOW_CLIP.geometry(theta)[:, 1] != 2 * theta[:, 0]).double().mean().item()
    assert abs(binds - 0.5) <= 4 * math.sqrt(0.25 / n)
    original = SUN_SHADOW.geometry(theta)
    torch.testing.assert_close(original[:, 1], 2 * theta[:, 0])
    torch.testing.assert_close(original[:, 3].abs(), theta[:, 1].abs())


def test_bad_nodes_raise():
    with pytest.raises(ValueError, match="nodes"):
        quadrature_mixture(SUN_SHADOW, (3,))
    with pytest.raises(ValueError, match="noise"):
        quadrature_mixture(TWO_SQUARES, 10, noise=0.0)
