"""Divergences of a grid law (verify.exact.grid_law) against an exact target, by quadrature.

- `grid_divergences`: joint KL(q || p^), KL(p^ || q) and TV on the box.
- `conditional_divergences`: per-prefix KL(q(.|x1) || p^(.|x1)), its reverse and TV for every grid
  x1 (d = 2), averaged over the true prefix law and maximised over a high-probability region.
- `conditional_endpoints`: every conditional endpoint of the conditional claim (docs/math.md section 4),
  including those the chain rule does not cap: the reverse conditional KL, conditionals weighted by
  the model's own prefix law, conditional KL binned by log q(x1) and the worst case over every
  prefix above a density floor.
- `richardson`: two-resolution extrapolation of an O(dx^2) error.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from synthetic.validation import DTYPE
from verify.exact.grid_law import GridLaw


class GridDivergences(NamedTuple):
    """Divergences by quadrature on the box (nats); masses are the box integrals."""

    kl_target_sampler: float
    kl_sampler_target: float
    tv: float
    sampler_mass: float
    target_mass: float


class PrefixCurves(NamedTuple):
    """Per-prefix conditional divergences between target q(x2 | x1) and sampler p^(x2 | x1).

    weight: the true prefix density times dx, normalised to sum 1 (the averaging weight);
    region: the high-probability prefixes, the fewest grid values holding `coverage` of the
    weight; worst_*: maxima over that region; average_*: weighted by `weight` over all prefixes.
    """

    prefix: torch.Tensor
    kl: torch.Tensor
    reverse_kl: torch.Tensor
    tv: torch.Tensor
    weight: torch.Tensor
    region: torch.Tensor
    average_kl: float
    average_reverse_kl: float
    average_tv: float
    worst_kl: float
    worst_reverse_kl: float
    worst_tv: float


def _divergences(density, log_target, cell, dim=None):
    """KL(q || p^), KL(p^ || q), TV, mass of p^, mass of q by quadrature, summed over `dim`
    (all when None). Where p^ underflows to 0 its log is taken at the smallest normal float."""
    target = log_target.exp()
    log_density = density.clamp_min(torch.finfo(DTYPE).tiny).log()
    forward = torch.where(target > 0, target * (log_target - log_density), 0.0)
    reverse = torch.where(density > 0, density * (log_density - log_target), 0.0)
    sums = [v.sum() if dim is None else v.sum(dim=dim) for v in (forward, reverse)]
    tv = 0.5 * (density - target).abs()
    tv = tv.sum() if dim is None else tv.sum(dim=dim)
    return sums[0] * cell, sums[1] * cell, tv * cell, target


def _log_values(log_prob, *args, rows: int, name: str) -> torch.Tensor:
    values = log_prob(*args)
    if tuple(values.shape) != (rows,):
        raise ValueError(f"{name}: must return shape ({rows},), got {tuple(values.shape)}")
    return values.to(DTYPE)


def grid_divergences(law: GridLaw, log_prob) -> GridDivergences:
    """KL(q || p^), KL(p^ || q) and TV = 1/2 int |p^ - q| by quadrature on the box, with
    log_prob(x (m, d)) -> (m,) the exact target log-density."""
    points = law.points()
    log_target = _log_values(log_prob, points, rows=points.shape[0], name="log_prob")
    density = law.density.reshape(-1)
    forward, reverse, tv, target = _divergences(density, log_target, law.cell)
    return GridDivergences(
        float(forward),
        float(reverse),
        float(tv),
        float(density.sum()) * law.cell,
        float(target.sum()) * law.cell,
    )


def conditional_divergences(
    law: GridLaw, conditional_log_prob, prefix_log_prob, coverage: float = 0.999
) -> PrefixCurves:
    """Per-prefix KL(q(.|x1) || p^(.|x1)), KL(p^(.|x1) || q(.|x1)) and TV for every grid x1
    (d = 2), averaged with the true prefix density and maximised over the prefixes holding
    `coverage` of it. conditional_log_prob(x2 (m, 1), x1 (m, 1)) -> (m,) and
    prefix_log_prob(x1 (m, 1)) -> (m,) are the exact target's."""
    if law.dim != 2:
        raise ValueError(f"law: conditional curves need d = 2, got d = {law.dim}")
    if not 0.0 < coverage <= 1.0:
        raise ValueError(f"coverage: must be in (0, 1], got {coverage}")
    n = law.axes[0].shape[0]
    points = law.points()
    log_cond = _log_values(
        conditional_log_prob, points[:, 1:], points[:, :1], rows=n * n, name="conditional_log_prob"
    )
    kl, reverse_kl, tv, _ = _divergences(law.conditional(), log_cond.reshape(n, n), law.dx, dim=1)
    prefix = law.axes[0]
    weight = _log_values(prefix_log_prob, prefix[:, None], rows=n, name="prefix_log_prob").exp()
    weight = weight / weight.sum()
    order = torch.argsort(weight, descending=True)
    sorted_weight = weight[order]
    region = torch.zeros(n, dtype=torch.bool, device=weight.device)
    region[order[(sorted_weight.cumsum(0) - sorted_weight) < coverage]] = True
    return PrefixCurves(
        prefix,
        kl,
        reverse_kl,
        tv,
        weight,
        region,
        float((weight * kl).sum()),
        float((weight * reverse_kl).sum()),
        float((weight * tv).sum()),
        float(kl[region].max()),
        float(reverse_kl[region].max()),
        float(tv[region].max()),
    )


