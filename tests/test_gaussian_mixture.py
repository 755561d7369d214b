"""GaussianMixture against independent oracles: scipy densities, quadrature, Monte Carlo of the OU
forward process (bands of 5 standard errors), closed forms; its fast paths, chunking, caches and
extras (Hessian, Tweedie, affine scores). The protocol identities every family satisfies (chain
rule, autograd scores, reproducibility, bad input) are in test_distribution_contract.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from synthetic.gaussian_mixture import GaussianMixture

KINDS = ("full", "diagonal", "isotropic")
TIMES = (0.0, 0.3, 2.0)
PATCHES = (1, 2, 1)
F64 = torch.float64


def make_params(kind: str, m: int = 3, d: int = 4, seed: int = 0):
    """Off-centre, anisotropic, unequal-weight parameters (weights, means, covariances)."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.softmax(torch.randn(m, generator=g, dtype=F64), 0)
    means = 3.0 + 2.0 * torch.randn(m, d, generator=g, dtype=F64)
    if kind == "full":
        a = torch.randn(m, d, d, generator=g, dtype=F64) * torch.linspace(0.3, 1.5, d, dtype=F64)
        cov = a @ a.transpose(1, 2) + 0.2 * torch.eye(d, dtype=F64)
    elif kind == "diagonal":
        cov = 0.2 + torch.rand(m, d, generator=g, dtype=F64) * torch.linspace(0.5, 3.0, d, dtype=F64)
    else:
        cov = 0.2 + 2.0 * torch.rand(m, generator=g, dtype=F64)
    return weights, means, cov


def make_mixture(kind: str, patch_sizes=PATCHES, **kwargs) -> GaussianMixture:
    return GaussianMixture(*make_params(kind, **kwargs), patch_sizes=patch_sizes)


def points(mix: GaussianMixture, n: int, t: float, seed: int = 1) -> torch.Tensor:
    return mix.sample(n, t, generator=torch.Generator().manual_seed(seed))


def scipy_log_prob(weights, means, covs, x, t: float) -> np.ndarray:
    """log sum_i pi_i N(x; a_t mu_i, a_t^2 Sigma_i + s_t^2 I) with scipy, covs full (M, d, d)."""
    a, s2 = math.exp(-t), -math.expm1(-2 * t)
    eye = np.eye(means.shape[1])
    terms = [
        math.log(w) + multivariate_normal(a * mu, a * a * cov + s2 * eye).logpdf(x)
        for w, mu, cov in zip(weights.tolist(), means.numpy(), covs.numpy(), strict=True)
    ]
    return logsumexp(np.atleast_2d(np.array(terms).T), axis=1)


def scipy_conditional_log_prob(mix: GaussianMixture, k: int, x_k, prefix, t: float):
    """log q_t(x^k | a) = log q(a, a_t b + s_t z) - log q(a): both joint laws are GMMs (scipy)."""
    a, s2 = math.exp(-t), -math.expm1(-2 * t)
    p, cols = mix.patch_bounds[k], mix.patch_slice(k)
    covs, means = mix.covariances[:, : cols.stop, : cols.stop].clone(), mix.means[:, : cols.stop]
    covs[:, p:, :p] *= a
    covs[:, :p, p:] *= a
    covs[:, p:, p:] = a * a * covs[:, p:, p:] + s2 * torch.eye(cols.stop - p, dtype=F64)
    means = torch.cat([means[:, :p], a * means[:, p:]], dim=1)
    joint = scipy_log_prob(mix.weights, means, covs, torch.cat([prefix, x_k], 1).numpy(), 0.0)
    if p == 0:
        return joint
    return joint - scipy_log_prob(mix.weights, means[:, :p], covs[:, :p, :p], prefix.numpy(), 0.0)


def split_at(mix: GaussianMixture, x: torch.Tensor, k: int):
    """(x^k, x^{<k})."""
    return x[:, mix.patch_slice(k)], x[:, : mix.patch_bounds[k]]


# ----- densities, scores, Hessians -------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_log_prob_matches_scipy(kind, t):
    mix = make_mixture(kind)
    x = points(mix, 50, t)
    expected = scipy_log_prob(mix.weights, mix.means, mix.covariances, x.numpy(), t)
    np.testing.assert_allclose(mix.log_prob(x, t).numpy(), expected, rtol=1e-11, atol=1e-11)


