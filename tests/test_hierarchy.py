"""The upper-bound hierarchy (docs/math.md section 5): exact KL(q_delta || p^) <= chain path KL <=
Girsanov <= split, on Gaussian targets (d = 1, 3; exact law by the Gaussian recursion), a 2-D
mixture (exact law by grid propagation) and AR-DM stages; and the initialisation term against
closed-form Gaussian KLs. Tolerances: 4 standard errors, plus the quadrature / grid error estimates.
"""

import math

import pytest
import torch

from synthetic.gaussian_mixture import GaussianMixture
from verify.exact import (
    gaussian_ar_sampler_law,
    gaussian_sampler_law,
    grid_divergences,
    grid_sampler_law,
    richardson,
)
from verify.grids import uniform
from verify.metrics.gaussian import gaussian_expected_conditional_kl, gaussian_kl
from verify.metrics.girsanov import girsanov_bound, girsanov_bound_ar
from verify.metrics.init_kl import init_kl
from verify.metrics.path_kl import chain_path_kl, chain_path_kl_ar
from verify.samplers.perturb import Bias, Perturbed, Scaling

SIGMAS = 4.0
DELTA = 0.02
GRID = uniform(2.5, 20, DELTA)
N_DRAWS = 3000

TARGETS = {
    "gauss1": lambda: GaussianMixture([1.0], [[2.0]], [0.25]),
    "gauss3": lambda: GaussianMixture(
        [1.0],
        [[1.0, -0.5, 2.0]],
        [[[0.6, 0.2, 0.0], [0.2, 1.5, -0.3], [0.0, -0.3, 0.3]]],
    ),
    "mix2": lambda: GaussianMixture([0.3, 0.7], [[-1.5, 0.5], [1.0, -0.5]], [[0.3, 0.6], [0.5, 0.2]]),
}
PERTURBATIONS = {
    "exact": None,
    "bias": lambda score, d, patches=None: Bias(score, [0.3, -0.2, 0.1][:d], patches),
    "scaled": lambda score, d, patches=None: Scaling(score, 0.2, patches),
}


def noised_gaussian(target, t):
    """q_t of a single Gaussian: N(a_t mu, a_t^2 Sigma + s_t^2 I)."""
    a = math.exp(-t)
    eye = torch.eye(target.dim, dtype=torch.float64)
    return a * target.mean(), a**2 * target.covariance() + (1 - a**2) * eye


def exact_gap(target, score, scheme):
    """KL(q_delta || p^) and an estimate of its own error."""
    if target.is_gaussian:

        def affine(t):
            a_mat, c = target.affine_score(t)
            return score.affine(a_mat, c, t) if isinstance(score, Perturbed) else (a_mat, c)

        law = gaussian_sampler_law(affine, GRID, target.dim, scheme)
        return gaussian_kl(*noised_gaussian(target, DELTA), law.mean, law.cov), 0.0
    values, steps = [], []
    for nodes in (64, 128):
        law = grid_sampler_law(score, GRID, target.dim, box=7.0, n=nodes, scheme=scheme)
        log_q = grid_divergences(law, lambda x: target.log_prob(x, DELTA))
        values.append(log_q.kl_target_sampler)
        steps.append(law.dx)
    extrapolated = richardson(values[0], values[1], steps[0], steps[1])
    return extrapolated, abs(extrapolated - values[1])


def assert_hierarchy(exact, exact_error, chain, girsanov):
    assert exact <= chain.total.value + SIGMAS * chain.total.stderr + exact_error
    combined = math.hypot(chain.total.stderr, girsanov.bound.stderr)
    assert chain.total.value <= girsanov.bound.value + SIGMAS * combined + girsanov.quadrature_error
    assert girsanov.bound.value <= girsanov.split.value  # draw by draw


@pytest.mark.parametrize("scheme", ["ei", "em"])
@pytest.mark.parametrize("perturbation", list(PERTURBATIONS))
@pytest.mark.parametrize("name", list(TARGETS))
def test_hierarchy(name, perturbation, scheme):
    target = TARGETS[name]()
    wrap = PERTURBATIONS[perturbation]
    score = target.score if wrap is None else wrap(target.score, target.dim)
    gen = torch.Generator().manual_seed(21)
    chain = chain_path_kl(target, score, GRID, N_DRAWS, scheme, gen)
    girsanov = girsanov_bound(target, score, GRID, N_DRAWS, scheme, gen)
    assert_hierarchy(*exact_gap(target, score, scheme), chain, girsanov)


