"""One specification of the diffusion a model is trained for and sampled with.

Training draws times log-uniformly on [delta, T] and sampling runs a grid from T down to delta:
both read the same `DiffusionSpec`, so the horizon a network was trained on and the one it is
sampled on can never disagree (a network trained on t <= 4 and started at t = 6 is the bug this
prevents). `steps` is the number of sampler steps N (NFE = N, plus one with `denoise`); `grid`
names the time grid (verify.grids); `scheme` the kernel (verify.samplers.kernels); `denoise`
ends every (stage of the) sampler with the Tweedie step E[x_0 | x_delta].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from verify import grids
from verify.samplers.kernels import check_scheme
from verify.train import TrainConfig


@dataclass(frozen=True)
class DiffusionSpec:
    T: float = 4.0
    delta: float = 1e-3
    steps: int = 60
    grid: str = "exponential_linear"
    scheme: str = "ei"
    denoise: bool = False

    def __post_init__(self):
        if not (math.isfinite(self.T) and math.isfinite(self.delta) and 0 < self.delta < self.T):
            raise ValueError(f"delta: must satisfy 0 < delta < T ({self.T}), got {self.delta}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 1:
            raise ValueError(f"steps: must be a positive integer, got {self.steps!r}")
        if self.grid not in grids.GRIDS:
            raise ValueError(f"grid: must be one of {grids.GRIDS}, got {self.grid!r}")
        check_scheme(self.scheme)
        if not isinstance(self.denoise, bool):
            raise ValueError(f"denoise: must be a bool, got {self.denoise!r}")

    def time_grid(self, steps: int | None = None) -> torch.Tensor:
        """The sampler's N + 1 forward times, T first, delta last (N = `steps` or self.steps)."""
        return grids.by_name(self.grid, self.T, self.steps if steps is None else steps, self.delta)

    @property
    def output(self) -> str:
        """Which output the sampler returns, in words for records."""
        return (
            "Tweedie-denoised E[x_0 | x_delta]"
            if self.denoise
            else f"early-stopped x_delta (delta = {self.delta:g})"
        )

    def train_config(self, **training) -> TrainConfig:
        """A `verify.train.TrainConfig` on this horizon (times log-uniform on [delta, T]);
        `training` holds the other fields (steps, batch, lr, seed, device, ...)."""
        if "T" in training or "delta" in training:
            raise ValueError(
                "training: T and delta come from the DiffusionSpec, not from the training settings"
            )
        return TrainConfig(T=self.T, delta=self.delta, **training)
