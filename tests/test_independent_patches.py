"""IndependentPatches against the sum of its parts and against the explicit product mixture."""

import itertools

import pytest
import torch

from synthetic import GaussianMixture, IndependentPatches, MarkovChainMixture

TIMES = (0.0, 0.3, 2.0)


def make_parts():
    first = GaussianMixture([0.3, 0.7], [[-1.0], [1.5]], [0.2, 0.5])
    second = GaussianMixture(
        [0.6, 0.4], [[0.5, 2.0], [-1.0, 0.3]], [[[0.5, 0.2], [0.2, 0.3]], [[0.2, -0.1], [-0.1, 0.4]]]
    )
    third = MarkovChainMixture([0.25, 0.75], [[0.5, 0.5], [0.1, 0.9]], [[1.0], [-2.0]], [[[0.3]], [[0.6]]], 1)
    return first, second, third


@pytest.fixture(scope="module")
def parts():
    return make_parts()


@pytest.fixture(scope="module")
def product(parts):
    return IndependentPatches(parts)


@pytest.fixture(scope="module")
def points(product):
    return product.sample(50, generator=torch.Generator().manual_seed(0))


def product_mixture(parts):
    """The product as one explicit GaussianMixture: components are tuples of part components."""
    mixtures = [parts[0], parts[1], parts[2].to_mixture()]
    combos = itertools.product(*[range(m.num_components) for m in mixtures])
    weights, means, covs = [], [], []
    for combo in combos:
        chosen = list(zip(mixtures, combo, strict=True))
        weights.append(torch.stack([m.weights[i] for m, i in chosen]).prod())
        means.append(torch.cat([m.means[i] for m, i in chosen]))
        covs.append(torch.block_diag(*[m.covariances[i] for m, i in chosen]))
    weights, means, covs = torch.stack(weights), torch.stack(means), torch.stack(covs)
    return GaussianMixture(weights / weights.sum(), means, covs, patch_sizes=(1, 2, 1))


def test_patches_follow_parts(product):
    assert product.patch_sizes == (1, 2, 1) and product.dim == 4


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
def test_log_prob_and_score_are_sum_and_concatenation(parts, product, points, t):
    pieces = product.split(points)
    total = sum(part.log_prob(x_k, t) for part, x_k in zip(parts, pieces, strict=True))
    torch.testing.assert_close(product.log_prob(points, t), total, atol=1e-12, rtol=0)
    score = torch.cat([part.score(x_k, t) for part, x_k in zip(parts, pieces, strict=True)], dim=1)
    torch.testing.assert_close(product.score(points, t), score, atol=1e-12, rtol=0)


@pytest.mark.oracle
@pytest.mark.parametrize("t", TIMES)
def test_matches_explicit_product_mixture(parts, product, points, t):
    """OU noise of the product equals the product of noised parts (independent oracle)."""
    oracle = product_mixture(parts)
    torch.testing.assert_close(product.log_prob(points, t), oracle.log_prob(points, t), atol=1e-10, rtol=0)
    torch.testing.assert_close(product.score(points, t), oracle.score(points, t), atol=1e-10, rtol=0)
    for k, (lo, hi) in enumerate(itertools.pairwise(product.patch_bounds)):
        args = (k, points[:, lo:hi], points[:, :lo], t)
        torch.testing.assert_close(
            product.conditional_log_prob(*args), oracle.conditional_log_prob(*args), atol=1e-10, rtol=0
        )


@pytest.mark.parametrize("t", TIMES)
def test_conditionals_equal_marginals_whatever_the_prefix(parts, product, points, t):
    for k, (lo, hi) in enumerate(itertools.pairwise(product.patch_bounds)):
        x_k = points[:, lo:hi]
        other_prefix = points[:, :lo].flip(0) + 3.0
        for prefix in (points[:, :lo], other_prefix):
            torch.testing.assert_close(
                product.conditional_log_prob(k, x_k, prefix, t), parts[k].log_prob(x_k, t), atol=0, rtol=0
            )
            torch.testing.assert_close(
                product.conditional_score(k, x_k, prefix, t), parts[k].score(x_k, t), atol=0, rtol=0
            )


@pytest.mark.oracle
def test_sample_and_conditional_sample_moments(parts, product, points):
    n = 40_000
    oracle = product_mixture(parts)
    samples = product.sample(n, generator=torch.Generator().manual_seed(4))
    se = (oracle.covariance().diagonal() / n).sqrt()
    assert ((samples.mean(0) - oracle.mean()).abs() < 5 * se).all()
    prefix = points[:1, :1].expand(n, -1)
    patch = product.conditional_sample(1, prefix, generator=torch.Generator().manual_seed(5))
    se = (parts[1].covariance().diagonal() / n).sqrt()
    assert ((patch.mean(0) - parts[1].mean()).abs() < 5 * se).all()


def test_sampling_is_reproducible_and_moves_to_device(product):
    first = product.sample(9, 0.4, generator=torch.Generator().manual_seed(8))
    moved = product.to("cpu")
    again = moved.sample(9, 0.4, generator=torch.Generator().manual_seed(8))
    assert isinstance(moved.patches, tuple) and torch.equal(first, again)


@pytest.mark.parametrize(
    "patches",
    [
        [],
        [make_parts()[0], "not a distribution"],
        [GaussianMixture([1.0], [[0.0, 1.0]], [1.0], patch_sizes=(1, 1))],
    ],
    ids=["empty", "not-distribution", "two-patch-part"],
)
def test_bad_input_names_the_parameter(patches):
    with pytest.raises(ValueError, match="^patches:"):
        IndependentPatches(patches)
