"""Verdicts on model comparisons from paired seeds (docs/math.md section 4, "Statistics of a model
comparison").

Each comparison pairs the two models by training seed: d_i = f(DDPM_i) - f(AR_i) for i = 1..n
(f = identity, or f = log for multiplicative effects, then d_i is a log ratio). The estimate is
mean(d) with a two-sided Student-t interval at level 1 - 2 alpha (90%: the interval that matches
one-sided tests at alpha, as in TOST); p-values are exact sign-flip permutation p-values (all 2^n
sign patterns up to n = 16, a seeded random subset of 2^16 beyond). A declared margin m > 0 (the
smallest effect of interest, in the units of d) turns the tests into decisions:

- superiority ("the DDPM-minus-AR-DM difference is positive"): supported when H0: mu <= 0 is
  rejected; contradicted when H0: mu >= m is rejected (the effect is shown to be below the
  margin, or negative) and superiority is not; unresolved otherwise.
- equivalence ("no better", |mu| < m): two one-sided tests (TOST), supported when both
  H0: mu <= -m and H0: mu >= m are rejected; contradicted when the effect is shown to lie outside
  the margin (H0: mu <= m or H0: mu >= -m rejected); unresolved otherwise.

A numerical error e of the measurement (a grid's, say, which every seed shares) widens every null
by e against the conclusion it would allow (`Comparison.numerical_error`): a decision holds for
every shift of the mean by at most e.

The primary endpoints of one claim form a family: Holm's step-down correction is applied to each
kind of test across them (`decide`); secondary endpoints carry unadjusted p-values. An unresolved
verdict states its power: the probability that a one-sided paired t-test at level alpha on n
pairs with the observed standard deviation detects an effect of size m (0 when the permutation
test cannot reach alpha at all with n pairs: 2^-n times the Holm family size >= alpha).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

VERDICTS = ("supported", "contradicted", "unresolved")
KINDS = ("superiority", "equivalence")
SCALES = ("linear", "log")
EXACT_UP_TO = 16  # all 2^n sign patterns up to this n
RANDOM_PATTERNS = 1 << 16


def _signs(n: int) -> np.ndarray:
    """Sign patterns for the permutation test: all 2^n, or a fixed random subset with the
    identity first (so the observed statistic is always among them)."""
    if n <= EXACT_UP_TO:
        return np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    rng = np.random.default_rng(20250430)
    draws = rng.choice((1.0, -1.0), size=(RANDOM_PATTERNS - 1, n))
    return np.vstack([np.ones((1, n)), draws])


def sign_flip_p(differences, shift: float = 0.0, alternative: str = "greater") -> float:
    """Permutation p-value of H0: the d_i - shift are symmetric about 0, against mean > 0
    ("greater"), mean < 0 ("less") or mean != 0 ("two-sided"); exact for n <= 16."""
    d = np.asarray(differences, dtype=float) - shift
    if alternative not in ("greater", "less", "two-sided"):
        raise ValueError(f"alternative: must be greater, less or two-sided, got {alternative!r}")
    means = _signs(d.size) @ d / d.size
    observed = d.mean()
    tol = 1e-12 * max(1.0, float(np.abs(d).max(initial=0.0)))
    if alternative == "greater":
        return float(np.mean(means >= observed - tol))
    if alternative == "less":
        return float(np.mean(means <= observed + tol))
    return float(np.mean(np.abs(means) >= abs(observed) - tol))


def t_interval(differences, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, standard error, half-width of the two-sided Student-t interval at `level`)."""
    d = np.asarray(differences, dtype=float)
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    return float(d.mean()), se, float(stats.t.ppf(0.5 + level / 2, d.size - 1)) * se


