"""Exact output law of a sampler driven by an affine score (docs/math.md section 7), float64, any d.

Every step is the Gaussian kernel y' ~ N(c_y y + c_s s(y, t_j), v_j I) of
`verify.samplers.kernels.step_kernel`. With s(y, t) = A(t) y + c(t) and y ~ N(m, S) the output is
Gaussian again, with M = c_y I + c_s A(t_j):

    m' = M m + c_s c(t_j),        S' = M S M^T + v_j I,

started from y ~ N(0, I) at t_0 = T. For AR-DM, stage k's score is
s = A y + B x^{<k} + c, so its mean stays affine in the clean prefix (y = P x^{<k} + q + noise):
P' = M P + c_s B, q' = M q + c_s c, S' as above. Each stage is therefore a linear-Gaussian
regression on the prefix, and the joint output is Gaussian (the stages stacked by `stack_stages`).
The AR target p_AR,delta of Gaussian data has the same form (`gaussian_ar_target`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from synthetic.ou import ou_scale, ou_variance
from synthetic.patches import Patches
from synthetic.validation import DTYPE, as_tensor, check_count, check_time
from verify.grids import validate, validate_stages
from verify.metrics.gaussian import gaussian_conditional
from verify.samplers.kernels import check_scheme, kernel_steps


class GaussianLaw(NamedTuple):
    """N(mean, cov)."""

    mean: torch.Tensor
    cov: torch.Tensor


class StageLaw(NamedTuple):
    """x^k | x^{<k} = a  ~  N(gain a + offset, cov) (gain has shape (d_k, sum_{j<k} d_j))."""

    gain: torch.Tensor
    offset: torch.Tensor
    cov: torch.Tensor


class GaussianARLaw(NamedTuple):
    """Joint N(mean, cov) of an AR-DM sampler's output and its per-stage conditional laws."""

    mean: torch.Tensor
    cov: torch.Tensor
    stages: tuple[StageLaw, ...]


def _coefficient(name: str, value, shape: tuple[int, ...]) -> torch.Tensor:
    value = as_tensor(name, value)
    if tuple(value.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(value.shape)}")
    return value


def _propagate(affine, grid, dim, prefix_dim, scheme, denoise=False):
    """Run the mean/covariance recursion of one (stage of a) sampler.

    affine(t) -> (A, B, c) with s(y, t) = A y + B a + c; returns (P, q, S) such that the output
    given the prefix a is N(P a + q, S).
    """
    eye = torch.eye(dim, dtype=DTYPE)
    gain = torch.zeros(dim, prefix_dim, dtype=DTYPE)
    mean = torch.zeros(dim, dtype=DTYPE)
    cov = eye.clone()
    for t_from, _, kernel in kernel_steps(grid.tolist(), scheme, denoise):
        a, b, c = affine(t_from)
        a = _coefficient("affine_score A", a, (dim, dim))
        b = _coefficient("affine_score B", b, (dim, prefix_dim))
        c = _coefficient("affine_score c", c, (dim,))
        m = kernel.c_y * eye + kernel.c_s * a
        gain = m @ gain + kernel.c_s * b
        mean = m @ mean + kernel.c_s * c
        cov = m @ cov @ m.T + kernel.v * eye
        cov = 0.5 * (cov + cov.T)
    return gain, mean, cov


def gaussian_sampler_law(
    affine_score, grid, dim: int, scheme: str = "ei", denoise: bool = False
) -> GaussianLaw:
    """Exact output law N(mean, cov) of the sampler with score s(x, t) = x A^T + c, where
    affine_score(t) -> (A (d, d), c (d,)), started at N(0, I) on `grid` (with `denoise`, after
    the final Tweedie step)."""
    check_scheme(scheme)
    grid = validate(grid)
    dim = check_count("dim", dim)

    def affine(t):
        a, c = affine_score(t)
        return a, torch.zeros(dim, 0, dtype=DTYPE), c

    _, mean, cov = _propagate(affine, grid, dim, 0, scheme, denoise)
    return GaussianLaw(mean, cov)


