"""Machinery shared by the bound-hierarchy sweeps of DDPM and AR-DM (docs/theory.md, "The hierarchy").

A sweep measures, for each (target, score) setting and each number of steps N on a time grid
T = t_0 > ... > t_N = delta, the levels of

    gap = KL(q_delta || p^) <= chain path KL <= Girsanov <= split = KL(q_T || gamma) + 2 eps^2 + 2 D_disc

(for AR-DM stage by stage, with prefixes drawn from p_AR, and for the joint). This module holds
what both experiments share: the sweep configuration, the grid by name, Richardson extrapolation of
a grid-law value, the Monte Carlo levels of a measured hierarchy and the checks of its links, the
perturbation fields, and the cells of a sweep. The experiments import it; neither imports the other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from bounds.hierarchy import LEVELS, LINKS
from verify.exact import richardson
from verify.experiments import Cell, check_positive_int
from verify.metrics.girsanov import GIRSANOV_SCHEMES
from verify.records import MARGIN_SE, check
from verify.spec import DiffusionSpec

__all__ = [
    "LEVELS",
    "SweepConfig",
    "SweepParams",
    "bound_values",
    "hierarchy_checks",
    "quarter_turn",
    "richardson_pair",
    "sign_vector",
    "sweep_cells",
]


def _positive_float(name: str, value) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: must be a finite positive number, got {value!r}")


@dataclass(frozen=True)
class SweepConfig:
    """What every hierarchy sweep shares. settings: (target, score) pairs; steps: the N sweep;
    draws: Monte Carlo draws per bound; sub_steps: Simpson intervals per step (Girsanov);
    nodes: grid nodes per axis for the d <= 2 grid law on [-box, box]^d, refined to 2 x nodes for
    Richardson (`resolutions`); perturbation: size of the score error field; `diffusion(N)` the
    sampler of N steps on the sweep's (T, delta, grid, scheme). Subclasses name their TARGETS and
    SCORES."""

    TARGETS: ClassVar[tuple[str, ...]] = ()
    SCORES: ClassVar[tuple[str, ...]] = ()

    settings: tuple[tuple[str, str], ...]
    steps: tuple[int, ...]
    grid: str = "exponential_linear"
    scheme: str = "ei"
    T: float = 3.0
    delta: float = 0.02
    draws: int = 2000
    sub_steps: int = 8
    nodes: int = 96
    box: float = 7.0
    perturbation: float = 0.3

    def __post_init__(self):
        if not self.settings:
            raise ValueError("settings: need at least one (target, score) pair")
        for target, score in self.settings:
            if target not in self.TARGETS:
                raise ValueError(f"settings: unknown target {target!r}; known: {self.TARGETS}")
            if score not in self.SCORES:
                raise ValueError(f"settings: unknown score {score!r}; known: {self.SCORES}")
        if len(set(self.settings)) != len(self.settings):
            raise ValueError("settings: pairs must be distinct")
        if len(self.steps) < 2 or len(set(self.steps)) != len(self.steps):
            raise ValueError(f"steps: need at least two distinct N (to fit C), got {self.steps}")
        for n in self.steps:
            check_positive_int("steps", n)
        if self.scheme not in GIRSANOV_SCHEMES:
            raise ValueError(f"scheme: must be one of {GIRSANOV_SCHEMES} (Girsanov), got {self.scheme!r}")
        for name in ("box", "perturbation"):
            _positive_float(name, getattr(self, name))
        self.diffusion(1)  # checks T, delta and the grid
        for name in ("draws", "sub_steps", "nodes"):
            check_positive_int(name, getattr(self, name))
        if self.draws < 2:
            raise ValueError(f"draws: need at least 2 for a standard error, got {self.draws}")
        if self.sub_steps % 4:
            raise ValueError(f"sub_steps: must be a multiple of 4, got {self.sub_steps}")
        if self.nodes < 8:
            raise ValueError(f"nodes: need at least 8, got {self.nodes}")

    def diffusion(self, steps: int) -> DiffusionSpec:
        """The sweep's sampler with N = `steps` (its T and delta are also the training horizon)."""
        return DiffusionSpec(self.T, self.delta, steps, self.grid, self.scheme)

    @property
    def resolutions(self) -> tuple[int, int]:
        """The Richardson pair (nodes, 2 nodes)."""
        return self.nodes, 2 * self.nodes


@dataclass(frozen=True)
class SweepParams:
    """One cell of a sweep: a (target, score) setting, the sweep's config and the cell's seed."""

    target: str
    score: str
    config: SweepConfig
    seed: int


def sweep_cells(name: str, config: SweepConfig, seed: int) -> list[Cell]:
    """One cell per (target, score) setting; setting i is seeded seed * 1000 + i."""
    return [
        Cell(name, f"{target}-{score}", SweepParams(target, score, config, seed * 1000 + i))
        for i, (target, score) in enumerate(config.settings)
    ]


def sign_vector(dim: int, size: float) -> torch.Tensor:
    """b_i = size (-1)^i / sqrt(d): a constant score bias of norm `size` in every dimension."""
    signs = torch.tensor([(-1.0) ** i for i in range(dim)], dtype=torch.float64)
    return size * signs / math.sqrt(dim)


def quarter_turn() -> torch.Tensor:
    """R = [[0, 1], [-1, 0]]: the 2-D rotation of a non-gradient perturbation field R (x - mu)."""
    return torch.tensor([[0.0, 1.0], [-1.0, 0.0]], dtype=torch.float64)


def richardson_pair(values, dxs) -> tuple[float, float]:
    """Extrapolated value and its error estimate |extrapolated - finest|."""
    value = richardson(values[0], values[1], dxs[0], dxs[1])
    return value, abs(value - values[1])


def bound_values(chain, girsanov) -> dict:
    """The Monte Carlo levels of the hierarchy with their standard and quadrature errors."""
    return {
        "chain_path_kl": chain.total.value,
        "chain_path_kl_se": chain.total.stderr,
        "girsanov": girsanov.bound.value,
        "girsanov_se": girsanov.bound.stderr,
        "girsanov_quad": girsanov.quadrature_error,
        "split": girsanov.split.value,
        "split_se": girsanov.split.stderr,
        "split_quad": girsanov.split_quadrature_error,
        "kl_T": girsanov.initial.value,
        "eps_score2": girsanov.eps_score2.value,
        "eps_score2_se": girsanov.eps_score2.stderr,
        "d_disc": girsanov.d_disc.value,
    }


def hierarchy_checks(label: str, row: dict) -> list[dict]:
    """gap <= chain <= Girsanov <= split from one row of measured levels (bound_values plus gap,
    gap_err): margins MARGIN_SE combined standard errors plus the grid and quadrature error estimates.
    Girsanov <= split holds draw by draw (same draws, positive quadrature weights): margin 0.
    A NaN gap (unavailable) gives no first check."""
    margins = {
        "chain_path_kl": MARGIN_SE * row["chain_path_kl_se"] + row.get("gap_err", 0.0),
        "girsanov": MARGIN_SE * math.hypot(row["chain_path_kl_se"], row["girsanov_se"])
        + row["girsanov_quad"],
        "split": 0.0,
    }
    out = []
    for link in LINKS:
        lhs = row.get(link.lhs, math.nan)
        if link.lhs == "gap" and not math.isfinite(lhs):
            continue
        out.append(check(f"{label}: {link.lhs} <= {link.rhs}", lhs, row[link.rhs], "<=", margins[link.rhs]))
    return out
