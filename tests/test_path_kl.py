"""Chain path KL: Monte Carlo against an all-Gaussian closed form, the docs/math.md sanity value, AR-DM
per stage and summed, and bad input."""

import math

import pytest
import torch

from synthetic.gaussian_mixture import GaussianMixture
from verify.grids import uniform
from verify.metrics.path_kl import chain_path_kl, chain_path_kl_ar
from verify.samplers.kernels import step_kernel

SIGMAS = 4.0


def f64(*values):
    return [torch.as_tensor(v, dtype=torch.float64) for v in values]


def law_at(t, gain, offset, cov):
    """x_t | a ~ N(a_t (gain a + offset), C_t), C_t = a_t^2 cov + s_t^2 I."""
    scale = math.exp(-t)
    return scale, scale**2 * cov + (1 - scale**2) * torch.eye(cov.shape[0], dtype=cov.dtype)


def chain_kl_oracle(gain, offset, cov, prefix_mean, prefix_cov, affine, grid, scheme):
    """Closed form of E_a KL(Q_grid(. | a) || P^_grid(. | a)) for a Gaussian stage x_0 | a ~
    N(gain a + offset, cov), a ~ N(prefix_mean, prefix_cov) (p = 0: no prefix) and an affine model
    score s(x, a, t) = A x + B a + c, affine(t) -> (A, B, c). Factorises Q in reverse time:
    KL(q_T || gamma) + sum_j E KL(q(x_{t_{j+1}} | x_{t_j}, a) || p^_j(. | x_{t_j}, a)), each a
    Gaussian KL whose mean gap D (x_{t_j}, a) + f is averaged in closed form. Returns
    (initial, [step terms])."""
    d = cov.shape[0]
    eye = torch.eye(d, dtype=torch.float64)
    times = grid.tolist()
    a_T, c_T = law_at(times[0], gain, offset, cov)
    centre = gain @ prefix_mean + offset
    spread = gain @ prefix_cov @ gain.T
    initial = 0.5 * float(c_T.trace() - d - torch.logdet(c_T) + a_T**2 * (centre @ centre + spread.trace()))
    steps = []
    for hi, lo in zip(times[:-1], times[1:], strict=True):
        b = math.exp(-(hi - lo))
        a_lo, c_lo = law_at(lo, gain, offset, cov)
        a_hi, c_hi = law_at(hi, gain, offset, cov)
        k_rev = b * c_lo @ torch.linalg.inv(c_hi)
        cov_rev = c_lo - b * k_rev @ c_lo
        kernel = step_kernel(scheme, hi, lo)
        a_mat, b_mat, c_vec = affine(hi)
        m = kernel.c_y * eye + kernel.c_s * a_mat
        d_mat = torch.cat([k_rev - m, (a_lo * eye - a_hi * k_rev) @ gain - kernel.c_s * b_mat], 1)
        f = (a_lo * eye - a_hi * k_rev) @ offset - kernel.c_s * c_vec
        mean_u = torch.cat([a_hi * centre, prefix_mean])
        cross = a_hi * gain @ prefix_cov
        cov_u = torch.cat(
            [
                torch.cat([c_hi + a_hi**2 * spread, cross], 1),
                torch.cat([cross.T, prefix_cov], 1),
            ]
        )
        gap = float((d_mat @ mean_u + f) @ (d_mat @ mean_u + f) + (d_mat @ cov_u @ d_mat.T).trace())
        v = kernel.v
        steps.append(
            0.5 * (float(cov_rev.trace()) / v - d + d * math.log(v) - float(torch.logdet(cov_rev)))
            + 0.5 * gap / v
        )
    return initial, steps


def joint_oracle(mean, cov, grid, scheme, bias=0.0, scale=1.0):
    """Oracle for the DDPM sampler on N(mean, cov) with score scale * (exact score) + bias."""
    d = mean.shape[0]

    def affine(t):
        a_t, c_t = law_at(t, torch.zeros(d, 0), mean, cov)
        precision = torch.linalg.inv(c_t)
        return -scale * precision, torch.zeros(d, 0), scale * a_t * precision @ mean + bias

    empty = torch.zeros(0, dtype=torch.float64)
    return chain_kl_oracle(
        torch.zeros(d, 0, dtype=torch.float64),
        mean,
        cov,
        empty,
        torch.zeros(0, 0, dtype=torch.float64),
        affine,
        grid,
        scheme,
    )


def perturbed(target, bias=0.0, scale=1.0):
    return lambda x, t: scale * target.score(x, t) + bias


def within(estimate, expected, slack=0.0):
    return abs(estimate.value - expected) <= SIGMAS * estimate.stderr + slack


