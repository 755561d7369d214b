"""Girsanov bound and split: Monte Carlo against a closed-form integrand integrated by scipy, the
docs/math.md sanity value, the per-draw split inequality, AR-DM stages, and bad input."""

import math

import pytest
import torch
from scipy.integrate import quad

from synthetic.gaussian_mixture import GaussianMixture
from verify.grids import uniform
from verify.metrics.girsanov import girsanov_bound, girsanov_bound_ar

SIGMAS = 4.0


def moments(t, mean, cov):
    """q_t = N(a_t mean, a_t^2 cov + s_t^2 I)."""
    a = math.exp(-t)
    return a * mean, a**2 * cov + (1 - a**2) * torch.eye(mean.shape[0], dtype=torch.float64)


def exact_affine(mean, cov, bias=0.0, scale=1.0):
    """s(x, t) = scale * grad log q_t(x) + bias = x A^T + c."""

    def affine(t):
        m_t, c_t = moments(t, mean, cov)
        precision = torch.linalg.inv(c_t)
        return -scale * precision, scale * precision @ m_t + bias

    return affine


def integrand(t, hi, mean, cov, affine, scheme):
    """E 1/4 |b - b^|^2 at time t of the step from hi, in closed form: with Y = X_t - m_t ~
    N(0, C_t), X_hi = b X_t + sqrt(1 - b^2) Z, the drift gap is P_Y Y + P_Z Z + k."""
    d = mean.shape[0]
    eye = torch.eye(d, dtype=torch.float64)
    m_t, c_t = moments(t, mean, cov)
    a_hi, c_hi = affine(hi)
    b = math.exp(-(hi - t))
    r = math.sqrt(1 - b * b)
    # score error s(X_hi, hi) - grad log q_t(X_t)
    p_y = b * a_hi + torch.linalg.inv(c_t)
    p_z = r * a_hi
    k = b * a_hi @ m_t + c_hi
    if scheme == "em":  # (X_t - X_hi) / 2 - (score error)
        p_y, p_z, k = (1 - b) / 2 * eye - p_y, -r / 2 * eye - p_z, (1 - b) / 2 * m_t - k
    return float((p_y @ c_t @ p_y.T).trace() + (p_z @ p_z.T).trace() + k @ k)


def oracle(mean, cov, affine, grid, scheme):
    """(KL(q_T || gamma), [per-step integrals by scipy quad])."""
    times = grid.tolist()
    m_T, c_T = moments(times[0], mean, cov)
    initial = 0.5 * float(c_T.trace() + m_T @ m_T - mean.shape[0] - torch.logdet(c_T))
    steps = [
        quad(integrand, lo, hi, args=(hi, mean, cov, affine, scheme), epsabs=1e-11, epsrel=1e-10)[0]
        for hi, lo in zip(times[:-1], times[1:], strict=True)
    ]
    return initial, steps


def eps_oracle(mean, cov, affine, grid):
    """sum_j h_j E|s(X, t_j) - grad log q_{t_j}(X)|^2, X ~ q_{t_j}."""
    exact = exact_affine(mean, cov)
    total = 0.0
    times = grid.tolist()
    for hi, lo in zip(times[:-1], times[1:], strict=True):
        m, c = moments(hi, mean, cov)
        (a, v), (a0, v0) = affine(hi), exact(hi)
        gap, shift = a - a0, (a - a0) @ m + v - v0
        total += (hi - lo) * float((gap @ c @ gap.T).trace() + shift @ shift)
    return total


def within(estimate, expected, slack=0.0):
    return abs(estimate.value - expected) <= SIGMAS * estimate.stderr + slack


def test_math_sanity_value():
    """docs/math.md: q_0 = N(2, 0.25), T = 3, 40 uniform EI steps, delta = 0.01, score + 0.3 -> 0.628."""
    target = GaussianMixture([1.0], [[2.0]], [0.25])
    grid = uniform(3.0, 40, 0.01)
    gen = torch.Generator().manual_seed(11)
    result = girsanov_bound(target, lambda x, t: target.score(x, t) + 0.3, grid, 20000, "ei", gen)
    assert within(result.bound, 0.628, slack=0.0005 + result.quadrature_error)
    mean, cov = torch.tensor([2.0], dtype=torch.float64), torch.tensor([[0.25]], dtype=torch.float64)
    initial, steps = oracle(mean, cov, exact_affine(mean, cov, bias=0.3), grid, "ei")
    assert initial + sum(steps) == pytest.approx(0.628, abs=0.0005)
    # a constant bias b gives eps_score^2 = (T - delta) b^2 exactly
    assert result.eps_score2.value == pytest.approx(2.99 * 0.09, rel=1e-12)


MEAN_3D = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
COV_3D = torch.tensor([[0.6, 0.2, 0.0], [0.2, 1.5, -0.3], [0.0, -0.3, 0.3]], dtype=torch.float64)


