"""Probability vectors and stochastic matrices are checked at the precision they were given in,
then used in float64: a float32 softmax is a probability vector, [0.5, 0.6] is not."""

import math

import numpy as np
import pytest
import torch

from synthetic import GaussianMixture, MarkovChainMixture
from synthetic.validation import as_probability_vector, as_stochastic_matrix

MEANS3, COV3 = [[0.0], [1.0], [-2.0]], [0.5, 0.3, 0.8]


def _logits(*shape, seed=0, dtype=torch.float32):
    return (3.0 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)).to(
        dtype
    )


@pytest.mark.parametrize(
    "weights",
    [
        torch.ones(3) / 3,
        torch.softmax(_logits(3), 0),
        np.full(3, 1 / 3, dtype=np.float32),
        torch.softmax(_logits(3, dtype=torch.float16), 0),
        torch.softmax(_logits(3, dtype=torch.bfloat16), 0),
    ],
    ids=["float32-thirds", "float32-softmax", "numpy-float32", "float16-softmax", "bfloat16-softmax"],
)
def test_low_precision_weights_are_accepted_and_renormalised_in_float64(weights):
    mix = GaussianMixture(weights, MEANS3, COV3)
    assert mix.weights.dtype == torch.float64
    assert abs(float(mix.weights.sum()) - 1.0) <= 4 * torch.finfo(torch.float64).eps
    given = torch.as_tensor(weights).to(torch.float64)
    torch.testing.assert_close(mix.weights, given / given.sum(), rtol=0, atol=0)


def test_float32_thirds_give_the_float64_mixture():
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    exact = GaussianMixture([1 / 3, 1 / 3, 1 / 3], MEANS3, COV3)
    torch.testing.assert_close(
        GaussianMixture(torch.ones(3) / 3, MEANS3, COV3).log_prob(x), exact.log_prob(x), rtol=0, atol=1e-15
    )


@pytest.mark.parametrize("length", [10, 1000])
def test_long_float32_softmax_is_a_probability_vector(length):
    p = as_probability_vector("weights", torch.softmax(_logits(length, seed=length), 0))
    assert p.dtype == torch.float64 and float(p.sum()) == pytest.approx(1.0, abs=1e-15)


def test_float32_stochastic_matrix_is_accepted():
    transition = torch.softmax(_logits(4, 4, seed=2), dim=1)
    chain = MarkovChainMixture(
        torch.ones(4) / 4, transition, torch.randn(4, 2, dtype=torch.float64), torch.eye(2).expand(4, 2, 2), 3
    )
    assert chain.transition.dtype == torch.float64
    torch.testing.assert_close(
        chain.transition.sum(1), torch.ones(4, dtype=torch.float64), rtol=0, atol=1e-15
    )
    x = chain.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(chain.log_prob(x)).all()


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (torch.tensor([0.5, 0.6]), "sum to 1"),  # clearly wrong at float32
        (torch.tensor([0.3, 0.7001]), "sum to 1"),  # 1e-4 off: far beyond float32 rounding
        (torch.tensor([-0.1, 1.1]), "non-negative"),
        (torch.tensor([math.nan, 1.0]), "NaN"),
        (torch.tensor([0.5, 0.5 + 1e-8], dtype=torch.float64), "sum to 1"),  # float64 stays strict
        (np.array([0.5, 0.6], dtype=np.float32), "sum to 1"),
    ],
    ids=["float32-0.5-0.6", "float32-off-1e-4", "negative", "nan", "float64-off-1e-8", "numpy-float32"],
)
def test_wrong_probability_vectors_name_the_parameter(value, reason):
    with pytest.raises(ValueError, match=f"^weights:.*{reason}"):
        GaussianMixture(value, [[0.0], [1.0]], [1.0, 1.0])


@pytest.mark.parametrize(
    "value",
    [
        torch.tensor([[0.5, 0.6], [0.2, 0.8]]),
        torch.tensor([[0.5, 0.5], [-0.2, 1.2]]),
        torch.tensor([[math.nan, 1.0], [0.2, 0.8]]),
        torch.tensor([[0.5, 0.5]]),
    ],
    ids=["row-sum", "negative", "nan", "not-square"],
)
def test_wrong_float32_stochastic_matrices_name_the_parameter(value):
    with pytest.raises(ValueError, match="^transition:"):
        as_stochastic_matrix("transition", value)