def richardson(coarse: float, fine: float, dx_coarse: float, dx_fine: float) -> float:
    """Extrapolate F(dx) = F_0 + C dx^2 + o(dx^2) to dx = 0 from two resolutions."""
    if not dx_coarse > dx_fine > 0:
        raise ValueError(f"dx_fine: need 0 < dx_fine < dx_coarse, got {dx_fine} and {dx_coarse}")
    weight = dx_coarse**2 / (dx_coarse**2 - dx_fine**2)
    return weight * fine + (1.0 - weight) * coarse


DENSITY_FLOOR = 1e-6  # prefixes where q(x1) or p^(x1) falls below this are not resolved
PREFIX_BINS = (1e-4, 1e-2, 1e-1)  # edges in q(x1) of the tail-to-bulk prefix bins above the floor


class ConditionalEndpoints(NamedTuple):
    """The conditional endpoints of a 2-D grid law p^ against the exact q (docs/math.md section 4).

    joint_*: KL(q || p^) and KL(p^ || q). With KL_f(a) = KL(q(.|a) || p^(.|a)) and
    KL_r(a) = KL(p^(.|a) || q(.|a)) for every grid prefix a:
    average_*: weighted by the true prefix law q(a) (average_kl <= joint_kl by the chain rule);
    model_prefix_*: weighted by the model's own prefix law p^(a) (not capped by the chain rule);
    worst_*: maxima over the resolved prefixes, q(a) >= floor and p^(a) >= floor;
    binned_*: q-weighted means over the resolved prefixes in each bin of q(a), the bins cut at
    `edges` (None for an empty bin), tails first. `curves` keeps the per-prefix values.
    """

    joint_kl: float
    joint_reverse_kl: float
    average_kl: float
    average_reverse_kl: float
    model_prefix_kl: float
    model_prefix_reverse_kl: float
    worst_kl: float
    worst_reverse_kl: float
    binned_kl: tuple
    binned_reverse_kl: tuple
    edges: tuple
    floor: float
    curves: PrefixCurves
    prefix_density: torch.Tensor
    model_prefix_density: torch.Tensor
    resolved: torch.Tensor

    def scalars(self) -> dict:
        """Every scalar endpoint by name (binned ones as binned_kl_0, ..., tails first)."""
        out = {name: getattr(self, name) for name in SCALAR_ENDPOINTS}
        for name in ("binned_kl", "binned_reverse_kl"):
            out.update({f"{name}_{i}": value for i, value in enumerate(getattr(self, name))})
        return out


SCALAR_ENDPOINTS = (
    "joint_kl",
    "joint_reverse_kl",
    "average_kl",
    "average_reverse_kl",
    "model_prefix_kl",
    "model_prefix_reverse_kl",
    "worst_kl",
    "worst_reverse_kl",
)


def _binned(values, weight, bins, count):
    out = []
    for i in range(count):
        inside = bins == i
        mass = float(weight[inside].sum())
        out.append(float((weight[inside] * values[inside]).sum()) / mass if mass > 0 else None)
    return tuple(out)


def conditional_endpoints(
    law: GridLaw, log_prob, prefix_log_prob, floor: float = DENSITY_FLOOR, edges=PREFIX_BINS
) -> ConditionalEndpoints:
    """All conditional endpoints of `law` (d = 2) against the exact q, with log_prob(x (m, 2))
    -> (m,) = log q(x1, x2) and prefix_log_prob(x1 (m, 1)) -> (m,) = log q(x1); the conditional
    is log q(x2 | x1) = log q(x1, x2) - log q(x1). `floor` (a density) states where a prefix is
    resolved; `edges` (increasing densities above the floor) cut the bins of q(x1)."""
    if not 0 < floor < 1:
        raise ValueError(f"floor: must be a density in (0, 1), got {floor}")
    edges = tuple(float(e) for e in edges)
    if any(not b > a for a, b in zip((floor, *edges[:-1]), edges, strict=True)):
        raise ValueError(f"edges: must increase above the floor {floor}, got {edges}")
    joint = grid_divergences(law, log_prob)

    def conditional_log_prob(x2, x1):
        return log_prob(torch.cat([x1, x2], dim=1)) - prefix_log_prob(x1)

    curves = conditional_divergences(law, conditional_log_prob, prefix_log_prob, coverage=1.0)
    n = law.axes[0].shape[0]
    prefix_density = _log_values(prefix_log_prob, law.axes[0][:, None], rows=n, name="prefix_log_prob").exp()
    model_density = law.marginal(0)
    resolved = (prefix_density >= floor) & (model_density >= floor)
    model_weight = model_density / model_density.sum()
    cut = torch.tensor((floor, *edges), dtype=DTYPE, device=prefix_density.device)
    bins = torch.where(resolved, torch.bucketize(prefix_density, cut, right=True) - 1, -1)

    def worst(values):
        return float(values[resolved].max()) if bool(resolved.any()) else float("nan")

    return ConditionalEndpoints(
        joint.kl_target_sampler,
        joint.kl_sampler_target,
        curves.average_kl,
        curves.average_reverse_kl,
        float((model_weight * curves.kl).sum()),
        float((model_weight * curves.reverse_kl).sum()),
        worst(curves.kl),
        worst(curves.reverse_kl),
        _binned(curves.kl, curves.weight, bins, len(cut)),
        _binned(curves.reverse_kl, curves.weight, bins, len(cut)),
        edges,
        float(floor),
        curves,
        prefix_density,
        model_density,
        resolved,
    )
