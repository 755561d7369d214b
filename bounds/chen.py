"""Chen, Chewi, Li, Li, Salim, Zhang (ICLR 2023): TV bound for DDPM with Lipschitz scores.

EI sampler with constant step h over [0, T] (N = T / h steps), score L-Lipschitz at every t,
m2 = (E||X_0||^2)^{1/2}, eps_score the time-averaged L2(q_t) score error, h <= 1/L:

    TV(q_0, p^) <= C [ sqrt(KL(q_0 || gamma_d)) e^{-T} + (L sqrt(d h) + L m2 h) sqrt(T)
                       + eps_score sqrt(T) ].

`CHEN` is the theorem in h; `CHEN_N` the same with h = T / N, for sweeps in N.
"""

from __future__ import annotations

import sympy as sp

from bounds.core import (
    DIMENSION,
    HORIZON,
    SCORE_ERROR,
    SECOND_MOMENT,
    Assumption,
    Bound,
    L,
    N,
    T,
    d,
    eps_score,
    h,
    kl_data,
    m2,
    real,
)

SOURCE = "Chen, Chewi, Li, Li, Salim, Zhang, ICLR 2023"

CHEN = Bound(
    "Chen et al. 2023 (TV, Lipschitz score, EI constant step)",
    "TV",
    SOURCE,
    {
        "initialisation": sp.sqrt(kl_data) * sp.exp(-T),
        "discretisation": (L * sp.sqrt(d * h) + L * m2 * h) * sp.sqrt(T),
        "score_error": eps_score * sp.sqrt(T),
    },
    (
        DIMENSION,
        HORIZON,
        SCORE_ERROR,
        SECOND_MOMENT,
        Assumption("finite KL(q_0 || gamma_d)", ("kl_data",), real("kl_data") >= 0),
        Assumption("L-Lipschitz score at every t", ("L",), real("L") > 0),
        Assumption("step condition h <= 1/L", ("h", "L"), real("h") * real("L") <= 1),
        Assumption("positive step h", ("h",), real("h") > 0),
    ),
)

CHEN_N = CHEN.substitute("Chen et al. 2023, h = T/N", h=T / N)
