"""Patch mutual information against closed forms (Gaussian log-determinants), 2-D quadrature, and
brute-force enumeration of a Markov chain's hidden paths (scipy densities)."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from synthetic import (
    Distribution,
    GaussianMixture,
    IndependentPatches,
    LinearGaussianChain,
    MarkovChainMixture,
)
from verify.metrics.mutual_info import conditional_mutual_information, mutual_information

PATCHES = (1, 2, 1, 2)


def correlated_gaussian() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    root = rng.normal(size=(6, 6)) * 0.5 + np.eye(6)
    return rng.normal(size=6), root @ root.T


def logdet(cov, idx) -> float:
    return np.linalg.slogdet(cov[np.ix_(idx, idx)])[1] if len(idx) else 0.0


def gaussian_cmi(cov, a, b, c) -> float:
    """I(A; B | C) = 1/2 [log det S_AC + log det S_BC - log det S_C - log det S_ABC]."""
    return 0.5 * (logdet(cov, a + c) + logdet(cov, b + c) - logdet(cov, c) - logdet(cov, a + b + c))


def columns(patches) -> list[int]:
    bounds = np.cumsum((0,) + PATCHES)
    return [j for k in patches for j in range(bounds[k], bounds[k + 1])]


def check(estimate, exact):
    assert estimate.stderr > 0
    assert abs(estimate.value - exact) <= 4 * estimate.stderr + 1e-12


@pytest.mark.oracle
@pytest.mark.parametrize("k", [1, 2, 3])
def test_gaussian_mutual_information(k):
    mean, cov = correlated_gaussian()
    dist = GaussianMixture([1.0], mean[None], cov[None], patch_sizes=PATCHES)
    exact = gaussian_cmi(cov, columns([k]), columns(range(k)), [])
    check(mutual_information(dist, k, 20000, torch.Generator().manual_seed(k)), exact)


@pytest.mark.oracle
@pytest.mark.parametrize("k, window", [(2, 1), (3, 1), (3, 2)])
def test_gaussian_conditional_mutual_information(k, window):
    mean, cov = correlated_gaussian()
    dist = GaussianMixture([1.0], mean[None], cov[None], patch_sizes=PATCHES)
    kept, dropped = columns(range(k - window, k)), columns(range(k - window))
    exact = gaussian_cmi(cov, columns([k]), dropped, kept)
    estimate = conditional_mutual_information(dist, k, window, 20000, torch.Generator().manual_seed(k))
    check(estimate, exact)


def test_full_window_gives_zero():
    mean, cov = correlated_gaussian()
    dist = GaussianMixture([1.0], mean[None], cov[None], patch_sizes=PATCHES)
    estimate = conditional_mutual_information(dist, 2, 2, 100, torch.Generator().manual_seed(0))
    assert abs(estimate.value) < 1e-12


@pytest.mark.oracle
def test_mixture_mutual_information_by_quadrature():
    """Two 1-D patches of a 3-component mixture: I = sum q log(q / (q_1 q_2)) dx on a fine grid."""
    weights = np.array([0.5, 0.3, 0.2])
    means = np.array([[-1.5, 1.0], [1.0, -0.5], [2.0, 2.0]])
    covs = np.array([[[0.6, 0.3], [0.3, 0.5]], [[0.4, -0.2], [-0.2, 0.7]], [[0.3, 0.0], [0.0, 0.3]]])
    grid = np.linspace(-6, 7, 521)
    x1, x2 = np.meshgrid(grid, grid, indexing="ij")
    points = np.stack([x1.ravel(), x2.ravel()], axis=1)
    log_q = logsumexp(
        [
            np.log(w) + multivariate_normal(m, c).logpdf(points)
            for w, m, c in zip(weights, means, covs, strict=True)
        ],
        axis=0,
    ).reshape(x1.shape)
    dx = grid[1] - grid[0]
    q = np.exp(log_q)
    log_q1, log_q2 = np.log(q.sum(1) * dx), np.log(q.sum(0) * dx)
    exact = float((q * (log_q - log_q1[:, None] - log_q2[None, :])).sum() * dx * dx)
    dist = GaussianMixture(weights, means, covs, patch_sizes=(1, 1))
    check(mutual_information(dist, 1, 20000, torch.Generator().manual_seed(1)), exact)


def markov_chain(transition) -> MarkovChainMixture:
    means = [[0.0, 1.0], [1.5, -0.5], [-1.0, -1.0]]
    covs = [[[0.5, 0.1], [0.1, 0.4]], [[0.3, 0.0], [0.0, 0.6]], [[0.8, -0.2], [-0.2, 0.5]]]
    return MarkovChainMixture([0.6, 0.3, 0.1], transition, means, covs, num_patches=4)


@pytest.mark.oracle
def test_markov_cmi_matches_enumeration():
    """The same draws scored with log q(x^k | W) from the enumerated S^K-component mixture,
    marginalised by hand with scipy, give the same estimate to rounding."""
    dist = markov_chain([[0.7, 0.2, 0.1], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    k, window = 3, 1
    estimate = conditional_mutual_information(dist, k, window, 500, torch.Generator().manual_seed(2))

    x = dist.sample(500, generator=torch.Generator().manual_seed(2)).numpy()
    mixture = dist.to_mixture()
    weights, means, covs = (t.numpy() for t in (mixture.weights, mixture.means, mixture.covariances))

    def log_marginal(cols):
        cols = list(cols)
        return logsumexp(
            [
                np.log(w) + multivariate_normal(m[cols], c[np.ix_(cols, cols)]).logpdf(x[:, cols])
                for w, m, c in zip(weights, means, covs, strict=True)
            ],
            axis=0,
        )

    full = log_marginal(range(8)) - log_marginal(range(6))
    windowed = log_marginal(range(4, 8)) - log_marginal(range(4, 6))
    assert estimate.value == pytest.approx(np.mean(full - windowed), abs=1e-9)
    assert estimate.stderr == pytest.approx(np.std(full - windowed, ddof=1) / np.sqrt(500), rel=1e-6)


def test_independent_patches_give_zero():
    """Identical transition rows: the hidden states, hence the patches, are independent."""
    row = [0.6, 0.3, 0.1]
    dist = markov_chain([row, row, row])
    for k, window in [(1, 0), (3, 0), (3, 1)]:
        estimate = conditional_mutual_information(dist, k, window, 2000, torch.Generator().manual_seed(k))
        assert abs(estimate.value) <= 4 * estimate.stderr + 1e-12


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 4}, "k:"),
        ({"k": 1.5}, "k:"),
        ({"window": 3}, "window:"),
        ({"window": -1}, "window:"),
        ({"n": 1}, "n:"),
    ],
)
def test_bad_input_raises(kwargs, match):
    mean, cov = correlated_gaussian()
    args = {"dist": GaussianMixture([1.0], mean[None], cov[None], patch_sizes=PATCHES)}
    args.update({"k": 2, "window": 1, "n": 100} | kwargs)
    with pytest.raises(ValueError, match=match):
        conditional_mutual_information(**args)


@pytest.mark.oracle
def test_linear_gaussian_chain_matches_its_covariance():
    chain = LinearGaussianChain(
        4, [0.5, -1.0], np.eye(2), [[0.8, 0.3], [-0.2, 0.5]], [0.1, 0.0], 0.5 * np.eye(2)
    )
    cov = chain.covariance().numpy()
    exact = gaussian_cmi(cov, [4, 5], [0, 1, 2, 3], [])
    assert exact > 0.1
    check(mutual_information(chain, 2, 20000, torch.Generator().manual_seed(5)), exact)
    # Markov property: given the last patch, the earlier ones carry no information (0 exactly)
    check(conditional_mutual_information(chain, 3, 1, 1000, torch.Generator().manual_seed(6)), 0.0)


def test_independent_patches_family_gives_zero():
    parts = [GaussianMixture([0.3, 0.7], [[-1.0], [1.0]], [0.2, 0.5]) for _ in range(3)]
    estimate = mutual_information(IndependentPatches(parts), 2, 100, torch.Generator().manual_seed(0))
    assert abs(estimate.value) < 1e-12


class Opaque(Distribution):
    """A distribution the estimator knows nothing about."""

    def __init__(self):
        self._set_patches(2, (1, 1))

    _sample_data = _log_prob = _score = _conditional_log_prob = None
    _conditional_score = _conditional_sample_data = None


def test_unsupported_family_raises():
    with pytest.raises(ValueError, match="^dist: Opaque declares no patch marginals"):
        mutual_information(Opaque(), 1, 100)
