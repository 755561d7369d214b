"""The Ornstein-Uhlenbeck forward process on its own clock (docs/math.md section 1).

dX_t = -X_t dt + sqrt(2) dB_t, so X_t | X_0 ~ N(a_t X_0, s_t^2 I) with a_t = e^{-t}, s_t^2 = 1 - e^{-2t}.
"""

from __future__ import annotations

import math


def ou_scale(t: float) -> float:
    """a_t = e^{-t}."""
    return math.exp(-t)


def ou_variance(t: float) -> float:
    """s_t^2 = 1 - e^{-2t} (computed as -expm1(-2t) to stay accurate for small t)."""
    return -math.expm1(-2.0 * t)
