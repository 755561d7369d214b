"""Divergences and estimators: Gaussian closed forms, the measured hierarchy, kNN, classifier,
Markov-state lower bounds and mutual information; every Monte Carlo value is an `Estimate`."""

from verify.metrics.classifier import TVLowerBound, classifier_tv_lower_bound, held_out_tv_bound
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
from verify.metrics.girsanov import girsanov_bound, girsanov_bound_ar
from verify.metrics.init_kl import init_kl
from verify.metrics.knn import KnnKL, knn_kl_one_sample, knn_kl_two_sample
from verify.metrics.montecarlo import Estimate, mean_and_stderr
from verify.metrics.mutual_info import conditional_mutual_information, mutual_information
from verify.metrics.path_kl import chain_path_kl, chain_path_kl_ar

__all__ = [
    "Estimate",
    "KnnKL",
    "TVLowerBound",
    "classifier_tv_lower_bound",
    "held_out_tv_bound",
    "knn_kl_one_sample",
    "knn_kl_two_sample",
    "chain_path_kl",
    "chain_path_kl_ar",
    "conditional_mutual_information",
    "girsanov_bound",
    "girsanov_bound_ar",
    "init_kl",
    "mean_and_stderr",
    "mutual_information",
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
