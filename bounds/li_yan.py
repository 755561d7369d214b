"""Li and Yan (ICLR 2025): TV bound O(d/N) for DDPM ancestral sampling.

DDPM ancestral sampler with the paper's step-size schedule (which makes the initialisation error
negligible, hence no initialisation term), N >= 2 steps, finite first moment growing at most
polynomially in N, eps_score^2 the step-AVERAGED score error (1/N) sum_j E||s - grad log q||^2:

    TV(q_delta, p^) <= C [ d log^3(N) / N + eps_score sqrt(log N) ].
"""

from __future__ import annotations

import sympy as sp

from bounds.core import (
    DIMENSION,
    SCORE_ERROR,
    SECOND_MOMENT,
    Assumption,
    Bound,
    N,
    d,
    eps_score,
    real,
)

SOURCE = "Li and Yan, ICLR 2025"

LI_YAN = Bound(
    "Li and Yan 2025 (TV, DDPM ancestral)",
    "TV",
    SOURCE,
    {
        "initialisation": sp.Integer(0),
        "discretisation": d * sp.log(N) ** 3 / N,
        "score_error": eps_score * sp.sqrt(sp.log(N)),
    },
    (
        DIMENSION,
        SCORE_ERROR,
        SECOND_MOMENT,
        Assumption("number of steps N >= 2", ("N",), real("N") >= 2),
        Assumption(
            "the paper's DDPM schedule",
            (),
            sp.true,
            "ancestral steps with the learning-rate schedule of the paper; not checkable from"
            " constants, the caller asserts it by using scheme='ancestral' on that schedule",
        ),
    ),
)
