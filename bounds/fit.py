"""Fitting the free constant C of a scaling law "measured <~ C * shape" across a sweep.

Least squares in log space: log measured_i = log C + log shape_i + r_i is minimised by
log C = mean_i (log measured_i - log shape_i); its standard error is std(r) / sqrt(n).
`ratios` gives bound / measured per sweep point (>= 1 wherever the bound holds).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class ConstantFit(NamedTuple):
    constant: float
    log_constant: float
    log_stderr: float
    residuals: np.ndarray


def _positive(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D sequence, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name}: entries must be finite and positive (logs are taken)")
    return arr


def _pair(measured, other, other_name: str) -> tuple[np.ndarray, np.ndarray]:
    measured, other = _positive("measured", measured), _positive(other_name, other)
    if measured.shape != other.shape:
        raise ValueError(f"{other_name}: must match measured's length {measured.size}, got {other.size}")
    return measured, other


def fit_constant(measured, shape) -> ConstantFit:
    """C minimising sum_i (log measured_i - log(C shape_i))^2; log_stderr is nan for one point."""
    measured, shape = _pair(measured, shape, "shape")
    residuals = np.log(measured) - np.log(shape)
    log_c = float(residuals.mean())
    se = float(residuals.std(ddof=1) / math.sqrt(residuals.size)) if residuals.size > 1 else math.nan
    return ConstantFit(math.exp(log_c), log_c, se, residuals - log_c)


def ratios(bound_values, measured) -> np.ndarray:
    """bound_i / measured_i."""
    measured, bound_values = _pair(measured, bound_values, "bound_values")
    return bound_values / measured
