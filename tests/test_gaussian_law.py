"""Exact Gaussian sampler laws against Monte Carlo runs of the kernel recursion and docs/math.md."""

import math

import pytest
import torch

from synthetic.presets import gaussian_chain
from verify.exact import gaussian_ar_sampler_law, gaussian_ar_target, gaussian_sampler_law
from verify.metrics import gaussian_expected_conditional_kl, gaussian_kl
from verify.metrics.targets import sample_ar_target
from verify.samplers.kernels import step_kernel

F64 = torch.float64


class OUGaussian:
    """Closed-form oracle: data N(mu, S) under OU noise, q_t = N(a_t mu, a_t^2 S + s_t^2 I), with
    two patches (the first `prefix_dim` coordinates, then the rest) and an affine score error
    (err_a x + err_c) added to every score."""

    def __init__(self, mean, cov, prefix_dim=1, err_a=0.0, err_c=0.0):
        self.mean = torch.tensor(mean, dtype=F64)
        self.cov = torch.tensor(cov, dtype=F64)
        self.dim, self.p = self.mean.shape[0], prefix_dim
        self.err_a = err_a * torch.ones(self.dim, self.dim, dtype=F64) / self.dim
        self.err_c = err_c * torch.ones(self.dim, dtype=F64)

    def law(self, t):
        a = math.exp(-t)
        return a * self.mean, a * a * self.cov + (1 - a * a) * torch.eye(self.dim, dtype=F64)

    def affine_score(self, t):
        m, c = self.law(t)
        prec = torch.linalg.inv(c)
        return -prec + self.err_a, prec @ m + self.err_c

    def score(self, x, t):
        a, c = self.affine_score(t)
        return x @ a.T + c

    def stage(self, k, t):
        """Stage k law given the clean prefix: x^k ~ N(gain a + offset, var) at OU time t."""
        p, a = self.p, math.exp(-t)
        s = self.cov
        if k == 0:
            gain = torch.zeros(p, 0, dtype=F64)
            offset, cov = self.mean[:p], s[:p, :p]
        else:
            gain = s[p:, :p] @ torch.linalg.inv(s[:p, :p])
            offset, cov = self.mean[p:] - gain @ self.mean[:p], s[p:, p:] - gain @ s[:p, p:]
        size = cov.shape[0]
        return a * gain, a * offset, a * a * cov + (1 - a * a) * torch.eye(size, dtype=F64)

    def conditional_affine_score(self, k, t):
        gain, offset, cov = self.stage(k, t)
        prec = torch.linalg.inv(cov)
        lo, hi = (0, self.p) if k == 0 else (self.p, self.dim)
        err = self.err_a[lo:hi]
        return -prec + err[:, lo:hi], prec @ gain + err[:, :lo], prec @ offset + self.err_c[lo:hi]

    def conditional_score(self, k, x_k, prefix, t):
        a, b, c = self.conditional_affine_score(k, t)
        return x_k @ a.T + prefix @ b.T + c

    def ar_target(self, delta):
        """Joint law of prod_k q^k_delta(x^k | x^{<k}) (clean prefixes), built from the stages."""
        g0, o0, c0 = self.stage(0, delta)
        g1, o1, c1 = self.stage(1, delta)
        mean = torch.cat([o0, g1 @ o0 + o1])
        top = torch.cat([c0, c0 @ g1.T], dim=1)
        bottom = torch.cat([g1 @ c0, g1 @ c0 @ g1.T + c1], dim=1)
        return mean, torch.cat([top, bottom])


TARGET_2D = dict(mean=[1.0, -0.5], cov=[[0.8, 0.3], [0.3, 0.4]])
TARGET_3D = dict(mean=[1.0, -0.5, 0.3], cov=[[0.8, 0.3, 0.1], [0.3, 0.4, 0.0], [0.1, 0.0, 1.5]])


def uniform_grid(T, N, delta):
    return torch.linspace(T, delta, N + 1, dtype=F64)


def test_math_md_sanity_value():
    # q_0 = N(2, 0.25), T = 3, 40 uniform EI steps, delta = 0.01, score + 0.3: exact KL 0.102.
    truth = OUGaussian([2.0], [[0.25]], err_c=0.3)
    law = gaussian_sampler_law(truth.affine_score, uniform_grid(3.0, 40, 0.01), 1)
    kl = gaussian_kl(*truth.law(0.01), law.mean, law.cov)
    assert round(kl, 3) == 0.102


def monte_carlo_moments(samples):
    """Sample mean and covariance with standard errors (normal theory for the covariance)."""
    n = samples.shape[0]
    mean = samples.mean(0)
    cov = torch.cov(samples.T)
    var = cov.diagonal()
    return mean, (var / n).sqrt(), cov, ((var[:, None] * var[None, :] + cov**2) / n).sqrt()


def assert_moments(samples, mean, cov, bands=4.5):
    mc_mean, mean_se, mc_cov, cov_se = monte_carlo_moments(samples)
    assert ((mc_mean - mean).abs() < bands * mean_se).all(), (mc_mean, mean)
    assert ((mc_cov - cov).abs() < bands * cov_se).all(), (mc_cov, cov)


def run_kernel(score, grid, y, scheme, generator):
    """The reverse chain y' = c_y y + c_s s(y, t_j) + sqrt(v) xi, independently of the samplers."""
    times = grid.tolist()
    for t_from, t_to in zip(times[:-1], times[1:], strict=True):
        k = step_kernel(scheme, t_from, t_to)
        noise = torch.randn(y.shape, dtype=F64, generator=generator)
        y = k.c_y * y + k.c_s * score(y, t_from) + math.sqrt(k.v) * noise
    return y


