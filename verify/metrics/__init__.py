"""Divergences: closed forms for Gaussians (Monte Carlo estimators live beside them)."""

from verify.metrics.gaussian import (
    ConditionalGaussian,
    TVBounds,
    gaussian_conditional,
    gaussian_expected_conditional_kl,
    gaussian_kl,
    gaussian_kl_both,
    gaussian_tv_1d,
    gaussian_tv_bounds,
    gaussian_tv_equal_cov,
)

__all__ = [
    "ConditionalGaussian",
    "TVBounds",
    "gaussian_conditional",
    "gaussian_expected_conditional_kl",
    "gaussian_kl",
    "gaussian_kl_both",
    "gaussian_tv_1d",
    "gaussian_tv_bounds",
    "gaussian_tv_equal_cov",
]
