"""Mutual information between patches, with exact densities (docs/math.md section 4, "Limited context").

For patch k (0-based) and a context window of the last w patches W = x^{k-w..k-1}:
    I(x^k ; x^{<k} \\ W | W) = E[log q(x^k | x^{<k}) - log q(x^k | W)],
by Monte Carlo over x ~ q_0 with a standard error. w = 0 gives I(x^k ; x^{<k}) (W empty,
q(x^k | W) = q(x^k)); w = k gives 0. Any model whose stage k sees only W has average conditional
KL >= this conditional mutual information, exactly.
q(x^k | W) needs the marginal law of the kept patches (W, x^k), which the distribution gives
(`patch_marginal`, for families that declare `has_patch_marginals`): e.g. block marginalisation of a
Gaussian mixture, or for a homogeneous Markov-chain mixture the chain over the w + 1 kept patches
started from the state law pi P^{k-w} at the window start.
"""

from __future__ import annotations

import torch

from synthetic.base import Distribution
from verify.metrics.montecarlo import Estimate, check_draws, mean_and_stderr


def window_marginal(dist: Distribution, k: int, window: int) -> Distribution:
    """The law of patches k-window..k of dist, with those patches as its window + 1 patches."""
    return dist.patch_marginal(k - window, k + 1)


def conditional_mutual_information(
    dist: Distribution, k: int, window: int, n: int, generator: torch.Generator | None = None
) -> Estimate:
    """I(x^k ; x^{<k} \\ W | W), W the last `window` patches before k, from n exact draws."""
    if isinstance(k, bool) or int(k) != k or not 0 <= k < dist.num_patches:
        raise ValueError(f"k: patch index must be an integer in [0, {dist.num_patches}), got {k!r}")
    if isinstance(window, bool) or int(window) != window or not 0 <= window <= k:
        raise ValueError(f"window: must be an integer in [0, k = {k}], got {window!r}")
    k, window, n = int(k), int(window), check_draws(n)
    marginal = window_marginal(dist, k, window)
    x = dist.sample(n, generator=generator)
    layout = dist.layout
    x_k = layout.patch(x, k)
    full = dist.conditional_log_prob(k, x_k, layout.prefix(x, k))
    kept = x[:, layout.span(k - window, k)]
    return mean_and_stderr(full - marginal.conditional_log_prob(window, x_k, kept))


def mutual_information(
    dist: Distribution, k: int, n: int, generator: torch.Generator | None = None
) -> Estimate:
    """I(x^k ; x^{<k}) = E[log q(x^k | x^{<k}) - log q(x^k)] from n exact draws."""
    return conditional_mutual_information(dist, k, 0, n, generator)