@pytest.mark.parametrize("scheme", ["ei", "em", "ancestral", "ode"])
def test_recursion_matches_monte_carlo(scheme):
    truth = OUGaussian(**TARGET_3D, err_a=0.2, err_c=0.3)
    grid = uniform_grid(2.0, 25, 0.02)
    law = gaussian_sampler_law(truth.affine_score, grid, 3, scheme=scheme)
    gen = torch.Generator().manual_seed(1)
    y = torch.randn(40_000, 3, dtype=F64, generator=gen)
    assert_moments(run_kernel(truth.score, grid, y, scheme, gen), law.mean, law.cov)


def test_ar_recursion_matches_monte_carlo():
    truth = OUGaussian(**TARGET_3D, prefix_dim=2, err_a=0.3, err_c=-0.2)
    grids = [uniform_grid(2.0, 20, 0.05), uniform_grid(1.5, 15, 0.02)]
    law = gaussian_ar_sampler_law(truth.conditional_affine_score, (2, 1), grids, scheme="em")
    gen = torch.Generator().manual_seed(2)
    n = 40_000
    x1 = run_kernel(
        lambda y, t: truth.conditional_score(0, y, y[:, :0], t),
        grids[0],
        torch.randn(n, 2, dtype=F64, generator=gen),
        "em",
        gen,
    )
    x2 = run_kernel(
        lambda y, t: truth.conditional_score(1, y, x1, t),
        grids[1],
        torch.randn(n, 1, dtype=F64, generator=gen),
        "em",
        gen,
    )
    assert_moments(torch.cat([x1, x2], dim=1), law.mean, law.cov)
    # the per-stage laws are the regressions of the joint on the prefix
    joint_gain = law.cov[2:, :2] @ torch.linalg.inv(law.cov[:2, :2])
    torch.testing.assert_close(law.stages[1].gain, joint_gain, rtol=1e-10, atol=1e-12)
    residual = law.cov[2:, 2:] - joint_gain @ law.cov[:2, 2:]
    torch.testing.assert_close(law.stages[1].cov, residual, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("scheme", ["ei", "em", "ancestral"])
def test_chain_rule_exact(scheme):
    truth = OUGaussian(**TARGET_3D, prefix_dim=1, err_a=0.3, err_c=0.2)
    grid = uniform_grid(3.0, 30, 0.01)
    law = gaussian_ar_sampler_law(truth.conditional_affine_score, (1, 2), grid, scheme=scheme)
    target = truth.ar_target(0.01)
    joint = gaussian_kl(*target, law.mean, law.cov)
    stages = [
        gaussian_expected_conditional_kl(*target, law.mean, law.cov, p, size) for p, size in ((0, 1), (1, 2))
    ]
    assert joint > 0.01
    assert abs(sum(stages) - joint) < 1e-8


def test_bad_inputs():
    truth = OUGaussian(**TARGET_2D)
    with pytest.raises(ValueError, match="scheme"):
        gaussian_sampler_law(truth.affine_score, uniform_grid(1.0, 4, 0.0), 2, scheme="heun")
    with pytest.raises(ValueError, match="grid"):
        gaussian_sampler_law(truth.affine_score, torch.tensor([0.0, 1.0], dtype=F64), 2)
    with pytest.raises(ValueError, match="affine_score"):
        gaussian_sampler_law(truth.affine_score, uniform_grid(1.0, 4, 0.0), 3)
    with pytest.raises(ValueError, match="grids"):
        gaussian_ar_sampler_law(truth.conditional_affine_score, (1, 1), [uniform_grid(1, 4, 0)])


def test_ar_target_law_closed_form_two_patches():
    """K = 2 one-dimensional patches by hand: x1 ~ N(a m1, a^2 S11 + s^2), x2 | x1 regression."""
    mean = torch.tensor([1.0, -0.5], dtype=torch.float64)
    cov = torch.tensor([[1.0, 0.8], [0.8, 1.5]], dtype=torch.float64)
    delta = 0.2
    a, s2 = math.exp(-delta), -math.expm1(-2 * delta)
    g = 0.8 / 1.0
    v1 = a**2 + s2
    expected_cov = torch.tensor(
        [[v1, a * g * v1], [a * g * v1, (a * g) ** 2 * v1 + a**2 * (1.5 - g * 0.8) + s2]], dtype=torch.float64
    )
    m1 = a * 1.0
    expected_mean = torch.tensor([m1, a * (g * m1 - 0.5 - g * 1.0)], dtype=torch.float64)
    got_mean, got_cov, _ = gaussian_ar_target(mean, cov, (1, 1), delta)
    assert torch.allclose(got_mean, expected_mean, atol=1e-14)
    assert torch.allclose(got_cov, expected_cov, atol=1e-14)


def test_ar_target_law_matches_monte_carlo():
    """Moments of p_AR drawn patch by patch with the chain's own conditional sampler
    (verify.metrics.targets.sample_ar_target), one delta per stage, against the stacked law."""
    target, deltas, n = gaussian_chain(3, 2, 0.9, seed=2), (0.3, 0.05, 0.6), 200_000
    mean, cov, _ = gaussian_ar_target(target.mean(), target.covariance(), target.patch_sizes, deltas)
    x = sample_ar_target(target, deltas, n, torch.Generator().manual_seed(0))
    se_mean = (cov.diagonal() / n).sqrt()
    assert ((x.mean(0) - mean).abs() <= 5 * se_mean).all()
    se_cov = ((cov.diagonal()[:, None] * cov.diagonal()[None, :] + cov**2) / n).sqrt()
    assert ((torch.cov(x.T) - cov).abs() <= 5 * se_cov).all()
