"""MarkovChainMixture against independent oracles: its enumerated GaussianMixture, a scipy
enumeration of the S^K paths, autograd, the chain rule and Monte Carlo moments."""

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from synthetic import MarkovChainMixture

TIMES = (0.0, 0.05, 0.7, 3.0)


def make_chain(num_states=3, num_patches=3, p=2, seed=0, sparse=False):
    """Off-centre, anisotropic emissions, unequal initial law; `sparse` puts zeros in P."""
    g = torch.Generator().manual_seed(seed)
    transition = torch.rand(num_states, num_states, dtype=torch.float64, generator=g) + 0.05
    if sparse:
        transition[0, 1:] = 0.0
        transition[1, 0] = 0.0
    transition = transition / transition.sum(1, keepdim=True)
    initial = torch.arange(1, num_states + 1, dtype=torch.float64)
    initial = initial / initial.sum()
    means = 0.7 + 1.5 * torch.randn(num_states, p, dtype=torch.float64, generator=g)
    roots = torch.randn(num_states, p, p, dtype=torch.float64, generator=g)
    covariances = 0.3 * roots @ roots.transpose(1, 2) + 0.05 * torch.eye(p, dtype=torch.float64)
    return MarkovChainMixture(initial, transition, means, covariances, num_patches)


@pytest.fixture(scope="module", params=[False, True], ids=["dense", "sparse"])
def chain(request):
    return make_chain(sparse=request.param)


@pytest.fixture(scope="module")
def mixture(chain):
    return chain.to_mixture()


@pytest.fixture(scope="module")
def points(chain):
    x = chain.sample(40, generator=torch.Generator().manual_seed(1))
    return torch.cat([x, x + 2.5])  # typical points and points far from the data


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
def test_log_prob_and_score_match_enumerated_mixture(chain, mixture, points, t):
    torch.testing.assert_close(chain.log_prob(points, t), mixture.log_prob(points, t), atol=1e-10, rtol=0)
    torch.testing.assert_close(chain.score(points, t), mixture.score(points, t), atol=1e-10, rtol=0)


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
def test_conditionals_match_enumerated_mixture(chain, mixture, points, t):
    for k, (lo, hi) in enumerate(itertools.pairwise(chain.patch_bounds)):
        args = (k, points[:, lo:hi], points[:, :lo], t)
        torch.testing.assert_close(
            chain.conditional_log_prob(*args), mixture.conditional_log_prob(*args), atol=1e-10, rtol=0
        )
        torch.testing.assert_close(
            chain.conditional_score(*args), mixture.conditional_score(*args), atol=1e-10, rtol=0
        )


@pytest.mark.oracle
def test_log_prob_matches_scipy_path_enumeration(chain, points):
    t = 0.4
    a, v = math.exp(-t), -math.expm1(-2 * t)
    x = points[:6].numpy()
    p, eye = chain.patch_dim, np.eye(chain.patch_dim)
    terms = []
    for path in itertools.product(range(chain.num_states), repeat=chain.num_patches):
        log_w = math.log(chain.initial[path[0]])
        for s, s_next in itertools.pairwise(path):
            log_w += math.log(chain.transition[s, s_next]) if chain.transition[s, s_next] > 0 else -np.inf
        for k, s in enumerate(path):
            emission = multivariate_normal(
                a * chain.means[s].numpy(), a * a * chain.covariances[s].numpy() + v * eye
            )
            log_w = log_w + emission.logpdf(x[:, k * p : (k + 1) * p])
        terms.append(log_w)
    expected = logsumexp(np.stack(terms), axis=0)
    np.testing.assert_allclose(chain.log_prob(points[:6], t).numpy(), expected, rtol=0, atol=1e-10)


@pytest.mark.oracle
def test_state_posteriors_match_path_enumeration():
    chain = make_chain(num_states=2, num_patches=3, p=1, seed=3)
    x = chain.sample(5, generator=torch.Generator().manual_seed(2))
    t = 0.2
    a, v = math.exp(-t), -math.expm1(-2 * t)
    expected = np.zeros((5, 3, 2))
    for path in itertools.product(range(2), repeat=3):
        log_w = math.log(chain.initial[path[0]])
        log_w += sum(math.log(chain.transition[s, r]) for s, r in itertools.pairwise(path))
        for k, s in enumerate(path):
            std = math.sqrt(a * a * float(chain.covariances[s, 0, 0]) + v)
            log_w = log_w + norm.logpdf(x[:, k].numpy(), a * float(chain.means[s, 0]), std)
        for k, s in enumerate(path):
            expected[:, k, s] += np.exp(log_w)
    expected /= expected.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(chain.state_posteriors(x, t).numpy(), expected, rtol=0, atol=1e-12)


def _assert_moments(samples, mean, var, z=5.0):
    """Sample mean and variance per coordinate within z standard errors of the truth."""
    n = samples.shape[0]
    se_mean = (var / n).sqrt()
    assert ((samples.mean(0) - mean).abs() < z * se_mean).all()
    centred = samples - mean
    se_var = (centred.square().var(0) / n).sqrt()
    assert ((centred.square().mean(0) - var).abs() < z * se_var).all()


@pytest.mark.oracle
@pytest.mark.parametrize("t", (0.0, 0.8))
def test_sample_moments_match_mixture(chain, mixture, t):
    n = 40_000
    a, v = math.exp(-t), -math.expm1(-2 * t)
    samples = chain.sample(n, t, generator=torch.Generator().manual_seed(5))
    _assert_moments(samples, a * mixture.mean(), a * a * mixture.covariance().diagonal() + v)


