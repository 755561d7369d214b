"""Benton, De Bortoli, Doucet, Deligiannidis (ICLR 2024): KL bound, nearly linear in d.

EI sampler on a grid with h_j <= kappa min(1, t_{j+1}) (exponential-then-linear: constant step
kappa while t > 1, geometric below, so N ~ (T + log(1/delta)) / kappa), finite second moment
(the paper normalises Cov(q_0) = I_d, hence the d e^{-2T} initialisation term), eps_score^2 the
h-weighted score error sum_j h_j E||s - grad log q_{t_j}||^2:

    KL(q_delta || p^) <= C [ eps_score^2 + kappa^2 d N + kappa d T + d e^{-2T} ].

`BENTON` is the theorem in kappa (evaluate with a grid's measured kappa); `BENTON_N` substitutes
kappa = (T + log(1/delta)) / N, the step rule of the exponential-then-linear grid.
"""

from __future__ import annotations

import sympy as sp

from bounds.core import (
    DIMENSION,
    HORIZON,
    SCORE_ERROR,
    SECOND_MOMENT,
    STEPS,
    Assumption,
    Bound,
    N,
    T,
    d,
    delta,
    eps_score,
    kappa,
    real,
)

SOURCE = "Benton, De Bortoli, Doucet, Deligiannidis, ICLR 2024"

BENTON = Bound(
    "Benton et al. 2024 (KL, exponential-then-linear steps)",
    "KL",
    SOURCE,
    {
        "initialisation": d * sp.exp(-2 * T),
        "discretisation": kappa**2 * d * N + kappa * d * T,
        "score_error": eps_score**2,
    },
    (
        DIMENSION,
        HORIZON,
        STEPS,
        SCORE_ERROR,
        SECOND_MOMENT,
        Assumption(
            "step condition 0 < kappa <= 1",
            ("kappa",),
            sp.And(real("kappa") > 0, real("kappa") <= 1),
            "h_j <= kappa min(1, t_{j+1}) on the grid (bounds.constants.grid_kappa measures kappa)",
        ),
    ),
)

STEP_RULE = (T + sp.log(1 / delta)) / N
"""kappa of an exponential-then-linear grid with N steps from T down to delta (to leading order)."""

EARLY_STOPPING = Assumption(
    "early stopping 0 < delta < 1", ("delta",), sp.And(real("delta") > 0, real("delta") < 1)
)
BENTON_N = BENTON.substitute("Benton et al. 2024, kappa = (T + log(1/delta))/N", kappa=STEP_RULE).assuming(
    EARLY_STOPPING
)
