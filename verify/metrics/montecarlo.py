"""Monte Carlo results: a value with its standard error, shared by every estimator in verify.metrics.

From n i.i.d. draws Y_1..Y_n of a quantity with mean mu, the estimate is the sample mean and its
standard error is sd(Y) / sqrt(n) (sd with the n - 1 denominator), so that under the central limit
theorem value - mu is approximately N(0, stderr^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic.validation import DTYPE, check_count


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: value, standard error, and n, the number of i.i.d. draws behind it."""

    value: float
    stderr: float
    n: int

    def __str__(self) -> str:
        return f"{self.value:.6g} ± {self.stderr:.2g} (n={self.n})"

    def scaled(self, factor: float) -> Estimate:
        """The estimate of factor * mu (the same draws, rescaled)."""
        return Estimate(factor * self.value, abs(factor) * self.stderr, self.n)

    def as_dict(self) -> dict:
        """Plain numbers for result records."""
        return {"value": self.value, "stderr": self.stderr, "n": self.n}


def mean_and_stderr(samples) -> Estimate:
    """Estimate of E[Y] from a 1-D tensor of i.i.d. draws Y_i (at least two, all finite)."""
    samples = torch.as_tensor(samples, dtype=DTYPE).detach()
    if samples.ndim != 1 or samples.numel() < 2:
        raise ValueError(f"samples: need a 1-D tensor of >= 2 draws, got shape {tuple(samples.shape)}")
    if not torch.isfinite(samples).all():
        raise ValueError("samples: contains NaN or infinite values")
    n = samples.numel()
    return Estimate(float(samples.mean()), float(samples.std()) / math.sqrt(n), n)


def check_draws(n) -> int:
    """A number of Monte Carlo draws: an integer >= 2 (a standard error needs two)."""
    n = check_count("n", n)
    if n < 2:
        raise ValueError(f"n: need at least 2 draws for a standard error, got {n}")
    return n
