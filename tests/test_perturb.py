"""Score perturbations (verify.samplers.perturb): error fields, affine maps, eps_score^2."""

import math

import pytest
import torch

from synthetic import LinearGaussianChain
from verify import grids
from verify.samplers import perturb

D = torch.float64


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def target():
    """An off-centre, anisotropic, dependent Gaussian in d = 4 (two patches of 2)."""
    return LinearGaussianChain(
        2,
        initial_mean=torch.tensor([1.5, -0.5]),
        initial_cov=torch.tensor([[0.8, 0.2], [0.2, 0.3]]),
        transition_matrices=torch.tensor([[0.7, 0.3], [-0.2, 0.9]]),
        offsets=torch.tensor([0.5, -1.0]),
        noise_cov=torch.tensor([[0.4, 0.1], [0.1, 0.2]]),
    )


def antisymmetric(d, seed=0):
    m = torch.randn(d, d, dtype=D, generator=gen(seed))
    return m - m.T


def wrappers(score, patch_sizes=None):
    """One of each perturbation, plain (patch_sizes None) or conditional, on d = 4."""
    return [
        perturb.Bias(score, [0.3, -0.2, 0.1, 0.5], patch_sizes),
        perturb.Scaling(score, -0.25, patch_sizes),
        perturb.LinearField(score, torch.randn(4, 4, dtype=D, generator=gen(1)), patch_sizes),
        perturb.RotationField(score, antisymmetric(4), 0.2, patch_sizes),
        perturb.FourierField(score, 4, 0.3, num_features=16, generator=gen(2), patch_sizes=patch_sizes),
    ]


def points(n=64):
    return torch.randn(n, 4, dtype=D, generator=gen(7)) + torch.tensor([1.0, -1.0, 0.5, 2.0], dtype=D)


def expected_error(wrapper, z, exact, cols):
    """The documented field on z (leading coordinates; the rest 0), restricted to cols."""
    w = z.shape[1]
    if isinstance(wrapper, perturb.Bias):
        return wrapper.b[cols].expand(z.shape[0], -1)
    if isinstance(wrapper, perturb.Scaling):
        return wrapper.c * exact
    if isinstance(wrapper, perturb.LinearField):
        return z @ wrapper.G[cols, :w].T
    if isinstance(wrapper, perturb.RotationField):
        return wrapper.eps * torch.tanh(z @ wrapper.R[cols, :w].T)
    total = torch.zeros(z.shape[0], 4, dtype=D)
    for a, w_i, phi in zip(wrapper.a, wrapper.w, wrapper.phi, strict=True):
        total += torch.cos(z @ w_i[:w] + phi)[:, None] * a
    return wrapper.eps * total[:, cols]


