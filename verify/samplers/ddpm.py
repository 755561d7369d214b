"""The reverse-time sampler on R^d: start at y ~ N(0, I) = gamma_d at t_0 = T, then for each step
j = 0..N-1 of the grid apply the Gaussian kernel of `step_kernel(scheme, t_j, t_{j+1})`:

    y <- c_y y + c_s s(y, t_j) + sqrt(v) xi,   xi ~ N(0, I)   (docs/math.md section 2),

optionally followed by the Tweedie denoising step at delta (`denoise=True`, one more score
evaluation), which returns E[x_0 | x_delta] under the score instead of the early-stopped x_delta.

`run_chain` is the one stepping loop; AR-DM (verify.samplers.ar) runs it once per patch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch

from synthetic.random import standard_normal
from synthetic.validation import check_count
from verify.grids import validate
from verify.samplers.kernels import check_scheme, kernel_steps

__all__ = ["StepRecord", "run_chain", "sample"]


class StepRecord(NamedTuple):
    """What a callback sees for step j of stage `stage` (0 for a plain DDPM): the state x at
    t_from, the score value s(x, t_from) used for the step, and the step's target time t_to."""

    stage: int
    j: int
    t_from: float
    t_to: float
    x: torch.Tensor
    score: torch.Tensor


def check_callable(name: str, fn, optional: bool = False):
    if fn is None and optional:
        return None
    if not callable(fn):
        raise ValueError(f"{name}: must be callable, got {type(fn).__name__}")
    return fn


def run_chain(
    score: Callable[[torch.Tensor, float], torch.Tensor],
    grid: torch.Tensor,
    y: torch.Tensor,
    scheme: str,
    generator: torch.Generator | None,
    callback: Callable[[StepRecord], None] | None = None,
    stage: int = 0,
    trajectory: list[torch.Tensor] | None = None,
    denoise: bool = False,
) -> torch.Tensor:
    """Run the N steps of `grid` from y (the state at t_0) and return the state at t_N (with
    `denoise`, its Tweedie denoising E[x_0 | x_{t_N}]).

    Inputs are assumed validated. States after each step are appended to `trajectory` if given.
    """
    for j, (t_from, t_to, kernel) in enumerate(kernel_steps(grid.tolist(), scheme, denoise)):
        s = score(y, t_from)
        if not isinstance(s, torch.Tensor) or s.shape != y.shape:
            shape = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
            raise ValueError(f"score: returned {shape}, expected a tensor of shape {tuple(y.shape)}")
        if not torch.isfinite(s).all():
            raise ValueError(
                f"score: returned non-finite values (NaN or inf) at step {j} (t = {t_from:.6g}) "
                f"of stage {stage}"
            )
        if callback is not None:
            callback(StepRecord(stage, j, t_from, t_to, y, s))
        y_next = kernel.c_y * y + kernel.c_s * s.to(y.dtype)
        if kernel.v > 0:
            xi = standard_normal(y.shape, generator, y.device, y.dtype)
            y_next = y_next + math.sqrt(kernel.v) * xi
        y = y_next
        if trajectory is not None:
            trajectory.append(y)
    return y


def sample(
    score: Callable[[torch.Tensor, float], torch.Tensor],
    grid: torch.Tensor,
    n: int,
    dim: int,
    scheme: str = "ei",
    generator: torch.Generator | None = None,
    callback: Callable[[StepRecord], None] | None = None,
    return_trajectory: bool = False,
    device: str | torch.device = "cpu",
    denoise: bool = False,
):
    """n samples (n, dim) of the reverse chain with score(x, t) -> (n, dim); with
    return_trajectory, also the states at every step, (N + 1, n, dim), T first (N + 2 with
    `denoise`). The number of score evaluations (NFE) is N = len(grid) - 1, plus one with
    `denoise` (the Tweedie step E[x_0 | x_delta])."""
    check_callable("score", score)
    grid = validate(grid)
    n, dim = check_count("n", n), check_count("dim", dim)
    scheme = check_scheme(scheme)
    check_callable("callback", callback, optional=True)
    y = standard_normal((n, dim), generator, device)
    trajectory = [y] if return_trajectory else None
    y = run_chain(score, grid, y, scheme, generator, callback, trajectory=trajectory, denoise=bool(denoise))
    return (y, torch.stack(trajectory)) if return_trajectory else y
