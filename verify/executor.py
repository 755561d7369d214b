"""Executors run cells and yield their outcomes as they finish; a failing cell never loses the others.

`LocalExecutor(jobs)` runs cells in this process (jobs = 1) or in `jobs` worker processes.
Another executor only needs the same `run(cells, device)` generator.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from verify.experiments import Cell, load


def execute(cell: Cell, device: str) -> dict:
    """Run one cell: {"ok": True, "result", "elapsed_s"} or {"ok": False, "error": traceback}.

    The cell runs on one torch thread wherever it runs: the summation order of CPU reductions
    depends on the thread count, so this keeps records bit-identical across executors
    (parallelism comes from running cells side by side).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    start = time.perf_counter()
    try:
        result = load(cell.experiment, cell.module).run_cell(cell.params, device)
    except Exception:  # reported with the cell, never silently dropped
        return {"ok": False, "error": traceback.format_exc(), "elapsed_s": time.perf_counter() - start}
    finally:
        torch.set_num_threads(threads)
    return {"ok": True, "result": result, "elapsed_s": time.perf_counter() - start}


class LocalExecutor:
    """Cells in this process (jobs = 1) or in a pool of `jobs` spawned processes."""

    def __init__(self, jobs: int = 1):
        if isinstance(jobs, bool) or int(jobs) != jobs or jobs < 1:
            raise ValueError(f"jobs: must be a positive integer, got {jobs!r}")
        self.jobs = int(jobs)

    def run(self, cells: list[Cell], device: str) -> Iterator[tuple[Cell, dict]]:
        if self.jobs == 1 or len(cells) <= 1:
            for cell in cells:
                yield cell, execute(cell, device)
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            futures = {pool.submit(execute, cell, device): cell for cell in cells}
            try:
                for future in as_completed(futures):
                    try:
                        outcome = future.result()
                    except Exception:  # the worker died (BrokenProcessPool) or its result did not pickle
                        outcome = {"ok": False, "error": traceback.format_exc(), "elapsed_s": 0.0}
                    yield futures[future], outcome
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
