"""A bound as data: named terms, an explicit free constant C, assumptions that are checked.

A `Bound` is `C * (initialisation + discretisation + score_error)`, each term a sympy expression
in named constants (docs/math.md notation: d, N, T, delta, h, kappa, L, m2, eps_score, kl_data).
Its `Assumption`s say which constants the theorem needs and what they must satisfy; `evaluate`
refuses (ValueError naming the assumption) to return a number when one is violated.
Symbols are matched by name, so bounds can be renamed per stage (`substitute`) and summed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import sympy as sp

TERMS = ("initialisation", "discretisation", "score_error")
C = sp.Symbol("C", positive=True)


def sym(name: str) -> sp.Symbol:
    """The positive symbol every bound uses for a constant called `name`."""
    return sp.Symbol(name, positive=True)


def real(name: str) -> sp.Symbol:
    """A plain real symbol for assumption conditions (a positive symbol would make `x > 0` True)."""
    return sp.Symbol(name, real=True)


def subs_by_name(expr, mapping: dict):
    """Substitute every free symbol whose name is a key of `mapping`."""
    expr = sp.sympify(expr)
    return expr.xreplace({s: mapping[s.name] for s in expr.free_symbols if s.name in mapping})


def names(expr) -> set[str]:
    return {s.name for s in sp.sympify(expr).free_symbols}


@dataclass(frozen=True)
class Assumption:
    """A hypothesis of a theorem: the constants it `needs` and the `condition` they satisfy."""

    name: str
    needs: tuple[str, ...]
    condition: sp.Basic = sp.true
    description: str = ""

    def __post_init__(self):
        extra = names(self.condition) - set(self.needs)
        if extra:
            raise ValueError(f"condition: uses {sorted(extra)} not listed in needs {self.needs}")

    def check(self, values: dict[str, float]) -> None:
        """Raise ValueError naming this assumption if a needed value is missing or violates it."""
        missing = [n for n in self.needs if n not in values]
        if missing:
            raise ValueError(f"assumption '{self.name}': needs a value for {', '.join(missing)}")
        bad = [n for n in self.needs if not math.isfinite(float(values[n]))]
        if bad:
            raise ValueError(f"assumption '{self.name}': {', '.join(bad)} must be finite")
        holds = subs_by_name(self.condition, {n: sp.Float(float(values[n])) for n in self.needs})
        if holds is not sp.true:
            shown = ", ".join(f"{n}={float(values[n]):.6g}" for n in self.needs)
            raise ValueError(f"assumption '{self.name}' violated: {self.condition} fails at {shown}")

    def substitute(self, mapping: dict) -> Assumption:
        """The same hypothesis after renaming/replacing constants (`mapping`: name -> expr)."""
        needs: list[str] = []
        for n in self.needs:
            new = sorted(names(mapping[n])) if n in mapping else [n]
            needs += [m for m in new if m not in needs]
        condition = subs_by_name(
            self.condition,
            {n: subs_by_name(mapping[n], _reals(mapping[n])) for n in self.needs if n in mapping},
        )
        return Assumption(self.name, tuple(needs), condition, self.description)


def _reals(expr) -> dict:
    return {n: real(n) for n in names(expr)}


@dataclass(frozen=True)
class Bound:
    """divergence(target || sampler) <= C * sum of `terms` under `assumptions`."""

    name: str
    divergence: str
    source: str
    terms: dict
    assumptions: tuple[Assumption, ...]

    def __post_init__(self):
        if tuple(self.terms) != TERMS:
            raise ValueError(f"terms: must be named {TERMS} in this order, got {tuple(self.terms)}")

    @cached_property
    def shape(self) -> sp.Expr:
        """The bound without its constant: initialisation + discretisation + score_error."""
        return sp.Add(*self.terms.values())

    @cached_property
    def expr(self) -> sp.Expr:
        return C * self.shape

    @cached_property
    def symbols(self) -> tuple[str, ...]:
        """Every constant `evaluate` needs: those of the terms and of the assumptions."""
        used = names(self.shape).union(*(a.needs for a in self.assumptions))
        return tuple(sorted(used))

    @cached_property
    def _numeric(self):
        args = [sym(n) for n in self.symbols]
        exprs = [subs_by_name(t, {n: sym(n) for n in self.symbols}) for t in self.terms.values()]
        return sp.lambdify(args, exprs, modules="math")

    def check(self, **values: float) -> None:
        """Refuse unknown names and violated assumptions (ValueError naming the assumption)."""
        unknown = set(values) - set(self.symbols)
        if unknown:
            raise ValueError(f"values: {sorted(unknown)} are not constants of {self.name}")
        for assumption in self.assumptions:
            assumption.check(values)
        missing = set(self.symbols) - set(values)
        if missing:
            raise ValueError(f"values: {self.name} needs {sorted(missing)}")

    def evaluate_terms(self, C: float = 1.0, **values: float) -> dict[str, float]:
        """C times each named term at `values`, after checking the assumptions."""
        self.check(**values)
        out = self._numeric(*(float(values[n]) for n in self.symbols))
        return {name: C * float(v) for name, v in zip(TERMS, out, strict=True)}

    def evaluate(self, C: float = 1.0, **values: float) -> float:
        """C * (initialisation + discretisation + score_error) at `values`."""
        return sum(self.evaluate_terms(C, **values).values())

    def select(self, values: dict[str, float]) -> dict[str, float]:
        """The subset of `values` this bound uses (to evaluate from a larger constants dict)."""
        return {n: values[n] for n in self.symbols if n in values}

    def assuming(self, *extra: Assumption) -> Bound:
        """The same bound with further assumptions, checked first (put domain conditions here)."""
        return Bound(self.name, self.divergence, self.source, self.terms, extra + self.assumptions)

    def substitute(self, name: str | None = None, **mapping) -> Bound:
        """Replace constants by expressions (or rename them), terms and assumptions alike."""
        mapping = {k: sp.sympify(v) for k, v in mapping.items()}
        return Bound(
            name or self.name,
            self.divergence,
            self.source,
            {k: subs_by_name(v, mapping) for k, v in self.terms.items()},
            tuple(a.substitute(mapping) for a in self.assumptions),
        )


def total(name: str, bounds: list[Bound], source: str) -> Bound:
    """The sum of bounds of the same divergence, term by term, with all their assumptions."""
    divergences = {b.divergence for b in bounds}
    if len(divergences) != 1:
        raise ValueError(f"bounds: cannot add different divergences {sorted(divergences)}")
    terms = {k: sp.Add(*(b.terms[k] for b in bounds)) for k in TERMS}
    assumptions = tuple(a for b in bounds for a in b.assumptions)
    return Bound(name, divergences.pop(), source, terms, assumptions)


# ----- constants and hypotheses shared by the published bounds ------------------------------------

d, N, T, delta, h, kappa = (sym(n) for n in ("d", "N", "T", "delta", "h", "kappa"))
L, m2, eps_score, kl_data = (sym(n) for n in ("L", "m2", "eps_score", "kl_data"))

DIMENSION = Assumption("dimension d >= 1", ("d",), real("d") >= 1)
HORIZON = Assumption("horizon T > 0", ("T",), real("T") > 0)
STEPS = Assumption("number of steps N >= 1", ("N",), real("N") >= 1)
SCORE_ERROR = Assumption(
    "score error eps_score >= 0",
    ("eps_score",),
    real("eps_score") >= 0,
    "L2(q_t) error of the score estimate on the grid (see each bound for its normalisation)",
)
SECOND_MOMENT = Assumption(
    "finite second moment m2", ("m2",), real("m2") >= 0, "m2 = (E||X_0||^2)^(1/2) < infinity"
)
