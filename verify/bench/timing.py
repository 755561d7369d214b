"""Wall times of a callable, shared by every benchmark and timed experiment."""

import time


def wall_times(fn, repeats: int = 3) -> list[float]:
    """Wall time in seconds of each of `repeats` calls (one untimed warm-up call first)."""
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