@pytest.mark.parametrize("index", range(5))
def test_plain_error_is_perturbed_minus_exact_and_the_documented_field(index):
    truth = target()
    wrapper = wrappers(truth.score)[index]
    x, t = points(), 0.3
    exact = truth.score(x, t)
    error = wrapper.error(x, t)
    assert torch.allclose(wrapper(x, t) - exact, error, rtol=0, atol=1e-12)
    assert torch.allclose(error, expected_error(wrapper, x, exact, slice(0, 4)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", range(5))
def test_conditional_error_restricts_the_joint_field_to_the_patch(index):
    truth = target()
    wrapper = wrappers(truth.conditional_score, (2, 2))[index]
    x, t = points(), 0.3
    for k, cols in ((0, slice(0, 2)), (1, slice(2, 4))):
        x_k, prefix = x[:, cols], x[:, : cols.start]
        exact = truth.conditional_score(k, x_k, prefix, t)
        error = wrapper.error(k, x_k, prefix, t)
        assert torch.allclose(wrapper(k, x_k, prefix, t) - exact, error, rtol=0, atol=1e-12)
        expected = expected_error(wrapper, x[:, : cols.stop], exact, cols)
        assert torch.allclose(error, expected, rtol=1e-12, atol=1e-12)


def test_rotation_field_is_bounded_and_not_a_gradient():
    wrapper = perturb.RotationField(lambda x, t: torch.zeros_like(x), antisymmetric(4), 0.2)
    assert wrapper.error(100 * points(), 0.0).abs().max() <= 0.2
    jac = torch.autograd.functional.jacobian(lambda z: wrapper.error(z[None], 0.0)[0], points(1)[0])
    assert (jac - jac.T).abs().max() > 1e-3  # a gradient field has a symmetric Jacobian


def test_fourier_field_is_fixed_by_its_generator():
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    a, b, c = (perturb.FourierField(zero, 4, 0.3, generator=gen(s)) for s in (5, 5, 6))
    x = points()
    assert torch.equal(a.error(x, 0.1), b.error(x, 0.1))
    assert not torch.equal(a.error(x, 0.1), c.error(x, 0.1))


@pytest.mark.parametrize("index", range(3))
def test_affine_maps_agree_with_the_wrapped_callable(index):
    truth = target()
    x, t = points(), 0.4
    plain = wrappers(truth.score)[index]
    A, c = plain.affine(*truth.affine_score(t), t)
    assert torch.allclose(plain(x, t), x @ A.T + c, rtol=1e-10, atol=1e-10)
    conditional = wrappers(truth.conditional_score, (2, 2))[index]
    for k, cols in ((0, slice(0, 2)), (1, slice(2, 4))):
        A, B, c = conditional.conditional_affine(k, *truth.conditional_affine_score(k, t), t)
        x_k, prefix = x[:, cols], x[:, : cols.start]
        expected = x_k @ A.T + prefix @ B.T + c
        assert torch.allclose(conditional(k, x_k, prefix, t), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("index", [3, 4])
def test_nonlinear_fields_have_no_affine_map(index):
    truth = target()
    with pytest.raises(NotImplementedError):
        wrappers(truth.score)[index].affine(*truth.affine_score(0.2), 0.2)


def test_eps_score_squared_of_a_bias_is_exact():
    grid = grids.uniform(3.0, 20, 0.01)
    b = torch.tensor([0.3, -0.2, 0.1, 0.5], dtype=D)
    value, se = perturb.eps_score_squared(perturb.Bias(target().score, b).error, target(), grid, 50, gen())
    assert value == pytest.approx((3.0 - 0.01) * float(b @ b), rel=1e-12) and se < 1e-12


def test_eps_score_squared_of_a_scaling_is_the_fisher_information():
    """E || c grad log q_t(X_t) ||^2 = c^2 tr(C_t^{-1}) for a Gaussian q_t = N(a_t mu, C_t)."""
    truth, c = target(), 0.3
    grid = grids.exponential_linear(4.0, 12, 0.05)
    value, se = perturb.eps_score_squared(perturb.Scaling(truth.score, c).error, truth, grid, 4000, gen(3))
    times = grid.tolist()
    exact = 0.0
    for t_from, t_to in zip(times[:-1], times[1:], strict=True):
        a2 = math.exp(-2 * t_from)
        cov = a2 * truth.covariance() + (1 - a2) * torch.eye(4, dtype=D)
        exact += (t_from - t_to) * c**2 * float(torch.linalg.inv(cov).trace())
    assert 0 < se < 0.05 * exact and abs(value - exact) < 4.5 * se


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: perturb.Bias(target().score, [[0.1]]), "b"),
        (lambda: perturb.Bias(target().score, [math.nan]), "b"),
        (lambda: perturb.Bias("score", [0.1]), "score"),
        (lambda: perturb.Scaling(target().score, [0.1, 0.2]), "c"),
        (lambda: perturb.LinearField(target().score, torch.ones(2, 3)), "G"),
        (lambda: perturb.RotationField(target().score, torch.ones(2, 2), 0.1), "R"),
        (lambda: perturb.FourierField(target().score, 4, 0.1, bandwidth=0.0), "bandwidth"),
        (lambda: perturb.FourierField(target().score, 4, 0.1, num_features=0), "num_features"),
        (lambda: perturb.Bias(target().conditional_score, [0.1] * 4, (2, 1)), "patch_sizes"),
        (lambda: perturb.Bias(target().score, [0.1] * 4)(torch.zeros(3, 2), 0.1), "x"),
        (lambda: perturb.Bias(target().score, [0.1] * 4)(torch.zeros(3, 4)), "score"),
        (
            lambda: perturb.Scaling(target().conditional_score, 0.1, (2, 2)).error(2, None, None, 0.1),
            "k",
        ),
        (
            lambda: perturb.Bias(target().score, [0.1] * 4).affine(torch.eye(3), torch.zeros(3), 0.1),
            "A",
        ),
        (
            lambda: perturb.Bias(target().score, [0.1] * 4).conditional_affine(0, 1, 1, 1, 0.1),
            "plain",
        ),
        (
            lambda: perturb.Scaling(target().conditional_score, 0.1, (2, 2)).affine(
                torch.eye(2), torch.zeros(2), 0.1
            ),
            "conditional",
        ),
        (
            lambda: perturb.eps_score_squared(lambda x, t: x, target(), grids.uniform(1.0, 2), 1, gen()),
            "n",
        ),
        (
            lambda: perturb.eps_score_squared(lambda x, t: x, target(), [0.0, 1.0], 10, gen()),
            "grid",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