def gaussian_ar_sampler_law(
    conditional_affine_score, patch_sizes, grids, scheme: str = "ei", denoise: bool = False
) -> GaussianARLaw:
    """Exact joint output law of the AR-DM sampler and its per-stage conditional laws.

    conditional_affine_score(k, t) -> (A (d_k, d_k), B (d_k, sum_{j<k} d_j), c (d_k,)) means the
    stage-k score is x_k A^T + prefix B^T + c; `grids` is one grid or one per stage. Stage k maps
    the prefix a to x^k ~ N(P_k a + q_k, S_k); stacking the stages gives the joint Gaussian.
    With `denoise` every stage ends with its Tweedie step (verify.samplers.kernels).
    """
    check_scheme(scheme)
    layout = Patches(patch_sizes)
    grids = validate_stages(grids, len(layout))
    stages = []
    for k, (size, grid) in enumerate(zip(layout.sizes, grids, strict=True)):
        stage = _propagate(
            lambda t, k=k: conditional_affine_score(k, t), grid, size, layout.offsets[k], scheme, denoise
        )
        stages.append(StageLaw(*stage))
    return stack_stages(stages)


def append_stage(law: GaussianLaw, stage: StageLaw) -> GaussianLaw:
    """Joint law of (a, b) for a ~ N(m, S) and b | a ~ N(G a + g, C):
    N((m, G m + g), [[S, S G^T], [G S, G S G^T + C]])."""
    cross = stage.gain @ law.cov  # Cov(b, a)
    block = cross @ stage.gain.T + stage.cov
    cov = torch.cat([torch.cat([law.cov, cross.T], dim=1), torch.cat([cross, block], dim=1)])
    return GaussianLaw(torch.cat([law.mean, stage.gain @ law.mean + stage.offset]), 0.5 * (cov + cov.T))


def stack_stages(stages) -> GaussianARLaw:
    """The joint Gaussian of x^0, ..., x^{K-1} drawn stage by stage, x^k | x^{<k} ~ stages[k]."""
    stages = tuple(stages)
    law = GaussianLaw(stages[0].cov.new_zeros(0), stages[0].cov.new_zeros(0, 0))
    for stage in stages:
        law = append_stage(law, stage)
    return GaussianARLaw(law.mean, law.cov, stages)


def gaussian_ar_target(mean, cov, patch_sizes, deltas) -> GaussianARLaw:
    """The AR target p_AR,delta = prod_k q^k_{delta_k}(x^k | x^{<k}) of Gaussian data N(mean, cov)
    (docs/math.md section 5), with its stage laws: the clean conditional x^k | a ~ N(G a + g, C) pushed
    through OU_{delta_k} on patch k alone is N(e^{-delta_k} (G a + g), e^{-2 delta_k} C +
    (1 - e^{-2 delta_k}) I). `deltas` is one delta_k per stage or one number for all."""
    mean, cov = as_tensor("mean", mean, ndim=1), as_tensor("cov", cov, ndim=2)
    layout = Patches.of(mean.shape[0], patch_sizes)
    deltas = [deltas] * len(layout) if isinstance(deltas, (int, float)) else list(deltas)
    if len(deltas) != len(layout):
        raise ValueError(f"deltas: need one delta or {len(layout)} (one per stage), got {len(deltas)}")
    stages = []
    for k, (size, delta) in enumerate(zip(layout.sizes, deltas, strict=True)):
        law = gaussian_conditional(mean, cov, layout.offsets[k], size)
        a, noise = ou_scale(check_time(delta)), ou_variance(check_time(delta))
        eye = torch.eye(size, dtype=DTYPE, device=cov.device)
        stages.append(StageLaw(a * law.gain, a * law.offset, a * a * law.cov + noise * eye))
    return stack_stages(stages)
