"""The Tweedie denoising step against closed forms on Gaussian data.

For q_0 = N(m, S) the score of q_t is affine, s(y, t) = -(y - m_t) C_t^{-1} with m_t = e^{-t} m,
C_t = e^{-2t} S + (1 - e^{-2t}) I, so the Tweedie map y -> e^t (y + (1 - e^{-2t}) s(y, t)) is
affine, y -> M y + b, and it maps the law N(mu, Sigma) of x_delta to N(M mu + b, M Sigma M^T).
On q_delta itself it gives the posterior mean E[x_0 | x_delta], whose law has mean m and
covariance S - E[Cov(x_0 | x_delta)] = S C_delta^{-1} S e^{-2 delta}.
"""

import math

import torch

from verify import grids
from verify.exact import gaussian_sampler_law
from verify.samplers import sample

MEAN = torch.tensor([0.7, -1.2], dtype=torch.float64)
COV = torch.tensor([[0.6, 0.25], [0.25, 0.4]], dtype=torch.float64)
DELTA = 0.05


def affine_score(t: float):
    """(A, c) with s(y, t) = y A^T + c for q_t = N(e^{-t} m, e^{-2t} S + (1 - e^{-2t}) I)."""
    cov_t = math.exp(-2 * t) * COV + (1 - math.exp(-2 * t)) * torch.eye(2, dtype=torch.float64)
    precision = torch.linalg.inv(cov_t)
    return -precision, precision @ (math.exp(-t) * MEAN)


def score(y, t):
    a, c = affine_score(t)
    return y @ a.T + c


def tweedie(mean, cov, t):
    """The law of e^t (y + (1 - e^{-2t}) s(y, t)) for y ~ N(mean, cov)."""
    a, c = affine_score(t)
    m = math.exp(t) * (torch.eye(2, dtype=torch.float64) + (1 - math.exp(-2 * t)) * a)
    b = math.exp(t) * (1 - math.exp(-2 * t)) * c
    return m @ mean + b, m @ cov @ m.T


def test_exact_law_of_the_denoised_output_is_the_tweedie_map_of_x_delta():
    grid = grids.exponential_linear(4.0, 30, DELTA)
    early = gaussian_sampler_law(affine_score, grid, 2)
    denoised = gaussian_sampler_law(affine_score, grid, 2, denoise=True)
    mean, cov = tweedie(early.mean, early.cov, DELTA)
    torch.testing.assert_close(denoised.mean, mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(denoised.cov, cov, rtol=0, atol=1e-12)


def test_tweedie_of_q_delta_is_the_posterior_mean_law():
    cov_delta = math.exp(-2 * DELTA) * COV + (1 - math.exp(-2 * DELTA)) * torch.eye(2, dtype=torch.float64)
    mean, cov = tweedie(math.exp(-DELTA) * MEAN, cov_delta, DELTA)
    torch.testing.assert_close(mean, MEAN, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        cov, math.exp(-2 * DELTA) * COV @ torch.linalg.inv(cov_delta) @ COV, rtol=0, atol=1e-12
    )


def test_denoised_samples_follow_the_exact_law_within_standard_errors():
    grid = grids.exponential_linear(4.0, 30, DELTA)
    law = gaussian_sampler_law(affine_score, grid, 2, denoise=True)
    n = 20000
    x = sample(score, grid, n, 2, generator=torch.Generator().manual_seed(1), denoise=True)
    se = (law.cov.diagonal() / n).sqrt()
    assert ((x.mean(0) - law.mean).abs() <= 5 * se).all()
    # variance of the sample variance of a Gaussian: 2 sigma^4 / (n - 1)
    var_se = law.cov.diagonal() * math.sqrt(2 / (n - 1))
    assert ((x.var(0) - law.cov.diagonal()).abs() <= 5 * var_se).all()