@pytest.mark.parametrize(
    "scheme, delta, bias, scale",
    [("ei", 0.01, 0.3, 1.0), ("em", 0.01, 0.0, 1.0), ("em", 0.02, -0.2, 0.8), ("ei", 0.0, 0.0, 1.2)],
)
def test_gaussian_3d_matches_closed_form(scheme, delta, bias, scale):
    target = GaussianMixture([1.0], MEAN_3D[None], COV_3D[None])
    grid = uniform(2.5, 20, delta)
    gen = torch.Generator().manual_seed(12)
    result = girsanov_bound(target, lambda x, t: scale * target.score(x, t) + bias, grid, 4000, scheme, gen)
    affine = exact_affine(MEAN_3D, COV_3D, bias, scale)
    initial, steps = oracle(MEAN_3D, COV_3D, affine, grid, scheme)
    _, disc = oracle(MEAN_3D, COV_3D, exact_affine(MEAN_3D, COV_3D), grid, scheme)
    eps = eps_oracle(MEAN_3D, COV_3D, affine, grid)
    slack = result.quadrature_error
    assert within(result.bound, initial + sum(steps), slack)
    assert all(within(est, exact, slack) for est, exact in zip(result.steps, steps, strict=True))
    assert within(result.d_disc, sum(disc), result.split_quadrature_error / 2)
    assert within(result.eps_score2, eps, 1e-12)
    assert within(result.split, initial + 2 * eps + 2 * sum(disc), result.split_quadrature_error)
    assert result.split.value >= result.bound.value  # draw by draw, not only on average
    assert result.quadrature_error < result.bound.stderr


def test_quadrature_error_shrinks_with_sub_steps():
    target = GaussianMixture([0.3, 0.7], [[-2.0, 0.0], [1.5, 1.0]], [[0.2, 0.3], [0.5, 0.1]])
    grid = uniform(2.0, 10, 0.005)
    errors = []
    for sub_steps in (4, 16):
        gen = torch.Generator().manual_seed(13)
        result = girsanov_bound(target, target.score, grid, 2000, "ei", gen, sub_steps=sub_steps)
        errors.append(result.quadrature_error)
    assert errors[1] < errors[0] / 4


def test_ar_stages_match_closed_form():
    """K = 2 independent 1-D patches: stage k is the 1-D problem of patch k whatever the prefix."""
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)
    variances = torch.tensor([0.5, 0.2], dtype=torch.float64)
    target = GaussianMixture([1.0], mean[None], variances[None], patch_sizes=(1, 1))
    grids = [uniform(2.0, 10, 0.02), uniform(2.5, 15, 0.01)]

    def score(k, x, prefix, t):
        return target.conditional_score(k, x, prefix, t) + 0.2

    result = girsanov_bound_ar(target, score, grids, 4000, "em", torch.Generator().manual_seed(14))
    exact = []
    for k, (grid, stage) in enumerate(zip(grids, result.stages, strict=True)):
        m, c = mean[k : k + 1], variances[k].reshape(1, 1)
        initial, steps = oracle(m, c, exact_affine(m, c, bias=0.2), grid, "em")
        exact.append(initial + sum(steps))
        assert within(stage.bound, exact[-1], stage.quadrature_error)
    assert within(result.joint.bound, sum(exact), result.joint.quadrature_error)
    assert result.joint.bound.value == pytest.approx(sum(s.bound.value for s in result.stages))


def test_bad_input():
    target = GaussianMixture([1.0], [[0.0]], [1.0])
    grid = uniform(1.0, 5, 0.01)
    with pytest.raises(ValueError, match="^n:"):
        girsanov_bound(target, target.score, grid, 0)
    for scheme in ("ancestral", "ode"):
        with pytest.raises(ValueError, match="^scheme:.*chain path KL"):
            girsanov_bound(target, target.score, grid, 10, scheme=scheme)
    with pytest.raises(ValueError, match="^scheme:"):
        girsanov_bound(target, target.score, grid, 10, scheme="heun")
    with pytest.raises(ValueError, match="^sub_steps:"):
        girsanov_bound(target, target.score, grid, 10, sub_steps=6)
    with pytest.raises(ValueError, match="^sub_steps:"):
        girsanov_bound(target, target.score, grid, 10, sub_steps=0)
    with pytest.raises(ValueError, match="^score:"):
        girsanov_bound(target, "score", grid, 10)
    with pytest.raises(ValueError, match="^grid:"):
        girsanov_bound(target, target.score, grid.flip(0), 10)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["ei", "em"])
def test_math_sanity_problem_tight(scheme):
    """100k draws, 16 Simpson intervals per step, against the scipy-integrated closed form."""
    target = GaussianMixture([1.0], [[2.0]], [0.25])
    grid = uniform(3.0, 40, 0.01)
    gen = torch.Generator().manual_seed(15)
    result = girsanov_bound(
        target, lambda x, t: target.score(x, t) + 0.3, grid, 100000, scheme, gen, sub_steps=16
    )
    mean, cov = torch.tensor([2.0], dtype=torch.float64), torch.tensor([[0.25]], dtype=torch.float64)
    initial, steps = oracle(mean, cov, exact_affine(mean, cov, bias=0.3), grid, scheme)
    assert within(result.bound, initial + sum(steps), result.quadrature_error)