def test_math_sanity_value():
    """docs/math.md: q_0 = N(2, 0.25), T = 3, 40 uniform EI steps, delta = 0.01, score + 0.3 -> 0.626."""
    target = GaussianMixture([1.0], [[2.0]], [0.25])
    grid = uniform(3.0, 40, 0.01)
    gen = torch.Generator().manual_seed(1)
    result = chain_path_kl(target, perturbed(target, bias=0.3), grid, 20000, generator=gen)
    assert within(result.total, 0.626, slack=0.0005)
    initial, steps = joint_oracle(*f64([2.0], [[0.25]]), grid, "ei", bias=0.3)
    assert initial + sum(steps) == pytest.approx(0.626, abs=0.0005)
    assert result.total.value == pytest.approx(result.initial.value + sum(s.value for s in result.steps))


GAUSSIAN_3D = (
    torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64),
    torch.tensor([[0.6, 0.2, 0.0], [0.2, 1.5, -0.3], [0.0, -0.3, 0.3]], dtype=torch.float64),
)


@pytest.mark.parametrize(
    "scheme, delta, bias, scale",
    [("ei", 0.01, 0.3, 1.0), ("em", 0.01, 0.0, 1.3), ("ancestral", 0.02, -0.2, 0.8), ("ei", 0.0, 0.0, 1.0)],
)
def test_gaussian_3d_matches_closed_form(scheme, delta, bias, scale):
    mean, cov = GAUSSIAN_3D
    target = GaussianMixture([1.0], mean[None], cov[None])
    grid = uniform(2.5, 25, delta)
    gen = torch.Generator().manual_seed(2)
    result = chain_path_kl(target, perturbed(target, bias, scale), grid, 6000, scheme, gen)
    initial, steps = joint_oracle(mean, cov, grid, scheme, bias, scale)
    assert within(result.total, initial + sum(steps))
    assert within(result.initial, initial)
    assert all(within(est, exact) for est, exact in zip(result.steps, steps, strict=True))


def test_resolves_em_from_ei():
    """EM and EI on the same grid are different samplers: the EM estimate matches the EM oracle and
    is many standard errors away from the EI one (the test has power)."""
    mean, cov = f64([2.0], [[0.25]])
    target = GaussianMixture([1.0], mean[None], cov[None])
    grid = uniform(3.0, 40, 0.01)
    initial, steps = joint_oracle(mean, cov, grid, "em")
    result = chain_path_kl(target, target.score, grid, 20000, "em", torch.Generator().manual_seed(3))
    assert within(result.total, initial + sum(steps))
    # the EI kernel on the same grid is a different sampler with a different chain path KL
    initial_ei, steps_ei = joint_oracle(mean, cov, grid, "ei")
    assert not within(result.total, initial_ei + sum(steps_ei))


TWO_PATCH = (
    torch.tensor([1.0, -0.5], dtype=torch.float64),
    torch.tensor([[1.0, 0.8], [0.8, 1.5]], dtype=torch.float64),
)


def stage_laws(mean, cov, delta0):
    """Stage 0: x^1 ~ N(mu_1, S_11); stage 1: x^2 | a ~ N(G a + g, S_c), a ~ q^1_{delta_0}."""
    g = cov[1:, :1] / cov[0, 0]
    s_c = cov[1:, 1:] - g @ cov[:1, 1:]
    a0, c0 = law_at(delta0, torch.zeros(1, 0), mean[:1], cov[:1, :1])
    empty = torch.zeros(0, dtype=torch.float64)
    return [
        (
            torch.zeros(1, 0, dtype=torch.float64),
            mean[:1],
            cov[:1, :1],
            empty,
            torch.zeros(0, 0, dtype=torch.float64),
        ),
        (g, mean[1:] - g @ mean[:1], s_c, a0 * mean[:1], c0),
    ]


def conditional_affine(gain, offset, cov, bias, scale):
    def affine(t):
        a_t, c_t = law_at(t, gain, offset, cov)
        precision = torch.linalg.inv(c_t)
        return (
            -scale * precision,
            scale * a_t * precision @ gain,
            scale * a_t * precision @ offset + bias,
        )

    return affine


