"""Exact laws of samplers: Gaussian recursions (any d) and grid density propagation (d <= 2)."""

from verify.exact.gaussian_law import (
    GaussianARLaw,
    GaussianLaw,
    StageLaw,
    check_grid,
    gaussian_ar_sampler_law,
    gaussian_sampler_law,
)
from verify.exact.grid_law import (
    GridDivergences,
    GridLaw,
    PrefixCurves,
    conditional_divergences,
    grid_ar_sampler_law,
    grid_divergences,
    grid_sampler_law,
    richardson,
)

__all__ = [
    "GaussianARLaw",
    "GaussianLaw",
    "GridDivergences",
    "GridLaw",
    "PrefixCurves",
    "StageLaw",
    "check_grid",
    "conditional_divergences",
    "gaussian_ar_sampler_law",
    "gaussian_sampler_law",
    "grid_ar_sampler_law",
    "grid_divergences",
    "grid_sampler_law",
    "richardson",
]
