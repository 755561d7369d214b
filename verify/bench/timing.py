"""Best-of-r wall time of a callable, shared by every benchmark."""

import time


def best_time(fn, repeats: int = 3) -> float:
    """Minimum wall time in seconds over `repeats` calls (one warm-up call first)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best