def mean_interval(values, level: float = 0.95) -> tuple[float, float, list[float]]:
    """(mean, standard error, [low, high]) of the two-sided Student-t interval at `level` over
    repeats (seeds, rounds); the interval collapses to the mean for a single value."""
    values = np.asarray(list(values), float)
    if values.size < 2:
        return float(values.mean()), 0.0, [float(values.mean())] * 2
    mean, se, half = t_interval(values, level)
    return mean, se, [mean - half, mean + half]


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values: p_(i) * (m - i + 1), running maximum, capped at 1."""
    p = [float(v) for v in pvalues]
    order = sorted(range(len(p)), key=p.__getitem__)
    adjusted, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def power(n: int, sd: float, effect: float, alpha: float = 0.05, kind: str = "superiority") -> float:
    """Power of the paired t-test counterpart of a comparison on n pairs at standard deviation
    `sd`: superiority, the one-sided test at level alpha detecting a true effect `effect`
    (noncentral t); equivalence, TOST with band +-effect when the true effect is 0, approximated by
    max(0, 2 F(effect sqrt(n) / sd - t_{1-alpha}) - 1) with F the t distribution function (a few
    points below simulated TOST power at n = 8: conservative)."""
    if n < 2 or not sd > 0:
        return 1.0 if n >= 2 else 0.0
    critical = stats.t.ppf(1 - alpha, n - 1)
    shift = abs(effect) * math.sqrt(n) / sd
    if kind == "equivalence":
        return max(0.0, 2.0 * float(stats.t.cdf(shift - critical, n - 1)) - 1.0)
    return float(stats.nct.sf(critical, n - 1, shift))


@dataclass(frozen=True)
class Comparison:
    """One pre-declared comparison. `differences`: paired d_i (DDPM minus AR-DM unless the claim
    says otherwise), already on `scale` (log ratios for "log"); `margin` > 0 in those units."""

    claim: str
    endpoint: str
    kind: str
    differences: tuple
    margin: float
    primary: bool = True
    scale: str = "linear"
    numerical_error: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind: must be one of {KINDS}, got {self.kind!r}")
        if self.scale not in SCALES:
            raise ValueError(f"scale: must be one of {SCALES}, got {self.scale!r}")
        d = tuple(float(v) for v in self.differences)
        if len(d) < 2 or not all(math.isfinite(v) for v in d):
            raise ValueError(f"differences: need at least 2 finite paired values, got {self.differences!r}")
        object.__setattr__(self, "differences", d)
        if not (math.isfinite(self.margin) and self.margin > 0):
            raise ValueError(f"margin: must be a finite positive number, got {self.margin}")
        if not (math.isfinite(self.numerical_error) and self.numerical_error >= 0):
            raise ValueError(f"numerical_error: must be a finite number >= 0, got {self.numerical_error}")

    def pvalues(self) -> tuple[float, float]:
        """(p for the claim, p against it), before multiplicity correction. Superiority: H0 mu <= 0,
        then H0 mu >= m. Equivalence: TOST max(p(mu <= -m), p(mu >= m)), then twice the smaller
        of p(mu <= m) and p(mu >= -m) (the effect lies outside the margin, on either side:
        Bonferroni over the two sides). With a numerical error e (a bias the measurement may share
        across seeds, e.g. a grid's), every null is moved by e against the conclusion it would
        allow: a decision must hold for every mean shift of at most e."""
        d, m, e = self.differences, self.margin, self.numerical_error
        if self.kind == "superiority":
            return sign_flip_p(d, e, "greater"), sign_flip_p(d, m - e, "less")
        tost = max(sign_flip_p(d, -m + e, "greater"), sign_flip_p(d, m - e, "less")) if e < m else 1.0
        outside = min(1.0, 2.0 * min(sign_flip_p(d, m + e, "greater"), sign_flip_p(d, -m - e, "less")))
        return tost, outside


def _attainable(comparison: Comparison, family: int, alpha: float) -> bool:
    """Whether the permutation test can reject at all: its smallest p-value, 2^-n (times the
    Holm family size for a primary endpoint), must lie below alpha."""
    n = len(comparison.differences)
    return min(1.0, 2.0**-n) * (family if comparison.primary else 1) < alpha


def decide(comparisons, alpha: float = 0.05) -> list[dict]:
    """Verdict records (docs/design.md "Result records") for `comparisons`, Holm-corrected across the
    primary ones (separately for the tests for and against the claim)."""
    comparisons = list(comparisons)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha: must be in (0, 1), got {alpha}")
    raw = [c.pvalues() for c in comparisons]
    primary = [i for i, c in enumerate(comparisons) if c.primary]
    adjusted = list(raw)
    for side in (0, 1):
        for i, p in zip(primary, holm([raw[i][side] for i in primary]), strict=True):
            adjusted[i] = (p, adjusted[i][1]) if side == 0 else (adjusted[i][0], p)
    out = []
    for c, (p_for, p_against), (q_for, q_against) in zip(comparisons, raw, adjusted, strict=True):
        mean, se, half = t_interval(c.differences, 1 - 2 * alpha)
        level = alpha / len(primary) if c.primary else alpha  # Holm's first step
        verdict = "supported" if q_for < alpha else "contradicted" if q_against < alpha else "unresolved"
        sd = se * math.sqrt(len(c.differences))
        test = (
            "paired sign-flip permutation, one-sided H0 mu <= 0 / H0 mu >= margin"
            if c.kind == "superiority"
            else "paired sign-flip permutation TOST against +-margin / H0 |mu| <= margin"
        )
        out.append(
            {
                "claim": c.claim,
                "endpoint": c.endpoint,
                "primary": c.primary,
                "kind": c.kind,
                "scale": c.scale,
                "n": len(c.differences),
                "estimate": mean,
                "stderr": se,
                "interval": [mean - half, mean + half],
                "margin": c.margin,
                "numerical_error": c.numerical_error,
                "test": test + (", Holm across primary endpoints" if c.primary else ", unadjusted"),
                "p": q_for,
                "p_against": q_against,
                "p_raw": [p_for, p_against],
                "interval_level": 1 - 2 * alpha,
                "t_p": float(stats.ttest_1samp(c.differences, 0.0).pvalue) if sd > 0 else float(mean == 0),
                "power": power(len(c.differences), sd, c.margin, level, c.kind)
                if _attainable(c, len(primary), alpha)
                else 0.0,
                "verdict": verdict,
            }
        )
    return out


def exact(
    claim: str,
    endpoint: str,
    estimate: float,
    error: float,
    margin: float,
    primary: bool = True,
    interval: tuple | None = None,
) -> dict:
    """Verdict on a deterministic superiority comparison (no seeds): `estimate` is exact up to the
    numerical error estimate `error` (a grid refinement pair, say), or lies in `interval` (low,
    high) when given (e.g. the range over several deterministic targets, error then unused).
    Supported when low > 0, contradicted when high < margin, unresolved otherwise."""
    if not (math.isfinite(error) and error >= 0):
        raise ValueError(f"error: must be a finite number >= 0, got {error}")
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"margin: must be a finite positive number, got {margin}")
    low, high = (estimate - error, estimate + error) if interval is None else map(float, interval)
    if not low <= estimate <= high:
        raise ValueError(f"interval: must contain the estimate {estimate}, got {interval}")
    verdict = "supported" if low > 0 else "contradicted" if high < margin else "unresolved"
    return {
        "claim": claim,
        "endpoint": endpoint,
        "primary": primary,
        "kind": "superiority",
        "scale": "linear",
        "n": 1,
        "estimate": float(estimate),
        "stderr": None,
        "interval": [float(low), float(high)],
        "margin": float(margin),
        "test": "exact (deterministic); interval = estimate +- numerical error, or the range over targets",
        "p": None,
        "p_against": None,
        "verdict": verdict,
        "power": None,
    }


def by_claim(verdicts) -> dict:
    """{claim: overall verdict of its primary endpoints}, claims in the order they appear."""
    claims = dict.fromkeys(v["claim"] for v in verdicts if v["primary"])
    return {claim: overall([v for v in verdicts if v["claim"] == claim]) for claim in claims}


def overall(verdicts) -> str:
    """One verdict for ONE claim from its primary endpoints: supported when all are supported,
    contradicted when none is supported and at least one is contradicted, else unresolved."""
    if len({v["claim"] for v in verdicts if v["primary"]}) > 1:
        raise ValueError("verdicts: belong to several claims; use by_claim")
    primary = [v["verdict"] for v in verdicts if v["primary"]]
    if primary and all(v == "supported" for v in primary):
        return "supported"
    if "contradicted" in primary and "supported" not in primary:
        return "contradicted"
    return "unresolved"


def describe(verdict: dict, unit: str = "nats") -> str:
    """One line for summaries: endpoint, estimate [interval], the p-value that decided it (the
    test against the claim when contradicted), verdict (power if unresolved)."""
    low, high = verdict["interval"]
    unit = "log ratio" if verdict["scale"] == "log" else unit
    if verdict["p"] is None:
        p = "exact"
    elif verdict["verdict"] == "contradicted":
        p = f"p against = {verdict['p_against']:.3g}"
    else:
        p = f"p = {verdict['p']:.3g}"
    text = (
        f"{verdict['endpoint']}: {verdict['estimate']:.3g} [{low:.3g}, {high:.3g}] {unit}, "
        f"margin {verdict['margin']:.3g}, {p} -> {verdict['verdict']}"
    )
    if verdict.get("numerical_error"):
        text += f", numerical error {verdict['numerical_error']:.2g} allowed for"
    if verdict["verdict"] == "unresolved" and verdict["power"] is not None:
        text += f" (power {verdict['power']:.2f} at the margin)"
    return text
