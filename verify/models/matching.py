"""Capacity matching: the width at which a growing size (parameters, multiply-accumulates) of a
model family is closest to a target."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn


def match_width(
    build: Callable[[int], nn.Module], size: Callable[[nn.Module], int], target: int, step: int = 1
) -> int:
    """The width w (a multiple of `step`) whose size(build(w)) is closest to `target`, for a size
    that grows with w: doubling, then bisection."""
    if isinstance(target, bool) or not isinstance(target, int) or target < 1:
        raise ValueError(f"target: must be a positive integer, got {target!r}")

    def value(units: int) -> int:
        return size(build(units * step))

    low, high = 1, 2
    while value(high) < target:
        low, high = high, 2 * high
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (mid, high) if value(mid) < target else (low, mid)
    return min((low, high), key=lambda units: abs(value(units) - target)) * step
