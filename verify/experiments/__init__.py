"""One experiment per claim (docs/design.md, "The claims"), each split into independent cells.

An experiment module `verify/experiments/<name>.py` defines `EXPERIMENT = Experiment(...)`:
frozen, validated configs for the three profiles; `cells(config, seed)` lists independent units of
work (config x seed, each seeding its own generators); `run_cell(params, device)` computes one
(a module-level function, so any process can run it); `aggregate(config, results)` turns the cell
results into metrics, checks, series and the claims-table summary.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("quick", "default", "full")

# Claims order (docs/design.md); a module missing here is not an experiment yet.
MODULES = (
    "bound_hierarchy_ddpm",
    "bound_hierarchy_ar",
    "conditional_gap",
    "dependence_sweep",
    "complexity",
    "inference_cost",
    "training_loss",
    "markov_sequences",
    "limited_context",
    "rule_learning",
    "prefix_leakage",
)


@dataclass(frozen=True)
class Cell:
    """One independent unit of work: `params` is a picklable frozen dataclass, `key` names it.

    `module` is where the experiment lives when it is not verify/experiments/<experiment>.py
    (experiments defined outside the package, e.g. in tests).
    """

    experiment: str
    key: str
    params: Any
    module: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What `aggregate` returns: the record's computed parts. `verdicts` come from
    `verify.verdicts.decide` for every model comparison (empty for an experiment that compares none)."""

    metrics: dict
    checks: list
    series: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)  # {"measured": str, "bound": str}
    verdicts: list = field(default_factory=list)


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    profiles: Mapping[str, Any]
    cells: Callable[[Any, int], list[Cell]]
    run_cell: Callable[[Any, str], dict]
    aggregate: Callable[[Any, list[dict]], Outcome]
    estimated_s: Mapping[str, float]

    def __post_init__(self):
        missing = [p for p in PROFILES if p not in self.profiles or p not in self.estimated_s]
        if missing:
            raise ValueError(f"{self.name}: profiles/estimated_s missing {missing}")


def check_positive_int(name: str, value) -> int:
    """A config field that must be a positive int (bools refused): ValueError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: must be a positive integer, got {value!r}")
    return value


def check_instance(name: str, value, kind: type):
    """A config field that must be a `kind` (e.g. a DiffusionSpec): ValueError naming it otherwise."""
    if not isinstance(value, kind):
        raise ValueError(f"{name}: must be a {kind.__name__}, got {type(value).__name__}")
    return value


def check_positive_ints(name: str, values) -> tuple[int, ...]:
    """A config field that must be a non-empty tuple of positive ints: ValueError naming it otherwise."""
    values = tuple(values)
    if not values or any(isinstance(v, bool) or int(v) != v or v < 1 for v in values):
        raise ValueError(f"{name}: must be a non-empty tuple of positive integers, got {values!r}")
    return tuple(int(v) for v in values)


def available() -> list[str]:
    """Names of the experiments whose module exists, in claims order."""
    return [name for name in MODULES if importlib.util.find_spec(f"verify.experiments.{name}")]


def load(name: str, module: str | None = None) -> Experiment:
    """The experiment called `name` (ValueError listing the known ones otherwise)."""
    if module is not None:
        return importlib.import_module(module).EXPERIMENT
    known = available()
    if name not in known:
        raise ValueError(f"experiment: unknown name {name!r}; known: {', '.join(known)}")
    return importlib.import_module(f"verify.experiments.{name}").EXPERIMENT