def ar_target_law(target, deltas):
    """The AR target p_AR for K = 2 one-dimensional patches: x^1 ~ q^1_{delta_0},
    x^2 | x^1 ~ N(a (G x^1 + g), a^2 S_c + s^2) with a = e^{-delta_1}; joint (mean, cov)."""
    mu, sigma = target.mean(), target.covariance()
    gain = sigma[1, 0] / sigma[0, 0]
    offset, s_c = mu[1] - gain * mu[0], sigma[1, 1] - gain * sigma[1, 0]
    a0, a1 = math.exp(-deltas[0]), math.exp(-deltas[1])
    m1, v1 = a0 * mu[0], a0**2 * sigma[0, 0] + 1 - a0**2
    m2 = a1 * (gain * m1 + offset)
    v2 = (a1 * gain) ** 2 * v1 + a1**2 * s_c + 1 - a1**2
    c12 = a1 * gain * v1
    return torch.stack([m1, m2]), torch.stack([torch.stack([v1, c12]), torch.stack([c12, v2])])


@pytest.mark.parametrize("scheme, perturbation", [("ei", "bias"), ("em", "scaled"), ("ei", "exact")])
def test_ar_hierarchy_per_stage_and_chain_rule(scheme, perturbation):
    target = GaussianMixture([1.0], [[1.0, -0.5]], [[[1.0, 0.8], [0.8, 1.5]]], patch_sizes=(1, 1))
    grids = [uniform(2.5, 12, 0.02), uniform(3.0, 16, 0.05)]
    wrap = PERTURBATIONS[perturbation]
    score = target.conditional_score
    if wrap is not None:
        score = wrap(score, 2, (1, 1))

    def affine(k, t):
        a_mat, b_mat, c = target.conditional_affine_score(k, t)
        return (a_mat, b_mat, c) if wrap is None else score.conditional_affine(k, a_mat, b_mat, c, t)

    law = gaussian_ar_sampler_law(affine, (1, 1), grids, scheme)
    mean, cov = ar_target_law(target, [0.02, 0.05])
    exact = [gaussian_expected_conditional_kl(mean, cov, law.mean, law.cov, k, 1) for k in (0, 1)]
    assert sum(exact) == pytest.approx(gaussian_kl(mean, cov, law.mean, law.cov), abs=1e-10)
    gen = torch.Generator().manual_seed(22)
    chain = chain_path_kl_ar(target, score, grids, N_DRAWS, scheme, gen)
    girsanov = girsanov_bound_ar(target, score, grids, N_DRAWS, scheme, gen)
    for k in (0, 1):
        assert_hierarchy(exact[k], 0.0, chain.stages[k], girsanov.stages[k])
    assert_hierarchy(sum(exact), 0.0, chain.joint, girsanov.joint)


@pytest.mark.parametrize("T", [0.5, 1.5])
def test_init_kl_matches_closed_form(T):
    target = TARGETS["gauss3"]()
    result = init_kl(target, T, 20000, torch.Generator().manual_seed(23))
    d = target.dim
    zero, eye = torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)
    kl_T = gaussian_kl(*noised_gaussian(target, T), zero, eye)
    kl_0 = gaussian_kl(target.mean(), target.covariance(), zero, eye)
    m2 = float(target.covariance().trace() + target.mean() @ target.mean())
    for estimate, exact in [(result.kl_T, kl_T), (result.kl_0, kl_0), (result.m2, m2)]:
        assert abs(estimate.value - exact) <= SIGMAS * estimate.stderr
    decay = math.exp(-2 * T)
    assert abs(result.contraction_bound.value - decay * kl_0) <= SIGMAS * result.contraction_bound.stderr
    assert abs(result.moment_bound.value - decay * (d + m2)) <= SIGMAS * result.moment_bound.stderr
    assert kl_T <= decay * kl_0  # the contraction the bound rests on, exact here


def test_init_kl_of_mixture_below_contraction_bound():
    target = TARGETS["mix2"]()
    result = init_kl(target, 1.0, 20000, torch.Generator().manual_seed(24))
    gap = result.contraction_bound.value - result.kl_T.value
    assert gap >= -SIGMAS * math.hypot(result.kl_T.stderr, result.contraction_bound.stderr)


def test_init_kl_bad_input():
    target = TARGETS["gauss1"]()
    with pytest.raises(ValueError, match="^n:"):
        init_kl(target, 1.0, 0)
    with pytest.raises(ValueError, match="^t:"):
        init_kl(target, -1.0, 10)
    with pytest.raises(ValueError, match="^target:"):
        init_kl(None, 1.0, 10)
