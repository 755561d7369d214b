"""The Girsanov bound on the chain path KL and its split (docs/math.md section 5), by Monte Carlo over the
exact forward process and a quadrature in time.

In reverse time r = T - t the true process solves dY = (Y + 2 grad log q_t(Y)) dr + sqrt(2) dB from
q_T, and on step j (forward times t_j -> t_{j+1}) the sampler is the exact solution, from gamma_d,
of an SDE with the same diffusion sqrt(2) and a drift frozen at the step's start Y_{r_j} = X_{t_j}:
    EI: b^ = Y + 2 s(X_{t_j}, t_j)          (kernel e^h, 2(e^h - 1), e^{2h} - 1)
    EM: b^ = X_{t_j} + 2 s(X_{t_j}, t_j)    (kernel 1 + h, 2h, 2h).
Girsanov gives the path KL KL(q_T || gamma_d) + sum_j int_{t_{j+1}}^{t_j} 1/(2 * 2) E|b - b^|^2 dt,
which bounds the chain path KL by data processing. With g_t = grad log q_t(X_t):
    EI: 1/4 |b - b^|^2 = |s(X_{t_j}, t_j) - g_t|^2                          (constant exactly 1)
    EM: 1/4 |b - b^|^2 = |(X_t - X_{t_j}) / 2 + g_t - s(X_{t_j}, t_j)|^2.
The ancestral kernel's variance is beta~ != e^{2h} - 1, so it is no SDE with diffusion sqrt(2)
(the path laws would be mutually singular) and the "ode" scheme has no noise: both are refused.

Split: with e_j = grad log q_{t_j}(X_{t_j}) and the drift residual of the exact frozen score
rho_t = g_t - e_j (+ (X_t - X_{t_j}) / 2 for EM), the integrand is |rho_t + e_j - s|^2 <=
2 |e_j - s|^2 + 2 |rho_t|^2, so Girsanov <= KL(q_T || gamma_d) + 2 eps_score^2 + 2 D_disc with
eps_score^2 = sum_j h_j E|s(X_{t_j}, t_j) - e_j|^2 and D_disc = sum_j int E|rho_t|^2 dt (for EI,
the docs/math.md D_disc). All terms use the same draws, so split >= Girsanov holds draw by draw.

Joint law of (X_t, X_{t_j}), t in [t_{j+1}, t_j]: draw X_0 ~ q_0, X_{t_j} = a_{t_j} X_0 + s_{t_j} Z,
then X_t from the OU bridge given (X_0, X_{t_j}):
    X_t = a_t X_0 + (e^{-(t_j - t)} s_t^2 / s_{t_j}^2) (X_{t_j} - a_{t_j} X_0)
          + sqrt(s_t^2 s_{t_j - t}^2 / s_{t_j}^2) W,
exactly the law of X_t ~ q_t and X_{t_j} = e^{-(t_j - t)} X_t + s_{t_j - t} Z'. Fixing (X_0, Z, W)
across the nodes of a step makes each draw's integrand a continuous function of t, so the
quadrature acts draw by draw and the standard error covers the time integral too.

Quadrature: on each step, composite Simpson in u with t = t_{j+1} (t_j / t_{j+1})^u (a geometric
sub-grid, dense near delta) or t uniform when t_{j+1} = 0, weights rescaled to sum to h_j (exact
for constants, so the eps_score^2 part is h_j |e_j - s|^2 exactly). Its error is estimated by
the same rule on every other node: quadrature_error = |fine - coarse| (conservative; Richardson
would divide by 15 for smooth integrands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from synthetic.ou import ou_scale, ou_variance
from synthetic.random import standard_normal
from synthetic.validation import check_count
from verify.grids import validate, validate_stages
from verify.metrics.init_kl import log_ratio_to_gamma, noised
from verify.metrics.montecarlo import Estimate, check_draws, mean_and_stderr
from verify.metrics.targets import TargetView, ar_stages, check_target, joint_view
from verify.samplers.ddpm import check_callable
from verify.samplers.kernels import check_scheme

__all__ = ["ARGirsanovBound", "GirsanovBound", "girsanov_bound", "girsanov_bound_ar"]

GIRSANOV_SCHEMES = ("ei", "em")


@dataclass(frozen=True)
class GirsanovBound:
    """Girsanov bound = initial + sum_j steps[j]; split = initial + 2 eps_score2 + 2 d_disc (nats)."""

    scheme: str
    initial: Estimate  # KL(q_T || gamma_d)
    steps: tuple[Estimate, ...]  # int_{t_{j+1}}^{t_j} E 1/4 |b - b^|^2 dt, step j
    bound: Estimate
    eps_score2: Estimate
    d_disc: Estimate
    split: Estimate
    quadrature_error: float  # estimate of |bound quadrature - bound integral|
    split_quadrature_error: float


@dataclass(frozen=True)
class ARGirsanovBound:
    """Per-stage bounds (prefix-averaged) and `joint`, their sum: the AR sampler's own
    (joint.steps lists every stage's steps in order)."""

    stages: tuple[GirsanovBound, ...]
    joint: GirsanovBound


class _Terms(NamedTuple):
    """Per-draw terms: initial (n,); per step (n, N): Girsanov integral (fine and coarse rule),
    eps_score^2, D_disc (fine and coarse)."""

    initial: torch.Tensor
    girsanov: torch.Tensor
    girsanov_coarse: torch.Tensor
    eps: torch.Tensor
    disc: torch.Tensor
    disc_coarse: torch.Tensor


def check_girsanov_scheme(scheme: str) -> str:
    check_scheme(scheme)
    if scheme not in GIRSANOV_SCHEMES:
        raise ValueError(
            f"scheme: the Girsanov bound needs an SDE step with diffusion sqrt(2) ('ei' or 'em'); "
            f"{scheme!r} has a different noise variance (ancestral) or none (ode), so its path law "
            "is singular to the true process's; use the chain path KL instead"
        )
    return scheme


def check_sub_steps(sub_steps) -> int:
    sub_steps = check_count("sub_steps", sub_steps)
    if sub_steps % 4:
        raise ValueError(f"sub_steps: must be a multiple of 4 (nested Simpson rules), got {sub_steps}")
    return sub_steps


def _simpson(m: int) -> torch.Tensor:
    """Composite Simpson weights on m (even) equal intervals of [0, 1]."""
    w = torch.ones(m + 1, dtype=torch.float64)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w / (3.0 * m)


def sub_grid(lo: float, hi: float, m: int) -> tuple[list[float], torch.Tensor, torch.Tensor]:
    """Nodes of [lo, hi] (geometric when lo > 0) and two quadrature rules on them, each summing
    to hi - lo: Simpson on all m + 1 nodes (fine) and on every other node (coarse)."""
    u = torch.linspace(0.0, 1.0, m + 1, dtype=torch.float64)
    if lo > 0:
        t = lo * (hi / lo) ** u
        jacobian = t * math.log(hi / lo)
    else:
        t = lo + (hi - lo) * u
        jacobian = torch.full_like(u, hi - lo)
    t[0], t[-1] = lo, hi
    fine = _simpson(m) * jacobian
    coarse = torch.zeros_like(fine)
    coarse[::2] = _simpson(m // 2) * jacobian[::2]
    return t.tolist(), fine * (hi - lo) / fine.sum(), coarse * (hi - lo) / coarse.sum()


def _terms(view: TargetView, score, grid, scheme: str, sub_steps: int, generator) -> _Terms:
    times = grid.tolist()
    x0 = view.sample(0.0, generator)

    def normal():
        return standard_normal(x0.shape, generator, x0.device, x0.dtype)

    initial = log_ratio_to_gamma(view, noised(x0, normal(), times[0]), times[0])
    columns = {name: [] for name in _Terms._fields[1:]}
    for j in range(len(times) - 1):
        hi, lo = times[j], times[j + 1]
        x_hi = noised(x0, normal(), hi)
        s = score(x_hi, hi).detach()
        if s.shape != x_hi.shape:
            raise ValueError(f"score: returned shape {tuple(s.shape)}, expected {tuple(x_hi.shape)}")
        exact_hi = view.score(x_hi, hi)
        error = exact_hi - s.to(x0.dtype)
        w = normal()
        nodes, fine, coarse = sub_grid(lo, hi, sub_steps)
        fine, coarse = fine.to(x0), coarse.to(x0)
        girsanov, disc = [], []
        for t in nodes:
            gain = math.exp(-(hi - t)) * ou_variance(t) / ou_variance(hi)
            spread = math.sqrt(ou_variance(t) * ou_variance(hi - t) / ou_variance(hi))
            x_t = ou_scale(t) * x0 + gain * (x_hi - ou_scale(hi) * x0) + spread * w
            residual = view.score(x_t, t) - exact_hi
            if scheme == "em":
                residual = residual + 0.5 * (x_t - x_hi)
            girsanov.append(((residual + error) ** 2).sum(1))
            disc.append((residual**2).sum(1))
        girsanov, disc = torch.stack(girsanov, 1), torch.stack(disc, 1)
        columns["girsanov"].append(girsanov @ fine)
        columns["girsanov_coarse"].append(girsanov @ coarse)
        columns["eps"].append((hi - lo) * (error**2).sum(1))
        columns["disc"].append(disc @ fine)
        columns["disc_coarse"].append(disc @ coarse)
    return _Terms(initial, **{name: torch.stack(c, 1) for name, c in columns.items()})


def _summarise(terms: _Terms, scheme: str) -> GirsanovBound:
    girsanov, eps, disc = terms.girsanov.sum(1), terms.eps.sum(1), terms.disc.sum(1)
    return GirsanovBound(
        scheme=scheme,
        initial=mean_and_stderr(terms.initial),
        steps=tuple(mean_and_stderr(column) for column in terms.girsanov.T),
        bound=mean_and_stderr(terms.initial + girsanov),
        eps_score2=mean_and_stderr(eps),
        d_disc=mean_and_stderr(disc),
        split=mean_and_stderr(terms.initial + 2.0 * eps + 2.0 * disc),
        quadrature_error=abs(float((girsanov - terms.girsanov_coarse.sum(1)).mean())),
        split_quadrature_error=2.0 * abs(float((disc - terms.disc_coarse.sum(1)).mean())),
    )


def girsanov_bound(
    target, score, grid, n: int, scheme: str = "ei", generator=None, sub_steps: int = 8
) -> GirsanovBound:
    """Girsanov bound and split for the sampler `scheme` ('ei' or 'em') with score s(x, t) on
    `grid`, over n draws of the forward process of `target`; sub_steps (a multiple of 4) Simpson
    intervals per step."""
    target = check_target(target)
    grid = validate(grid)
    n = check_draws(n)
    scheme = check_girsanov_scheme(scheme)
    sub_steps = check_sub_steps(sub_steps)
    check_callable("score", score)
    return _summarise(_terms(joint_view(target, n), score, grid, scheme, sub_steps, generator), scheme)


def girsanov_bound_ar(
    target, conditional_score, grids, n: int, scheme: str = "ei", generator=None, sub_steps: int = 8
) -> ARGirsanovBound:
    """Per-stage Girsanov bounds and splits of the AR-DM sampler with s(k, x^k, x^{<k}, t) on
    `grids` (one, or one per stage), on prefixes drawn from the AR target, and their sums."""
    target = check_target(target)
    grids = validate_stages(grids, target.num_patches)
    n = check_draws(n)
    scheme = check_girsanov_scheme(scheme)
    sub_steps = check_sub_steps(sub_steps)
    check_callable("conditional_score", conditional_score)
    parts = [
        _terms(view, score, grid, scheme, sub_steps, generator)
        for view, score, grid in ar_stages(target, conditional_score, grids, n, generator)
    ]
    joint = _Terms(
        torch.stack([p.initial for p in parts]).sum(0),
        *(torch.cat([getattr(p, f) for p in parts], dim=1) for f in _Terms._fields[1:]),
    )
    return ARGirsanovBound(tuple(_summarise(p, scheme) for p in parts), _summarise(joint, scheme))
