"""Exact laws of samplers: Gaussian recursions (any d) and grid density propagation (d <= 2)."""

from verify.exact.gaussian_law import (
    GaussianARLaw,
    GaussianLaw,
    StageLaw,
    append_stage,
    gaussian_ar_sampler_law,
    gaussian_ar_target,
    gaussian_sampler_law,
    stack_stages,
)
from verify.exact.grid_divergences import (
    ConditionalEndpoints,
    GridDivergences,
    PrefixCurves,
    conditional_divergences,
    conditional_endpoints,
    grid_divergences,
    richardson,
)
from verify.exact.grid_law import GridLaw, grid_ar_sampler_law, grid_sampler_law

__all__ = [
    "ConditionalEndpoints",
    "GaussianARLaw",
    "GaussianLaw",
    "GridDivergences",
    "GridLaw",
    "PrefixCurves",
    "StageLaw",
    "append_stage",
    "conditional_divergences",
    "conditional_endpoints",
    "gaussian_ar_sampler_law",
    "gaussian_ar_target",
    "gaussian_sampler_law",
    "grid_ar_sampler_law",
    "grid_divergences",
    "grid_sampler_law",
    "richardson",
    "stack_stages",
]