@pytest.mark.oracle
def test_conditional_sample_matches_mixture_two_sample(chain, mixture, points):
    n, k, t = 20_000, 2, 0.3
    lo, hi = chain.patch_bounds[k], chain.patch_bounds[k + 1]
    prefix = points[3:4, :lo].expand(n, -1)
    ours = chain.conditional_sample(k, prefix, t, generator=torch.Generator().manual_seed(6))
    oracle = mixture.conditional_sample(k, prefix, t, generator=torch.Generator().manual_seed(7))
    assert ours.shape == (n, hi - lo)
    se = (ours.var(0) / n + oracle.var(0) / n).sqrt()
    assert ((ours.mean(0) - oracle.mean(0)).abs() < 5 * se).all()
    se_var = (
        (ours - ours.mean(0)).square().var(0) / n + (oracle - oracle.mean(0)).square().var(0) / n
    ).sqrt()
    assert ((ours.var(0) - oracle.var(0)).abs() < 5 * se_var).all()


@pytest.mark.oracle
def test_stationary_is_fixed_point_of_transition(chain):
    pi = chain.stationary()
    torch.testing.assert_close(pi.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(pi @ chain.transition, pi, atol=1e-12, rtol=0)
    power = torch.linalg.matrix_power(chain.transition, 500)
    torch.testing.assert_close(pi, power[0], atol=1e-10, rtol=0)


@pytest.mark.oracle
def test_single_patch_is_plain_mixture():
    chain = make_chain(num_states=3, num_patches=1, p=2)
    x = chain.sample(10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(chain.log_prob(x, 0.3), chain.to_mixture().log_prob(x, 0.3))


def test_to_mixture_refuses_huge_enumeration():
    with pytest.raises(ValueError, match="num_patches"):
        make_chain(num_states=2, num_patches=20, p=1).to_mixture()


GOOD = dict(
    initial=[0.3, 0.7],
    transition=[[0.9, 0.1], [0.2, 0.8]],
    means=[[0.0, 1.0], [2.0, -1.0]],
    covariances=[[[1.0, 0.2], [0.2, 0.5]], [[0.3, 0.0], [0.0, 0.4]]],
    num_patches=3,
)
BAD = [
    ("initial", [0.3, 0.6]),
    ("initial", [[0.3, 0.7]]),
    ("initial", [1.2, -0.2]),
    ("transition", [[0.9, 0.2], [0.2, 0.8]]),
    ("transition", [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]),
    ("transition", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    ("transition", [[float("nan"), 1.0], [0.2, 0.8]]),
    ("means", [[0.0, 1.0]]),
    ("means", [[0.0, float("nan")], [2.0, -1.0]]),
    ("covariances", [[[1.0, 0.2], [0.2, 0.5]]]),
    ("covariances", [[[1.0, 2.0], [2.0, 1.0]], [[0.3, 0.0], [0.0, 0.4]]]),
    ("covariances", [[[1.0, 0.3], [0.2, 0.5]], [[0.3, 0.0], [0.0, 0.4]]]),
    ("num_patches", 0),
    ("num_patches", 2.5),
]


@pytest.mark.parametrize("name,value", BAD)
def test_bad_input_names_the_parameter(name, value):
    with pytest.raises(ValueError, match=f"^{name}:"):
        MarkovChainMixture(**{**GOOD, name: value})


def test_chunking_over_rows_changes_nothing(chain, points, monkeypatch):
    t, k, lo = 0.3, 2, chain.patch_bounds[2]
    x_k, prefix = points[:, lo : chain.patch_bounds[3]], points[:, :lo]

    def evaluate():
        return [
            chain.log_prob(points, t),
            chain.score(points, t),
            chain.state_posteriors(points, t),
            chain.conditional_log_prob(k, x_k, prefix, t),
            chain.conditional_score(k, x_k, prefix, t),
        ]

    whole = evaluate()
    monkeypatch.setattr("synthetic.chunking.CHUNK_ELEMENTS", 200)  # 3 rows per chunk
    for a, b in zip(whole, evaluate(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-13, rtol=0)


@st.composite
def chains(draw):
    """Random valid chains: S states, K patches of dimension p, unequal rows, off-centre means,
    anisotropic SPD emission covariances, some zero transitions."""
    S, K, p = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    initial = torch.rand(S, generator=g, dtype=torch.float64) + 0.05
    transition = torch.rand(S, S, generator=g, dtype=torch.float64) * (torch.rand(S, S, generator=g) > 0.3)
    transition = transition + torch.eye(S, dtype=torch.float64) * 0.1
    means = 1.0 + 2.0 * torch.randn(S, p, generator=g, dtype=torch.float64)
    roots = torch.randn(S, p, p, generator=g, dtype=torch.float64)
    covariances = roots @ roots.transpose(1, 2) + 0.2 * torch.eye(p, dtype=torch.float64)
    chain = MarkovChainMixture(
        initial / initial.sum(), transition / transition.sum(1, keepdim=True), means, covariances, K
    )
    return chain, seed


@pytest.mark.oracle
@pytest.mark.property
@settings(max_examples=25, deadline=None)
@given(case=chains(), t=st.floats(0.0, 2.0))
def test_random_chains_match_their_enumeration(case, t):
    chain, seed = case
    mixture = chain.to_mixture()
    x = chain.sample(16, t, generator=torch.Generator().manual_seed(seed))
    torch.testing.assert_close(chain.log_prob(x, t), mixture.log_prob(x, t), rtol=0, atol=1e-10)
    torch.testing.assert_close(chain.score(x, t), mixture.score(x, t), rtol=0, atol=1e-10)
    k = chain.num_patches - 1
    block, prefix = x[:, chain.patch_slice(k)], x[:, : chain.patch_bounds[k]]
    torch.testing.assert_close(
        chain.conditional_log_prob(k, block, prefix, t),
        mixture.conditional_log_prob(k, block, prefix, t),
        rtol=0,
        atol=1e-10,
    )