@pytest.mark.parametrize("scheme, bias, scale", [("ei", 0.2, 1.0), ("em", 0.0, 0.8)])
def test_ar_stages_match_closed_form_and_add_up(scheme, bias, scale):
    mean, cov = TWO_PATCH
    target = GaussianMixture([1.0], mean[None], cov[None], patch_sizes=(1, 1))
    grids = [uniform(2.5, 12, 0.02), uniform(3.0, 20, 0.05)]

    def score(k, x, prefix, t):
        return scale * target.conditional_score(k, x, prefix, t) + bias

    result = chain_path_kl_ar(target, score, grids, 8000, scheme, torch.Generator().manual_seed(4))
    exact = []
    for (gain, offset, c, pm, pc), grid, est in zip(
        stage_laws(mean, cov, 0.02), grids, result.stages, strict=True
    ):
        initial, steps = chain_kl_oracle(
            gain, offset, c, pm, pc, conditional_affine(gain, offset, c, bias, scale), grid, scheme
        )
        exact.append(initial + sum(steps))
        assert within(est.total, exact[-1])
    assert within(result.joint.total, sum(exact))
    assert result.joint.total.value == pytest.approx(sum(s.total.value for s in result.stages))
    assert len(result.joint.steps) == 12 + 20


def test_ar_on_independent_patches_equals_the_joint_sampler():
    """Independent patches and one grid: AR-DM with the exact conditional score is the DDPM sampler
    with the joint score (each isotropic step acts patch by patch), so both chain path KLs agree."""
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    cov = torch.tensor([[0.4, 0.0, 0.0], [0.0, 1.2, 0.5], [0.0, 0.5, 0.8]], dtype=torch.float64)
    target = GaussianMixture([1.0], mean[None], cov[None], patch_sizes=(1, 2))
    grid = uniform(2.0, 15, 0.01)
    gen = torch.Generator().manual_seed(5)
    joint = chain_path_kl(target, perturbed(target, bias=0.25), grid, 6000, "ei", gen)

    def score(k, x, prefix, t):
        return target.conditional_score(k, x, prefix, t) + 0.25

    ar = chain_path_kl_ar(target, score, grid, 6000, "ei", gen)
    gap = abs(joint.total.value - ar.joint.total.value)
    assert gap <= SIGMAS * math.hypot(joint.total.stderr, ar.joint.total.stderr)
    initial, steps = joint_oracle(mean, cov, grid, "ei", bias=0.25)
    assert within(ar.joint.total, initial + sum(steps))


def test_bad_input():
    target = GaussianMixture([1.0], [[0.0]], [1.0])
    grid = uniform(1.0, 5, 0.01)
    with pytest.raises(ValueError, match="^n:"):
        chain_path_kl(target, target.score, grid, 0)
    with pytest.raises(ValueError, match="^n:"):
        chain_path_kl(target, target.score, grid, -3)
    with pytest.raises(ValueError, match="^scheme:.*v = 0"):
        chain_path_kl(target, target.score, grid, 10, scheme="ode")
    with pytest.raises(ValueError, match="^scheme:.*v = 0"):
        chain_path_kl(target, target.score, uniform(1.0, 5, 0.0), 10, scheme="ancestral")
    with pytest.raises(ValueError, match="^scheme:"):
        chain_path_kl(target, target.score, grid, 10, scheme="heun")
    with pytest.raises(ValueError, match="^grid:"):
        chain_path_kl(target, target.score, grid.flip(0), 10)
    with pytest.raises(ValueError, match="^score:"):
        chain_path_kl(target, lambda x, t: x[:, :0], grid, 10)
    with pytest.raises(ValueError, match="^target:"):
        chain_path_kl("gaussian", target.score, grid, 10)
    with pytest.raises(ValueError, match="^grids:"):
        chain_path_kl_ar(target, lambda k, x, a, t: x, [grid, grid], 10)


@pytest.mark.slow
def test_math_sanity_value_tight():
    """400k chains: the estimate resolves the closed form to about 0.01 nats' standard error."""
    target = GaussianMixture([1.0], [[2.0]], [0.25])
    grid = uniform(3.0, 40, 0.01)
    gen = torch.Generator().manual_seed(6)
    result = chain_path_kl(target, perturbed(target, bias=0.3), grid, 400000, generator=gen)
    initial, steps = joint_oracle(*f64([2.0], [[0.25]]), grid, "ei", bias=0.3)
    assert within(result.total, initial + sum(steps))
    assert all(within(est, exact) for est, exact in zip(result.steps, steps, strict=True))


def test_ar_target_needs_one_delta_per_patch_and_a_valid_n():
    from verify.metrics.targets import sample_ar_target

    target = GaussianMixture([1.0], [[0.5, -1.0]], [[[1.0, 0.3], [0.3, 0.8]]], patch_sizes=(1, 1))
    assert sample_ar_target(target, [0.01, 0.02], 5).shape == (5, 2)
    with pytest.raises(ValueError, match="deltas"):
        sample_ar_target(target, [0.01], 5)
    with pytest.raises(ValueError, match="n"):
        sample_ar_target(target, [0.01, 0.02], 0)
