"""Re-export of `verify.timing` for the benchmarks that still import it from here."""

from verify.timing import best_time, wall_times

__all__ = ["best_time", "wall_times"]
