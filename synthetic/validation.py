"""Input checks shared by every distribution: each raises ValueError naming the parameter and the reason."""

from __future__ import annotations

import math

import numpy as np
import torch

DTYPE = torch.float64
SUM_ATOL = 1e-9  # probability sums of float64 inputs: what hand-typed decimals and rounding leave


def as_tensor(name: str, value, ndim: int | None = None) -> torch.Tensor:
    """Convert to a float64 tensor; reject NaN/inf and (optionally) a wrong number of dimensions."""
    try:
        tensor = torch.as_tensor(value, dtype=DTYPE)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name}: cannot convert to a float64 tensor ({err})") from None
    if ndim is not None and tensor.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {tuple(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return tensor


def unit_roundoff(value) -> float:
    """eps of the precision `value` was given in: its floating dtype (torch or numpy), else float64
    (Python floats, integers)."""
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return torch.finfo(dtype).eps
    if isinstance(dtype, np.dtype) and np.issubdtype(dtype, np.floating):
        return float(np.finfo(dtype).eps)
    return torch.finfo(DTYPE).eps


def sum_tolerance(length: int, eps: float) -> float:
    """How far from 1 a sum of `length` probabilities given at unit roundoff eps may be: 4 eps per
    entry (rounding each entry and its normalisation), never below the float64 tolerance 1e-9."""
    return max(SUM_ATOL, 4.0 * length * eps)


def check_probability_vector(name: str, p: torch.Tensor, eps: float = torch.finfo(DTYPE).eps) -> torch.Tensor:
    """Non-negative entries summing to one within `sum_tolerance` of precision eps."""
    if p.ndim != 1 or p.numel() == 0:
        raise ValueError(f"{name}: must be a non-empty 1-D probability vector, got shape {tuple(p.shape)}")
    if (p < 0).any():
        raise ValueError(f"{name}: entries must be non-negative")
    total = float(p.sum())
    if abs(total - 1.0) > sum_tolerance(p.numel(), eps):
        raise ValueError(f"{name}: entries must sum to 1, got {total:.12g}")
    return p


def check_stochastic_matrix(name: str, m: torch.Tensor, eps: float = torch.finfo(DTYPE).eps) -> torch.Tensor:
    """Square, non-negative, rows summing to one within `sum_tolerance` of precision eps."""
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"{name}: must be a square matrix, got shape {tuple(m.shape)}")
    if (m < 0).any():
        raise ValueError(f"{name}: entries must be non-negative")
    bad = (m.sum(dim=1) - 1.0).abs() > sum_tolerance(m.shape[1], eps)
    if bad.any():
        row = int(bad.nonzero()[0])
        raise ValueError(f"{name}: row {row} sums to {float(m[row].sum()):.12g}, rows must sum to 1")
    return m


def as_probability_vector(name: str, value) -> torch.Tensor:
    """A probability vector checked at the precision it was given in (a float32 softmax sums to 1
    only within float32 rounding), returned in float64; inputs below float64 are renormalised."""
    eps = unit_roundoff(value)
    p = check_probability_vector(name, as_tensor(name, value, ndim=1), eps)
    return p if eps <= torch.finfo(DTYPE).eps else p / p.sum()


def as_stochastic_matrix(name: str, value) -> torch.Tensor:
    """A row-stochastic matrix checked at the precision it was given in, returned in float64;
    inputs below float64 have their rows renormalised."""
    eps = unit_roundoff(value)
    m = check_stochastic_matrix(name, as_tensor(name, value, ndim=2), eps)
    return m if eps <= torch.finfo(DTYPE).eps else m / m.sum(dim=1, keepdim=True)


def check_spd(name: str, cov: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Batch of symmetric positive-definite matrices (..., p, p)."""
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2]:
        raise ValueError(f"{name}: must be square matrices (..., p, p), got shape {tuple(cov.shape)}")
    scale = cov.abs().amax(dim=(-2, -1), keepdim=True).clamp_min(1.0)
    if ((cov - cov.transpose(-1, -2)).abs() > rtol * scale).any():
        raise ValueError(f"{name}: covariance matrices must be symmetric")
    if (torch.linalg.eigvalsh(cov) <= 0).any():
        raise ValueError(f"{name}: covariance matrices must be positive definite")
    return cov


def check_patch_sizes(patch_sizes, dim: int | None) -> tuple[int, ...]:
    """Positive integers (summing to dim unless dim is None); None means one patch of size dim."""
    if patch_sizes is None and dim is not None:
        return (dim,)
    try:
        sizes = tuple(int(s) for s in patch_sizes)
        integral = all(s == p for s, p in zip(sizes, patch_sizes, strict=True))
    except (TypeError, ValueError):
        raise ValueError(f"patch_sizes: must be positive integers, got {patch_sizes!r}") from None
    if not sizes or not integral or any(s <= 0 for s in sizes):
        raise ValueError(f"patch_sizes: must be positive integers, got {tuple(patch_sizes)}")
    if dim is not None and sum(sizes) != dim:
        raise ValueError(f"patch_sizes: must sum to the dimension {dim}, got {sizes} (sum {sum(sizes)})")
    return sizes


def check_time(t) -> float:
    """A finite OU time t >= 0."""
    t = float(t)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"t: must be a finite time >= 0, got {t}")
    return t


def check_count(name: str, n) -> int:
    """A positive integer (sample sizes, numbers of steps)."""
    try:
        ok = not isinstance(n, bool) and math.isfinite(float(n)) and int(n) == n and n > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name}: must be a positive integer, got {n!r}")
    return int(n)


def check_points(name: str, x, dim: int) -> torch.Tensor:
    """A batch (n, dim) of finite points, returned as float64."""
    x = torch.as_tensor(x)
    if x.ndim != 2 or x.shape[1] != dim:
        raise ValueError(f"{name}: expected shape (n, {dim}), got {tuple(x.shape)}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x.to(DTYPE)
