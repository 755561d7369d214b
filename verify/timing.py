"""Wall times of a callable, shared by every benchmark and timed experiment."""

from __future__ import annotations

import time

import torch


def synchronised(fn, device: str):
    """fn followed by a CUDA synchronisation on a CUDA `device` (so its wall time includes the
    queued kernels); fn itself elsewhere."""
    if torch.device(device).type != "cuda":
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return run


def wall_times(fn, repeats: int = 3) -> list[float]:
    """Wall time in seconds of each of `repeats` calls (one untimed warm-up call first)."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: must be a positive integer, got {repeats!r}")
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def best_time(fn, repeats: int = 3) -> float:
    """Minimum wall time in seconds over `repeats` calls (one warm-up call first)."""
    return min(wall_times(fn, repeats))


def interleaved_times(fns: dict, repeats: int) -> dict[str, list[float]]:
    """Wall times of several callables measured in `repeats` rounds, each round timing every
    callable once in turn (after one untimed warm-up call each), so that a change in machine load
    hits all of them alike and round r of one pairs with round r of another."""
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: must be a positive integer, got {repeats!r}")
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times
