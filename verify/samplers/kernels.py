"""One reverse step of every sampler as a Gaussian kernel (docs/math.md section 2).

Going from forward time t_j down to t_{j+1} (step h = t_j - t_{j+1}) with a score estimate s:

    y' = c_y * y + c_s * s(y, t_j) + sqrt(v) * xi,     xi ~ N(0, I).

- "ei"  exponential integrator:      c_y = e^h,   c_s = 2(e^h - 1),         v = e^{2h} - 1
- "em"  Euler-Maruyama:              c_y = 1 + h, c_s = 2h,                  v = 2h
- "ancestral" (Ho et al. 2020) with alpha_bar(t) = e^{-2t}, alpha = e^{-2h}, beta = 1 - alpha and
  eps = -sqrt(1 - alpha_bar_j) s:    c_y = e^h,   c_s = e^h beta,            v = beta_tilde
  where beta_tilde = (1 - alpha_bar_{j+1}) / (1 - alpha_bar_j) beta (the posterior variance).
- "ode" probability-flow ODE, exponential integrator: c_y = e^h, c_s = e^h - 1, v = 0.

The optional final denoising step (Tweedie) is a deterministic kernel of the same form at t = delta:

    E[x_0 | x_delta] = e^delta (y + (1 - e^{-2 delta}) grad log q_delta(y)):
    c_y = e^delta, c_s = 2 sinh delta, v = 0.

Samplers (verify.samplers) and the exact-law recursions (verify.exact) all read `kernel_steps`,
so they can never disagree.
"""

from __future__ import annotations

import math
from typing import NamedTuple

SCHEMES = ("ei", "em", "ancestral", "ode")


class StepKernel(NamedTuple):
    """y' ~ N(c_y y + c_s s(y, t_from), v I)."""

    c_y: float
    c_s: float
    v: float


def check_scheme(scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES}, got {scheme!r}")
    return scheme


def step_kernel(scheme: str, t_from: float, t_to: float) -> StepKernel:
    """Coefficients of the reverse step t_from -> t_to (t_from > t_to >= 0)."""
    if not (math.isfinite(t_from) and math.isfinite(t_to) and t_to >= 0):
        raise ValueError(f"t_from, t_to: must be finite times >= 0, got {t_from}, {t_to}")
    h = t_from - t_to
    if not h > 0:
        raise ValueError(f"t_to: must be below t_from ({t_from}), got {t_to}")
    if scheme == "ei":
        return StepKernel(math.exp(h), 2.0 * math.expm1(h), math.expm1(2.0 * h))
    if scheme == "em":
        return StepKernel(1.0 + h, 2.0 * h, 2.0 * h)
    if scheme == "ancestral":
        beta = -math.expm1(-2.0 * h)
        beta_tilde = -math.expm1(-2.0 * t_to) / -math.expm1(-2.0 * t_from) * beta
        return StepKernel(math.exp(h), math.exp(h) * beta, beta_tilde)
    if scheme == "ode":
        return StepKernel(math.exp(h), math.expm1(h), 0.0)
    check_scheme(scheme)
    raise AssertionError("unreachable")


def denoise_kernel(t: float) -> StepKernel:
    """Tweedie's formula E[x_0 | x_t = y] = e^t (y + (1 - e^{-2t}) s(y, t)) as a kernel with v = 0."""
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"t: the denoising time must be finite and > 0, got {t}")
    return StepKernel(math.exp(t), 2.0 * math.sinh(t), 0.0)


def kernel_steps(times, scheme: str, denoise: bool = False) -> list[tuple[float, float, StepKernel]]:
    """(t_from, t_to, kernel) for each step of the grid `times` (T first, delta last), followed,
    when `denoise` and delta > 0, by the Tweedie step (delta, 0, denoise_kernel(delta))."""
    times = [float(t) for t in times]
    steps = [(a, b, step_kernel(scheme, a, b)) for a, b in zip(times[:-1], times[1:], strict=True)]
    if denoise and times[-1] > 0:
        steps.append((times[-1], 0.0, denoise_kernel(times[-1])))
    return steps