@pytest.mark.oracle
def test_hessian_lipschitz_sanity_value():
    """docs/math.md: means 6 apart, variance 0.2: sup ||Hessian|| ~ 220 at t = 0, ~1 for t >= 1."""
    mix = GaussianMixture([0.5, 0.5], [[-3.0], [3.0]], [0.2, 0.2])
    x = torch.linspace(-8, 8, 4001, dtype=F64)[:, None]
    assert 200 < mix.hessian(x, 0.0).abs().max() < 240
    assert 0.5 < mix.hessian(x, 1.0).abs().max() < 1.5


@pytest.mark.parametrize("kind", ("diagonal", "isotropic"))
def test_fast_paths_equal_full_path(kind):
    fast = make_mixture(kind)
    full = GaussianMixture(fast.weights, fast.means, fast.covariances, patch_sizes=PATCHES)
    x = points(fast, 30, 0.0)
    for t in TIMES:
        for method in ("log_prob", "score", "hessian", "posterior_mean"):
            torch.testing.assert_close(
                getattr(fast, method)(x, t), getattr(full, method)(x, t), rtol=1e-12, atol=1e-12
            )
        for k in range(len(PATCHES)):
            for method in ("conditional_log_prob", "conditional_score"):
                torch.testing.assert_close(
                    getattr(fast, method)(k, *split_at(fast, x, k), t),
                    getattr(full, method)(k, *split_at(full, x, k), t),
                    rtol=1e-12,
                    atol=1e-12,
                )
    torch.testing.assert_close(fast.covariance(), full.covariance(), rtol=1e-12, atol=1e-12)
    assert fast.second_moment() == pytest.approx(full.second_moment(), rel=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_chunked_evaluation_equals_one_chunk(kind, monkeypatch):
    mix = make_mixture(kind)
    x = points(mix, 37, 0.5)
    whole = [mix.log_prob(x, 0.5), mix.score(x, 0.5), mix.hessian(x, 0.5)]
    whole.append(mix.conditional_score(2, *split_at(mix, x, 2), 0.5))
    monkeypatch.setattr("synthetic.chunking.CHUNK_ELEMENTS", 50)
    assert len(mix._joint_block().chunks(37)) > 5
    chunked = [mix.log_prob(x, 0.5), mix.score(x, 0.5), mix.hessian(x, 0.5)]
    chunked.append(mix.conditional_score(2, *split_at(mix, x, 2), 0.5))
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.oracle
@pytest.mark.parametrize("kind", KINDS)
def test_one_mixture_at_alternating_times_matches_scipy(kind):
    """The time-t coefficients, computed once per call and kept, are never reused at another t."""
    mix = make_mixture(kind)
    x = points(mix, 10, 0.3)
    x_k, prefix = split_at(mix, x, 2)
    for t in (0.3, 0.0, 2.0, 0.3):
        expected = scipy_log_prob(mix.weights, mix.means, mix.covariances, x.numpy(), t)
        np.testing.assert_allclose(mix.log_prob(x, t).numpy(), expected, rtol=1e-11, atol=1e-11)
        expected = scipy_conditional_log_prob(mix, 2, x_k, prefix, t)
        got = mix.conditional_log_prob(2, x_k, prefix, t).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


# ----- the forward process and moments -----------------------------------------------------------


def assert_within_bands(samples: torch.Tensor, expected: torch.Tensor, bands: float = 5.0):
    """Each column's sample mean within `bands` standard errors of `expected`."""
    err = samples.std(0) / math.sqrt(samples.shape[0])
    assert ((samples.mean(0) - expected).abs() <= bands * err).all(), (samples.mean(0) - expected) / err


@pytest.mark.oracle
@pytest.mark.parametrize("t", (0.0, 0.4))
@pytest.mark.parametrize("kind", KINDS)
def test_forward_process_matches_monte_carlo(kind, t):
    """OU from q_0 samples by hand: mean a_t m, covariance a_t^2 Cov + s_t^2 I, E||X_0||^2, and
    Stein's identities E[grad log q_t] = 0, E[grad log q_t(X) X^T] = -I for the exact q_t."""
    mix, n, d = make_mixture(kind), 40_000, 4
    g = torch.Generator().manual_seed(7)
    x0 = mix.sample(n, 0.0, generator=g)
    a, s = math.exp(-t), math.sqrt(-math.expm1(-2 * t))
    xt = a * x0 + s * torch.randn(n, d, generator=g, dtype=F64)
    mean = a * mix.mean()
    assert_within_bands(xt, mean)
    outer = ((xt - mean)[:, :, None] * (xt - mean)[:, None, :]).reshape(n, -1)
    cov = a * a * mix.covariance() + s * s * torch.eye(d, dtype=F64)
    assert_within_bands(outer, cov.reshape(-1))
    assert_within_bands(x0.square().sum(1, keepdim=True), torch.tensor([mix.second_moment()]))
    score = mix.score(xt, t)
    assert_within_bands(score, torch.zeros(d, dtype=F64))
    stein = (score[:, :, None] * xt[:, None, :]).reshape(n, -1)
    assert_within_bands(stein, -torch.eye(d, dtype=F64).reshape(-1))


@pytest.mark.oracle
def test_posterior_mean_matches_quadrature_and_gaussian_conditioning():
    t = 0.7
    a, s2 = math.exp(-t), -math.expm1(-2 * t)
    mix = GaussianMixture([0.3, 0.7], [[-2.0], [1.5]], [0.4, 1.3])

    def prior(u):
        return 0.3 * norm.pdf(u, -2.0, math.sqrt(0.4)) + 0.7 * norm.pdf(u, 1.5, math.sqrt(1.3))

    for x in (-2.5, 0.1, 3.0):

        def weight(u, x=x):
            return prior(u) * norm.pdf(x, a * u, math.sqrt(s2))

        num = integrate.quad(lambda u, w=weight: u * w(u), -20, 20, limit=200)[0]
        den = integrate.quad(weight, -20, 20, limit=200)[0]
        got = mix.posterior_mean(torch.tensor([[x]], dtype=F64), t)
        assert float(got) == pytest.approx(num / den, rel=1e-8, abs=1e-10)
    weights, means, cov = make_params("full", m=1)
    single = GaussianMixture(weights, means, cov)
    x = points(single, 10, t)
    c_t = a * a * cov[0] + s2 * torch.eye(4, dtype=F64)
    expected = means[0] + a * (x - a * means[0]) @ torch.linalg.solve(c_t, cov[0])
    torch.testing.assert_close(single.posterior_mean(x, t), expected, rtol=1e-11, atol=1e-11)


@pytest.mark.oracle
def test_marginal_matches_scipy_sub_block():
    for kind in KINDS:
        mix = make_mixture(kind)
        marginal = mix.marginal(1)
        assert marginal.patch_sizes == (2,)
        x = points(mix, 20, 0.3)[:, mix.patch_slice(1)]
        cols = mix.patch_slice(1)
        expected = scipy_log_prob(
            mix.weights, mix.means[:, cols], mix.covariances[:, cols, cols], x.numpy(), 0.3
        )
        np.testing.assert_allclose(marginal.log_prob(x, 0.3).numpy(), expected, rtol=1e-11)


# ----- conditionals -----------------------------------------------------------------------------


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("kind", KINDS)
def test_noised_conditional_matches_scipy(kind, t):
    mix = make_mixture(kind)
    x = points(mix, 30, 0.0)
    for k in range(len(PATCHES)):
        x_k, prefix = split_at(mix, points(mix, 30, t, seed=2), k)[0], split_at(mix, x, k)[1]
        expected = scipy_conditional_log_prob(mix, k, x_k, prefix, t)
        got = mix.conditional_log_prob(k, x_k, prefix, t).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def quadrature_conditional(mix: GaussianMixture, prefix: float):
    """1-D patch 1 of a 2-D mixture: the density b -> p(prefix, b) / p(prefix) by scipy."""
    covs = mix.covariances.numpy()
    means = mix.means.numpy()
    weights = mix.weights.numpy()

    def joint(b):
        return sum(
            w * multivariate_normal(mu, c).pdf([prefix, b])
            for w, mu, c in zip(weights, means, covs, strict=True)
        )

    marginal = sum(
        w * norm.pdf(prefix, mu[0], math.sqrt(c[0, 0])) for w, mu, c in zip(weights, means, covs, strict=True)
    )
    return lambda b: joint(b) / marginal


@pytest.mark.oracle
def test_noised_conditional_matches_quadrature():
    """q_t(x | a) = int q_0(b | a) N(x; a_t b, s_t^2) db, and the conditional moments, by quad."""
    weights, means, cov = make_params("full", m=3, d=2, seed=3)
    mix = GaussianMixture(weights, means, cov, patch_sizes=(1, 1))
    t, prefix = 0.4, 2.5
    a, s = math.exp(-t), math.sqrt(-math.expm1(-2 * t))
    density = quadrature_conditional(mix, prefix)
    for x in (-1.0, 1.7, 4.0):
        expected = integrate.quad(lambda b, x=x: density(b) * norm.pdf(x, a * b, s), -30, 30, limit=400)[0]
        got = mix.conditional_log_prob(1, [[x]], [[prefix]], t)
        assert float(got) == pytest.approx(math.log(expected), abs=1e-8)
    moments = [integrate.quad(lambda b, j=j: b**j * density(b), -30, 30, limit=400)[0] for j in (0, 1, 2)]
    assert moments[0] == pytest.approx(1.0, abs=1e-8)
    mean = a * moments[1]
    var = a * a * (moments[2] - moments[1] ** 2) + s * s
    n = 40_000
    prefixes = torch.full((n, 1), prefix, dtype=F64)
    draws = mix.conditional_sample(1, prefixes, t, generator=torch.Generator().manual_seed(5))
    assert draws.shape == (n, 1)
    assert_within_bands(draws, torch.tensor([mean]))
    assert_within_bands((draws - mean).square(), torch.tensor([var]))


@pytest.mark.parametrize("kind", KINDS)
def test_affine_scores_reproduce_scores(kind):
    weights, means, cov = make_params(kind, m=1)
    single = GaussianMixture(weights, means, cov, patch_sizes=PATCHES)
    x = points(single, 10, 0.0)
    for t in TIMES:
        a_mat, c = single.affine_score(t)
        torch.testing.assert_close(x @ a_mat.T + c, single.score(x, t), rtol=1e-11, atol=1e-11)
        for k in range(len(PATCHES)):
            x_k, prefix = split_at(single, x, k)
            a_mat, b_mat, c = single.conditional_affine_score(k, t)
            assert b_mat.shape == (PATCHES[k], single.patch_bounds[k])
            torch.testing.assert_close(
                x_k @ a_mat.T + prefix @ b_mat.T + c,
                single.conditional_score(k, x_k, prefix, t),
                rtol=1e-11,
                atol=1e-11,
            )


# ----- sampling ---------------------------------------------------------------------------------


def test_zero_weight_component_is_never_sampled():
    mix = GaussianMixture([0.0, 1.0], [[100.0], [0.0]], [1.0, 1.0])
    assert mix.sample(5000, generator=torch.Generator().manual_seed(0)).abs().max() < 10


def test_to_device_copy_agrees():
    mix = make_mixture("full")
    x = points(mix, 10, 0.3)
    mix.score(x, 0.3)  # fills the caches, which the copy must not share
    clone = mix.to("cpu")
    assert clone._cache == {}
    torch.testing.assert_close(clone.score(x, 0.3), mix.score(x, 0.3), rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", KINDS)
def test_cuda_copy_matches_cpu(kind):
    mix = make_mixture(kind)
    x = points(mix, 64, 0.3)
    gpu = mix.to("cuda")
    for method in ("log_prob", "score", "hessian"):
        got = getattr(gpu, method)(x.cuda(), 0.3).cpu()
        torch.testing.assert_close(got, getattr(mix, method)(x, 0.3), rtol=1e-10, atol=1e-10)
    got = gpu.conditional_score(2, *(v.cuda() for v in split_at(mix, x, 2)), 0.3).cpu()
    torch.testing.assert_close(got, mix.conditional_score(2, *split_at(mix, x, 2), 0.3))
    assert gpu.sample(10, 0.3, generator=torch.Generator("cuda").manual_seed(0)).is_cuda


# ----- property tests ---------------------------------------------------------------------------


@st.composite
def mixtures(draw):
    m = draw(st.integers(1, 4))
    sizes = tuple(draw(st.lists(st.integers(1, 2), min_size=1, max_size=3)))
    kind = draw(st.sampled_from(KINDS))
    seed = draw(st.integers(0, 2**16))
    return GaussianMixture(*make_params(kind, m=m, d=sum(sizes), seed=seed), patch_sizes=sizes)


@pytest.mark.oracle
@pytest.mark.property
@settings(max_examples=30, deadline=None)
@given(mix=mixtures(), t=st.floats(0.0, 3.0))
def test_random_mixtures_match_scipy(mix, t):
    x = points(mix, 6, t)
    expected = scipy_log_prob(mix.weights, mix.means, mix.covariances, x.numpy(), t)
    np.testing.assert_allclose(mix.log_prob(x, t).numpy(), expected, rtol=1e-10, atol=1e-10)
    k = mix.num_patches - 1
    x_k, prefix = split_at(mix, x, k)
    np.testing.assert_allclose(
        mix.conditional_log_prob(k, x_k, prefix, t).numpy(),
        scipy_conditional_log_prob(mix, k, x_k, prefix, t),
        rtol=1e-10,
        atol=1e-10,
    )


# ----- bad input --------------------------------------------------------------------------------

W, MU, COV = [0.4, 0.6], [[0.0, 1.0], [2.0, 3.0]], [[[1.0, 0.2], [0.2, 1.0]], [[2.0, 0.0], [0.0, 1.0]]]


@pytest.mark.parametrize(
    ("weights", "means", "covariances", "patch_sizes", "name"),
    [
        ([0.5, 0.6], MU, COV, None, "weights"),  # does not sum to 1
        ([-0.2, 1.2], MU, COV, None, "weights"),  # negative
        ([[0.4, 0.6]], MU, COV, None, "weights"),  # not a vector
        ([math.nan, 1.0], MU, COV, None, "weights"),
        (W, [[0.0, 1.0]], COV, None, "means"),  # one row per weight
        (W, [0.0, 1.0], COV, None, "means"),  # not (M, d)
        (W, [[0.0, math.inf], [2.0, 3.0]], COV, None, "means"),
        (W, MU, [[[1.0, 0.5], [0.2, 1.0]], COV[1]], None, "covariances"),  # not symmetric
        (W, MU, [[[1.0, 2.0], [2.0, 1.0]], COV[1]], None, "covariances"),  # not positive definite
        (W, MU, [COV[0]], None, "covariances"),  # wrong M
        (W, MU, [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]], None, "covariances"),  # wrong d (diagonal)
        (W, MU, [[1.0, 0.0], [1.0, 1.0]], None, "covariances"),  # diagonal not positive
        (W, MU, [1.0, -1.0], None, "covariances"),  # isotropic not positive
        (W, MU, [1.0, 1.0, 1.0], None, "covariances"),  # isotropic wrong M
        (W, MU, [[[COV]]], None, "covariances"),  # too many dimensions
        (W, MU, [1.0, math.nan], None, "covariances"),
        (W, MU, COV, (1, 2), "patch_sizes"),  # does not sum to d
        (W, MU, COV, (0, 2), "patch_sizes"),  # not positive
    ],
)
def test_bad_parameters_name_the_parameter(weights, means, covariances, patch_sizes, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        GaussianMixture(weights, means, covariances, patch_sizes=patch_sizes)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda m: m.hessian([[0.0, math.nan]]), "x"),
        (lambda m: m.hessian([[0.0, 0.0]], t=math.inf), "t"),
        (lambda m: m.posterior_mean([0.0, 0.0]), "x"),
        (lambda m: m.marginal(-1), "k"),
        (lambda m: m.affine_score(0.1), "weights"),  # M = 2: not a single Gaussian
        (lambda m: m.conditional_affine_score(1, 0.1), "weights"),
        (lambda m: m.marginal(0).conditional_affine_score(0), "weights"),
    ],
)
def test_bad_calls_name_the_parameter(call, name):
    mix = GaussianMixture(W, MU, COV, patch_sizes=(1, 1))
    with pytest.raises(ValueError, match=f"^{name}:"):
        call(mix)


def test_bad_patch_index_for_single_gaussian_affine_score():
    single = GaussianMixture([1.0], MU[:1], COV[:1], patch_sizes=(1, 1))
    with pytest.raises(ValueError, match="^k:"):
        single.conditional_affine_score(2, 0.1)
    with pytest.raises(ValueError, match="^t:"):
        single.affine_score(-0.5)
