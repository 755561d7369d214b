"""Constants of a time grid that the bounds' hypotheses are stated in (docs/math.md section 1).

- kappa of a grid = max_j h_j / min(1, t_{j+1}) (Benton et al.'s step condition);
- T, N, delta and h = max_j h_j.
The constants measured on a distribution (m2, the Lipschitz constant L, KL(q_t || gamma_d)) are
estimates and live with the other estimators, in `verify.metrics.constants`.
"""

from __future__ import annotations

import math

import torch

from synthetic.validation import DTYPE


def _check_grid(grid) -> torch.Tensor:
    grid = torch.as_tensor(grid, dtype=DTYPE)
    if grid.ndim != 1 or grid.numel() < 2:
        raise ValueError(f"grid: must be a 1-D tensor of N + 1 >= 2 times, got {tuple(grid.shape)}")
    if not torch.isfinite(grid).all() or grid[-1] < 0:
        raise ValueError("grid: times must be finite and >= 0")
    if not (grid[:-1] > grid[1:]).all():
        raise ValueError("grid: times must be strictly decreasing (T first, delta last)")
    return grid


def grid_kappa(grid) -> float:
    """max_j h_j / min(1, t_{j+1}); infinite when the grid ends at delta = 0."""
    grid = _check_grid(grid)
    steps, lower = grid[:-1] - grid[1:], grid[1:].clamp(max=1.0)
    if lower[-1] == 0:
        return math.inf
    return float((steps / lower).max())


def grid_constants(grid) -> dict[str, float]:
    """T, N, delta, h = max_j h_j and kappa of a time grid, named as the bounds name them."""
    grid = _check_grid(grid)
    return {
        "T": float(grid[0]),
        "N": grid.numel() - 1,
        "delta": float(grid[-1]),
        "h": float((grid[:-1] - grid[1:]).max()),
        "kappa": grid_kappa(grid),
    }
