"""A fake experiment for executor tests: seeded CPU-bound cells, E[Z^2] = 1 for Z ~ N(0, 1).

Profiles: quick = 6 small cells; default = the same with cell 2 raising; full = 8 heavier cells
(for timing --jobs 1 vs 2). If the environment variable DASK_FAKE_CONTROL names a folder whose
file `kill` holds a cell seed, that cell deletes the file and SIGKILLs its own process (once).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import torch

from verify.experiments import PROFILES, Cell, Experiment, Outcome
from verify.records import check, metric

CONTROL = "DASK_FAKE_CONTROL"
NAME = "dask_fake"


@dataclass(frozen=True)
class Config:
    n_cells: int
    n: int  # draws of Z per cell
    steps: int  # tanh(x W) iterations per cell: the CPU work
    fail_at: int = -1


@dataclass(frozen=True)
class Params:
    seed: int
    n: int
    steps: int
    fail: bool


def cells(config: Config, seed: int) -> list[Cell]:
    return [
        Cell(NAME, f"c{i}", Params(seed + i, config.n, config.steps, i == config.fail_at), __name__)
        for i in range(config.n_cells)
    ]


def _kill_once(seed: int) -> None:
    folder = os.environ.get(CONTROL)
    target = Path(folder) / "kill" if folder else None
    if target is not None and target.exists() and target.read_text() == str(seed):
        target.unlink()
        os.kill(os.getpid(), signal.SIGKILL)


def run_cell(params: Params, device: str) -> dict:
    _kill_once(params.seed)
    if params.fail:
        raise RuntimeError(f"planned failure in the cell with seed {params.seed}")
    gen = torch.Generator().manual_seed(params.seed)
    z = torch.randn(params.n, generator=gen, dtype=torch.float64)
    x = torch.randn(256, 32, generator=gen, dtype=torch.float64)
    w = torch.randn(32, 32, generator=gen, dtype=torch.float64) / 32**0.5
    for _ in range(params.steps):
        x = torch.tanh(x @ w)
    return {
        "seed": params.seed,
        "mean_square": float(z.pow(2).mean()),
        "work": float(x.sum()),
        "threads": torch.get_num_threads(),  # reductions depend on it: must not vary by executor
    }


def aggregate(config: Config, results: list[dict]) -> Outcome:
    values = torch.tensor([r["mean_square"] for r in results], dtype=torch.float64)
    mean, stderr = float(values.mean()), float(values.std() / len(values) ** 0.5)
    return Outcome(
        metrics={"mean_square": metric(mean, "1", "mean over cells", stderr=stderr)},
        checks=[check("E[Z^2] == 1", mean, 1.0, "==", margin=5 * stderr)],
        summary={"measured": f"{mean:.4f} +- {stderr:.4f}", "bound": "== 1"},
    )


EXPERIMENT = Experiment(
    name=NAME,
    claim="E[Z^2] = 1 for a standard normal Z",
    profiles={
        "quick": Config(n_cells=6, n=4000, steps=20),
        "default": Config(6, 4000, 20, fail_at=2),
        "full": Config(n_cells=8, n=4000, steps=10000),
    },
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={p: 1.0 for p in PROFILES},
)
