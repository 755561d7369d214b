"""Classifier TV lower bound against the exact TV of equal-covariance Gaussians, 2 Phi(Delta/2) - 1."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, norm

from verify.metrics.classifier import classifier_tv_lower_bound, held_out_tv_bound


def gaussian_pair(d: int, delta: float, n: int, seed: int):
    """x ~ N(m0, S), y ~ N(m1, S) with Mahalanobis distance delta; returns exact TV and samples."""
    rng = np.random.default_rng(seed)
    root = np.tril(rng.normal(size=(d, d))) * 0.3 + np.eye(d)
    cov = root @ root.T
    u = rng.normal(size=d)
    u /= np.sqrt(u @ np.linalg.solve(cov, u))
    m1 = np.full(d, 0.7)
    x = rng.multivariate_normal(m1 + delta * u, cov, n)
    y = rng.multivariate_normal(m1, cov, n)
    return 2 * norm.cdf(delta / 2) - 1, x, y


def test_clopper_pearson_margins_match_scipy():
    bound = held_out_tv_bound(70, 100, 41, 120, confidence=0.9)
    # one-sided bounds at level 0.05 are the ends of the two-sided exact interval at level 0.9
    assert bound.p_set_lower == pytest.approx(binomtest(70, 100).proportion_ci(0.9).low, rel=1e-9)
    assert bound.q_set_upper == pytest.approx(binomtest(41, 120).proportion_ci(0.9).high, rel=1e-9)
    assert bound.value == pytest.approx(0.7 - 41 / 120)
    assert bound.lower == pytest.approx(bound.p_set_lower - bound.q_set_upper)


def test_held_out_bound_has_its_confidence():
    """Over many binomial draws the bound exceeds the true P(A) - Q(A) at most 1 - confidence of
    the time (plus three binomial standard errors of that frequency)."""
    rng = np.random.default_rng(0)
    reps, n, p_a, q_a, confidence = 4000, 60, 0.7, 0.45, 0.9
    hits_p, hits_q = rng.binomial(n, p_a, reps), rng.binomial(n, q_a, reps)
    fails = [
        held_out_tv_bound(a, n, b, n, confidence).lower > p_a - q_a
        for a, b in zip(hits_p, hits_q, strict=True)
    ]
    alpha = 1 - confidence
    assert np.mean(fails) <= alpha + 3 * np.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_bound_never_above_exact_tv(d, seed):
    exact, x, y = gaussian_pair(d, delta=0.8, n=1000, seed=seed)
    bound = classifier_tv_lower_bound(x, y, generator=torch.Generator().manual_seed(seed), confidence=0.99)
    assert bound.lower <= exact
    assert bound.n_p == bound.n_q == 500


@pytest.mark.parametrize("d", [1, 3])
def test_close_to_exact_tv_when_well_separated(d):
    exact, x, y = gaussian_pair(d, delta=4.0, n=4000, seed=d)
    bound = classifier_tv_lower_bound(x, y, generator=torch.Generator().manual_seed(d))
    # standard error of P^(A) - Q^(A) for the Bayes set A: each side is binomial with
    # success probability Phi(Delta/2) on 2000 held-out points
    p = norm.cdf(2.0)
    stderr = np.sqrt(2 * p * (1 - p) / 2000)
    assert exact - 4 * stderr <= bound.value <= exact + 4 * stderr
    assert exact - 0.05 <= bound.lower <= exact


def test_seeded_result_is_reproducible():
    _, x, y = gaussian_pair(2, delta=1.0, n=400, seed=3)
    runs = [classifier_tv_lower_bound(x, y, generator=torch.Generator().manual_seed(7)) for _ in range(2)]
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": np.zeros((50, 3))}, "y:"),
        ({"x": np.full((50, 2), np.inf)}, "x:"),
        ({"train_fraction": 1.0}, "train_fraction:"),
        ({"confidence": 0.0}, "confidence:"),
        ({"steps": 0}, "steps:"),
        ({"lr": -1.0}, "lr:"),
        ({"x": np.zeros((1, 2))}, "x:"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {"x": np.zeros((50, 2)), "y": np.ones((50, 2))}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        classifier_tv_lower_bound(**args)


def test_held_out_bound_rejects_bad_counts():
    with pytest.raises(ValueError, match="hits_p, hits_q"):
        held_out_tv_bound(11, 10, 0, 10, 0.95)
