"""The specifications of the diffusion a model is trained for and sampled with, and of its training.

Training draws times log-uniformly on [delta, T] and sampling runs a grid from T down to delta:
both read the same `DiffusionSpec`, so the horizon a network was trained on and the one it is
sampled on can never disagree (a network trained on t <= 4 and started at t = 6 is the bug this
prevents). `steps` is the number of sampler steps N (NFE = N, plus one with `denoise`); `grid`
names the time grid (verify.grids); `scheme` the kernel (verify.samplers.kernels); `denoise`
ends every (stage of the) sampler with the Tweedie step E[x_0 | x_delta]. `TrainSpec` holds the
rest of the training settings; `DiffusionSpec.train_config(train, ...)` joins the two.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from verify import grids
from verify.experiments import check_instance
from verify.samplers.kernels import check_scheme
from verify.train import TrainConfig


@dataclass(frozen=True)
class TrainSpec:
    """steps: Adam steps; batch: fresh samples per step; lr: peak learning rate; lr_schedule and
    ema_decay: see `verify.train.TrainConfig`, whose defaults and checks these are."""

    steps: int = TrainConfig.steps
    batch: int = TrainConfig.batch
    lr: float = TrainConfig.lr
    lr_schedule: str = TrainConfig.lr_schedule
    ema_decay: float = TrainConfig.ema_decay

    def __post_init__(self):
        TrainConfig(**asdict(self))  # the same checks, naming the field


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

    def train_config(self, train: TrainSpec, **run) -> TrainConfig:
        """The `verify.train.TrainConfig` of `train` on this horizon (times log-uniform on
        [delta, T]); `run` holds the per-run fields (seed, device, ...)."""
        check_instance("train", train, TrainSpec)
        if {"T", "delta"} & run.keys():
            raise ValueError("run: T and delta come from the DiffusionSpec, not from the run settings")
        return TrainConfig(T=self.T, delta=self.delta, **asdict(train), **run)
