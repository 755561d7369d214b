"""Two cheap fake experiments for the results-store tests (tests/test_results_store.py).

Cells are seeded, so every run gives the same numbers. Each computed cell appends "<experiment>
<key> <pid>" to the file named by $STORE_FAKE_CALLS (when set) and sleeps $STORE_FAKE_SLEEP
seconds, so tests can count work and overlap two runs. `draw` writes two small figure files.
"""

from __future__ import annotations

import os
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path

import torch

import verify.experiments as experiments
from verify.experiments import PROFILES, Cell, Experiment, Outcome
from verify.records import check, metric
from verify.verdicts import Comparison, decide

NAMES = ("store_a", "store_b")
CALLS, SLEEP = "STORE_FAKE_CALLS", "STORE_FAKE_SLEEP"


@dataclass(frozen=True)
class Config:
    n_cells: int


@dataclass(frozen=True)
class Params:
    experiment: str
    seed: int


def run_cell(params: Params, device: str) -> dict:
    if os.environ.get(CALLS):
        with open(os.environ[CALLS], "a") as handle:
            handle.write(f"{params.experiment} {params.seed} {os.getpid()}\n")
    time.sleep(float(os.environ.get(SLEEP, "0")))
    z = torch.randn(2000, generator=torch.Generator().manual_seed(params.seed), dtype=torch.float64)
    return {"seed": params.seed, "mean_square": float(z.pow(2).mean()), "mean": float(z.mean())}


def aggregate(config: Config, results: list[dict]) -> Outcome:
    values = torch.tensor([r["mean_square"] for r in results], dtype=torch.float64)
    mean, stderr = float(values.mean()), float(values.std() / len(values) ** 0.5)
    comparison = Comparison(
        "E Z^2 exceeds (E Z)^2",
        "mean square minus square mean",
        "superiority",
        tuple(r["mean_square"] - r["mean"] ** 2 for r in results),
        margin=0.1,
    )
    return Outcome(
        metrics={"mean_square": metric(mean, "1", "mean over cells", stderr=stderr)},
        checks=[check("E[Z^2] == 1", mean, 1.0, "==", margin=5 * stderr)],
        series={"values": values.tolist()},
        summary={"measured": f"{mean:.4f} +- {stderr:.4f}", "bound": "== 1"},
        verdicts=decide([comparison]),
    )


def make(name: str) -> Experiment:
    return Experiment(
        name=name,
        claim=f"{name}: E[Z^2] = 1 for a standard normal Z",
        profiles={"quick": Config(4), "default": Config(5), "full": Config(6)},
        cells=lambda config, seed: [
            Cell(name, f"c{i}", Params(name, 100 * NAMES.index(name) + seed + i))
            for i in range(config.n_cells)
        ],
        run_cell=run_cell,
        aggregate=aggregate,
        estimated_s={p: 1.0 for p in PROFILES},
    )


def register(setitem=None, setattr_=None) -> None:
    """Make the fakes the only experiments (pytest's monkeypatch.setitem/setattr, or for good)."""
    setitem = setitem or (lambda mapping, key, value: mapping.__setitem__(key, value))
    setattr_ = setattr_ or setattr
    for name in NAMES:
        module = types.ModuleType(f"verify.experiments.{name}")
        module.EXPERIMENT = make(name)
        setitem(sys.modules, module.__name__, module)
    import verify.run_all

    for module in (experiments, verify.run_all):
        setattr_(module, "available", lambda: list(NAMES))


def draw(record: dict, out_dir: Path) -> list[str]:
    """Two small files standing for the PNG and PDF of the record's figure."""
    names = []
    for suffix in ("png", "pdf"):
        path = Path(out_dir) / f"{record['experiment']}.{suffix}"
        path.write_text(f"{record['experiment']} {record['config_hash']}\n")
        names.append(f"figures/{path.name}")
    return names
