"""kNN KL estimators against the closed-form Gaussian KL (numpy oracle) in d = 1, 2, 3, and the
coverage of their subsampling intervals (binomial tests against the nominal 95%)."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, multivariate_normal

from verify.metrics.knn import knn_kl_one_sample, knn_kl_two_sample

N = 2000


def gaussian_kl(m0, s0, m1, s1) -> float:
    """KL(N(m0, s0) || N(m1, s1)), docs/math.md section 4."""
    inv = np.linalg.inv(s1)
    dm = m1 - m0
    logdet = np.linalg.slogdet(s1)[1] - np.linalg.slogdet(s0)[1]
    return 0.5 * (np.trace(inv @ s0) + dm @ inv @ dm - len(m0) + logdet)


def problem(d: int, seed: int, n: int = N):
    """Off-centre, anisotropic P = N(m0, s0) against Q = N(m1, s1), and samples x ~ P, y, y' ~ Q."""
    rng = np.random.default_rng(seed)
    m0, m1 = np.linspace(0.4, -0.3, d), np.full(d, 0.2)
    s0 = np.diag(np.linspace(1.0, 0.5, d)) + 0.15
    s1 = np.diag(np.linspace(1.2, 1.6, d))
    x = rng.multivariate_normal(m0, s0, n)
    y, y_null = rng.multivariate_normal(m1, s1, (2, n))
    return gaussian_kl(m0, s0, m1, s1), x, y, y_null, multivariate_normal(m1, s1)


def log_q_of(q):
    return lambda points: torch.as_tensor(q.logpdf(points.numpy())).reshape(-1)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_two_sample_interval_covers_gaussian_kl(d):
    exact, x, y, y_null, _ = problem(d, seed=d)
    result = knn_kl_two_sample(x, y, y_null, generator=torch.Generator().manual_seed(d))
    low, high = result.interval
    assert low <= exact <= high
    # null calibration: target-vs-target (true value 0) within the spread the interval reports
    assert abs(result.null_value) < high - low
    assert (result.k, result.n, result.d, result.confidence) == (1, N, d, 0.95)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_one_sample_interval_covers_gaussian_kl(d):
    exact, x, _, y_null, q = problem(d, seed=10 + d)
    result = knn_kl_one_sample(x, log_q_of(q), y_null, k=3, generator=torch.Generator().manual_seed(d))
    low, high = result.interval
    assert low <= exact <= high
    assert abs(result.null_value) < high - low


def test_seeded_result_is_reproducible():
    _, x, y, y_null, _ = problem(2, seed=0)
    runs = [knn_kl_two_sample(x, y, y_null, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert runs[0] == runs[1]


def test_warns_above_three_dimensions():
    rng = np.random.default_rng(0)
    x, y, y_null = rng.normal(size=(3, 200, 4))
    with pytest.warns(UserWarning, match="d <= 3"):
        knn_kl_two_sample(x, y, y_null, num_subsamples=5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"k": 0}, "k:"),
        ({"confidence": 1.0}, "confidence:"),
        ({"fraction": 0.0}, "fraction:"),
        ({"num_subsamples": 0}, "num_subsamples:"),
        ({"y_null": np.zeros((50, 2))}, "y_null:"),
        ({"y": np.zeros((100, 3))}, "y:"),
        ({"x": np.full((100, 2), np.nan)}, "x:"),
        ({"x": np.zeros(100)}, "x:"),
        ({"x": np.ones((100, 2))}, "x: contains repeated points"),
    ],
)
def test_bad_input_raises(kwargs, match):
    rng = np.random.default_rng(1)
    args = {"x": rng.normal(size=(100, 2)), "y": rng.normal(size=(100, 2))}
    args["y_null"] = rng.normal(size=(100, 2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        knn_kl_two_sample(**args)


def test_one_sample_rejects_bad_log_q():
    rng = np.random.default_rng(2)
    x, y_null = rng.normal(size=(2, 100, 1))
    with pytest.raises(ValueError, match="log_q:"):
        knn_kl_one_sample(x, lambda p: torch.zeros(3), y_null)


def covered(estimator: str, d: int, runs: int, n: int, num_subsamples: int) -> int:
    """How many of `runs` independent intervals (nominal 95%) contain the exact KL; k = 1."""
    hits = 0
    for run in range(runs):
        exact, x, y, y_null, q = problem(d, seed=100_000 * d + run, n=n)
        generator = torch.Generator().manual_seed(run)
        if estimator == "two-sample":
            result = knn_kl_two_sample(x, y, y_null, num_subsamples=num_subsamples, generator=generator)
        else:
            result = knn_kl_one_sample(
                x, log_q_of(q), y_null, num_subsamples=num_subsamples, generator=generator
            )
        low, high = result.interval
        hits += low <= exact <= high
    return hits


def below_nominal_p(hits: int, runs: int) -> float:
    """One-sided exact binomial p-value of H0: coverage >= 0.95 (small: it under-covers)."""
    return binomtest(hits, runs, 0.95, alternative="less").pvalue


def test_intervals_cover_at_the_nominal_rate_pooled_over_estimators_and_dimensions():
    """600 runs (100 per estimator and d): 88% coverage, the uncentred construction's, lies 7.9
    binomial standard errors below 95%; the test fails at p < 1e-3."""
    runs = 100
    hits = sum(
        covered(estimator, d, runs, n=200, num_subsamples=50)
        for estimator in ("two-sample", "one-sample")
        for d in (1, 2, 3)
    )
    assert below_nominal_p(hits, 6 * runs) > 1e-3, hits / (6 * runs)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["two-sample", "one-sample"])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_interval_covers_at_the_nominal_rate(estimator, d):
    """400 runs per estimator and d: the binomial standard error at 95% is 1.1%, so 88% coverage
    is 6.4 standard errors below; each of the 6 cases fails at p < 1e-3 (0.6% in all)."""
    runs = 400
    hits = covered(estimator, d, runs, n=500, num_subsamples=200)
    assert below_nominal_p(hits, runs) > 1e-3, hits / runs
