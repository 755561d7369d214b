"""The explicit-constant hierarchy of docs/math.md section 5 as symbolic statements.

For an EI sampler started at gamma_d and stopped at delta, with target q_delta:

    gap = KL(q_delta || p^)
      <= chain_path_kl = KL(Q_grid || P^_grid)                         (data processing)
      <= girsanov = KL(q_T || gamma_d) + sum_j int E||s(X_{t_j}, t_j) - grad log q_t(X_t)||^2 dt
      <= split = KL(q_T || gamma_d) + 2 eps_score^2 + 2 D_disc   (|a + b|^2 <= 2|a|^2 + 2|b|^2)

`LINKS` lists the three inequalities with their reasons; `SPLIT` is the split formula;
`SPLIT_SLACK` is the sympy identity behind the last link. Experiments turn measured levels into
result checks with `verify.records.check`, one per link.
"""

from __future__ import annotations

from typing import NamedTuple

import sympy as sp

LEVELS = ("gap", "chain_path_kl", "girsanov", "split")
gap, chain_path_kl, girsanov, split = (sp.Symbol(n, nonnegative=True) for n in LEVELS)
kl_T, eps_score, D_disc = (sp.Symbol(n, nonnegative=True) for n in ("kl_T", "eps_score", "D_disc"))

SPLIT = kl_T + 2 * eps_score**2 + 2 * D_disc
"""The split bound; eps_score^2 = sum_j h_j E||s - grad log q_{t_j}||^2 (docs/math.md section 5)."""

_a, _b = sp.symbols("a b", real=True)
SPLIT_SLACK = sp.factor(2 * _a**2 + 2 * _b**2 - (_a + _b) ** 2)
"""2a^2 + 2b^2 - (a + b)^2 = (a - b)^2 >= 0: the pointwise inequality behind girsanov <= split."""


class Link(NamedTuple):
    lhs: str
    rhs: str
    reason: str


LINKS = (
    Link("gap", "chain_path_kl", "data processing: the output law is a marginal of the path law"),
    Link(
        "chain_path_kl",
        "girsanov",
        "Girsanov with constant exactly 1 for EI; the grid chain is a marginal of the path",
    ),
    Link("girsanov", "split", "||a + b||^2 <= 2||a||^2 + 2||b||^2 inside the integral"),
)

split_bound = sp.lambdify((kl_T, eps_score, D_disc), SPLIT, modules="math")
