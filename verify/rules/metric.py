"""The seed paper's rule metric (docs/math.md section 8), with one outlier rule for every model.

Given pairs (u_i, v_i) that obey v = c u under the rule (c = slope_true), fit v = a u + b by
least squares and report

    bias = |a - c| + |b|,   variance = std of the residuals v_i - a u_i - b,   sum = bias + variance.

Outlier rule (identical for every model, data included): pairs with a non-finite coordinate
(detection failures) are dropped; then, from a first least-squares fit, pairs whose residual is
more than MAD_CUT robust standard deviations (1.4826 x the median absolute deviation of the
residuals about their median) from the median residual are dropped, and the fit is redone once on
the rest. The fraction dropped is reported. Standard errors: bootstrap over the pairs (the
outlier rule re-applied in each resample). With fewer than 3 finite pairs (e.g. every
generated image failed detection) the fit is undefined and every error is NaN; the standard
errors come from the resamples where the fit is defined.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MAD_CUT = 5.0


class RuleFit(NamedTuple):
    slope: float
    intercept: float
    bias: float
    variance: float
    total: float
    kept: int
    dropped: int


def _fit(u: np.ndarray, v: np.ndarray) -> tuple[float, float, np.ndarray]:
    design = np.stack([u, np.ones_like(u)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, v, rcond=None)
    return slope, intercept, v - slope * u - intercept


def rule_fit(u, v, slope_true: float, mad_cut: float = MAD_CUT) -> RuleFit:
    """Bias, variance and sum error of the pairs (u, v) against v = slope_true * u."""
    u, v = np.asarray(u, dtype=float).ravel(), np.asarray(v, dtype=float).ravel()
    if u.shape != v.shape:
        raise ValueError(f"v: must match u's shape {u.shape}, got {v.shape}")
    finite = np.isfinite(u) & np.isfinite(v)
    if finite.sum() < 3:
        return RuleFit(*[float("nan")] * 5, 0, int(u.size))
    u_f, v_f = u[finite], v[finite]
    *_, residual = _fit(u_f, v_f)
    centre = np.median(residual)
    spread = 1.4826 * np.median(np.abs(residual - centre))
    keep = np.abs(residual - centre) <= mad_cut * spread
    slope, intercept, residual = _fit(u_f[keep], v_f[keep])
    bias = abs(slope - slope_true) + abs(intercept)
    variance = float(np.std(residual))
    return RuleFit(
        float(slope),
        float(intercept),
        float(bias),
        variance,
        float(bias + variance),
        int(keep.sum()),
        int(u.size - keep.sum()),
    )


def rule_errors(u, v, slope_true: float, boots: int = 200, seed: int = 0) -> dict:
    """rule_fit on all pairs plus bootstrap standard errors of bias, variance and sum."""
    u, v = np.asarray(u, dtype=float).ravel(), np.asarray(v, dtype=float).ravel()
    fit = rule_fit(u, v, slope_true)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(boots):
        index = rng.integers(0, u.size, u.size)
        draws.append(rule_fit(u[index], v[index], slope_true)[2:5])
    draws = np.asarray(draws)
    finite = np.isfinite(draws[:, 2])
    se = draws[finite].std(axis=0, ddof=1) if finite.sum() > 1 else np.full(3, np.nan)
    return {
        **fit._asdict(),
        "bias_se": float(se[0]),
        "variance_se": float(se[1]),
        "total_se": float(se[2]),
    }
