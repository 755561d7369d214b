"""LinearGaussianChain: exact moments against a brute-force block construction and Monte Carlo of
the recursion; the delegated protocol against scipy and autograd."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from synthetic import LinearGaussianChain

K, P = 4, 2


def params(seed=0):
    """Time-varying A_k, b_k; off-centre start; anisotropic covariances."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.randn(*shape, dtype=torch.float64, generator=g)

    root0, root_q = rand(P, P), rand(P, P)
    return dict(
        num_patches=K,
        initial_mean=torch.tensor([1.5, -0.7], dtype=torch.float64),
        initial_cov=root0 @ root0.T + 0.2 * torch.eye(P, dtype=torch.float64),
        transition_matrices=0.6 * rand(K - 1, P, P),
        offsets=rand(K - 1, P),
        noise_cov=0.3 * root_q @ root_q.T + 0.05 * torch.eye(P, dtype=torch.float64),
    )


@pytest.fixture(scope="module")
def spec():
    return params()


@pytest.fixture(scope="module")
def chain(spec):
    return LinearGaussianChain(**spec)


@pytest.mark.oracle
def test_moments_match_block_construction(spec, chain):
    """x = B^{-1}(c + e): B has I on the diagonal and -A_k below it, e ~ N(0, blockdiag(P0, Q, ..))."""
    d = K * P
    lower = torch.eye(d, dtype=torch.float64)
    shift = torch.cat([spec["initial_mean"], spec["offsets"].reshape(-1)])
    noise = torch.block_diag(spec["initial_cov"], *[spec["noise_cov"]] * (K - 1))
    for k in range(K - 1):
        lower[(k + 1) * P : (k + 2) * P, k * P : (k + 1) * P] = -spec["transition_matrices"][k]
    inverse = torch.linalg.inv(lower)
    torch.testing.assert_close(chain.mean(), inverse @ shift, atol=1e-12, rtol=0)
    torch.testing.assert_close(chain.covariance(), inverse @ noise @ inverse.T, atol=1e-12, rtol=0)


@pytest.mark.oracle
def test_moments_match_monte_carlo_of_recursion(spec, chain):
    n = 50_000
    g = torch.Generator().manual_seed(3)

    def draw(cov):
        return torch.randn(n, P, dtype=torch.float64, generator=g) @ torch.linalg.cholesky(cov).T

    x = [spec["initial_mean"] + draw(spec["initial_cov"])]
    for k in range(K - 1):
        x.append(x[-1] @ spec["transition_matrices"][k].T + spec["offsets"][k] + draw(spec["noise_cov"]))
    x = torch.cat(x, dim=1)
    mean, centred = x.mean(0), x - chain.mean()
    se_mean = (x.var(0) / n).sqrt()
    assert ((mean - chain.mean()).abs() < 5 * se_mean).all()
    products = centred[:, :, None] * centred[:, None, :]
    se_cov = (products.var(0) / n).sqrt()
    assert ((products.mean(0) - chain.covariance()).abs() < 5 * se_cov).all()


@pytest.mark.oracle
@pytest.mark.parametrize("t", (0.0, 0.7))
def test_log_prob_and_score_match_scipy_gaussian(chain, t):
    a, v = math.exp(-t), -math.expm1(-2 * t)
    x = chain.sample(20, t, generator=torch.Generator().manual_seed(1))
    cov = a * a * chain.covariance() + v * torch.eye(K * P, dtype=torch.float64)
    expected = multivariate_normal(a * chain.mean().numpy(), cov.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(chain.log_prob(x, t).numpy(), expected, rtol=0, atol=1e-10)
    score = -torch.linalg.solve(cov, (x - a * chain.mean()).T).T
    torch.testing.assert_close(chain.score(x, t), score, atol=1e-10, rtol=0)
    a_mat, c = chain.affine_score(t)
    torch.testing.assert_close(x @ a_mat.T + c, score, atol=1e-10, rtol=0)


def test_shared_parameters_equal_repeated_ones(spec):
    shared = {**spec, "transition_matrices": spec["transition_matrices"][0], "offsets": spec["offsets"][0]}
    repeated = {
        **spec,
        "transition_matrices": spec["transition_matrices"][:1].expand(K - 1, P, P),
        "offsets": spec["offsets"][:1].expand(K - 1, P),
    }
    one, two = LinearGaussianChain(**shared), LinearGaussianChain(**repeated)
    torch.testing.assert_close(one.mean(), two.mean(), atol=0, rtol=0)
    torch.testing.assert_close(one.covariance(), two.covariance(), atol=0, rtol=0)


def test_single_patch_is_initial_gaussian(spec):
    chain = LinearGaussianChain(
        **{
            **spec,
            "num_patches": 1,
            "transition_matrices": spec["transition_matrices"][0],
            "offsets": spec["offsets"][0],
        }
    )
    assert chain.patch_sizes == (P,)
    torch.testing.assert_close(chain.mean(), spec["initial_mean"], atol=0, rtol=0)
    torch.testing.assert_close(chain.covariance(), spec["initial_cov"], atol=0, rtol=0)


def test_independent_chain_has_zero_cross_covariance(spec):
    chain = LinearGaussianChain(**{**spec, "transition_matrices": torch.zeros(P, P, dtype=torch.float64)})
    cov = chain.covariance()
    for k in range(K):
        for j in range(K):
            block = cov[k * P : (k + 1) * P, j * P : (j + 1) * P]
            if j != k:
                assert torch.count_nonzero(block) == 0


BAD = [
    ("num_patches", 0),
    ("initial_mean", [[1.0, 2.0]]),
    ("initial_mean", [float("nan"), 0.0]),
    ("initial_cov", [[1.0, 2.0], [2.0, 1.0]]),
    ("initial_cov", [1.0, 1.0]),
    ("transition_matrices", torch.zeros(K, P, P)),
    ("transition_matrices", torch.zeros(P, P + 1)),
    ("offsets", torch.zeros(K - 1, P + 1)),
    ("offsets", [float("inf"), 0.0]),
    ("noise_cov", [[1.0, 0.5], [0.4, 1.0]]),
    ("noise_cov", [[1.0, float("nan")], [float("nan"), 1.0]]),
]


@pytest.mark.parametrize("name,value", BAD)
def test_bad_input_names_the_parameter(spec, name, value):
    with pytest.raises(ValueError, match=f"^{name}:"):
        LinearGaussianChain(**{**spec, name: value})
