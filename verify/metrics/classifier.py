"""Classifier two-sample test: a held-out lower confidence bound on TV(P, Q) (docs/math.md section 7).

For any fixed set A (here: where a classifier trained on other data says "P"),
TV(P, Q) >= P(A) - Q(A) = 2 acc - 1, acc the balanced accuracy (P(A) + 1 - Q(A)) / 2.
On held-out data the counts of test points in A are exactly binomial, n_P P^(A) ~ Bin(n_P, P(A))
and n_Q Q^(A) ~ Bin(n_Q, Q(A)); one-sided Clopper-Pearson bounds at level alpha / 2 each
(Bonferroni) give, with probability >= 1 - alpha,
    TV(P, Q) >= P(A)_lower - Q(A)_upper.
The classifier is a small torch MLP with logistic loss, trained full batch with Adam from an
initialisation drawn with an explicit generator (no scikit-learn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.stats import beta

from synthetic.validation import as_tensor, check_count


@dataclass(frozen=True)
class TVLowerBound:
    """TV(P, Q) >= lower with probability >= confidence; value = P^(A) - Q^(A) = 2 acc - 1."""

    value: float
    lower: float
    p_set_lower: float  # lower confidence bound on P(A) at level (1 - confidence) / 2
    q_set_upper: float  # upper confidence bound on Q(A) at level (1 - confidence) / 2
    n_p: int
    n_q: int
    confidence: float


def check_confidence(confidence) -> float:
    """A confidence level in (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: must lie in (0, 1), got {confidence}")
    return float(confidence)


def held_out_tv_bound(hits_p: int, n_p: int, hits_q: int, n_q: int, confidence: float) -> TVLowerBound:
    """TV lower bound from a set A fixed before seeing the data: hits_p of n_p P-draws and
    hits_q of n_q Q-draws fall in A (one-sided Clopper-Pearson, Bonferroni over the two sides)."""
    n_p, n_q = check_count("n_p", n_p), check_count("n_q", n_q)
    if not 0 <= hits_p <= n_p or not 0 <= hits_q <= n_q:
        raise ValueError(f"hits_p, hits_q: must lie in [0, n], got {hits_p}/{n_p}, {hits_q}/{n_q}")
    level = (1.0 - check_confidence(confidence)) / 2
    p_lower = 0.0 if hits_p == 0 else float(beta.ppf(level, hits_p, n_p - hits_p + 1))
    q_upper = 1.0 if hits_q == n_q else float(beta.ppf(1.0 - level, hits_q + 1, n_q - hits_q))
    value = hits_p / n_p - hits_q / n_q
    return TVLowerBound(value, p_lower - q_upper, p_lower, q_upper, n_p, n_q, confidence)


def _init_mlp(sizes: list[int], generator, device) -> list[torch.Tensor]:
    """Weights and biases uniform in +-1/sqrt(fan_in) (torch.nn.Linear's default law)."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        for shape in ((fan_in, fan_out), (fan_out,)):
            u = torch.rand(shape, dtype=torch.float64, generator=generator).to(device)
            params.append((2 * u - 1).mul_(bound).requires_grad_())
    return params


def _mlp(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    for i in range(0, len(params) - 2, 2):
        x = torch.relu(x @ params[i] + params[i + 1])
    return (x @ params[-2] + params[-1]).squeeze(-1)


def classifier_tv_lower_bound(
    x,
    y,
    generator: torch.Generator | None = None,
    confidence: float = 0.95,
    train_fraction: float = 0.5,
    hidden: int = 32,
    steps: int = 200,
    lr: float = 1e-2,
    device: str | torch.device = "cpu",
) -> TVLowerBound:
    """Lower confidence bound on TV(P, Q) from x (n, d) ~ P and y (m, d) ~ Q.

    A fraction train_fraction of each sample (chosen at random with `generator`) trains a
    two-hidden-layer ReLU MLP (class-balanced logistic loss); the rest is held out for the bound.
    """
    x, y = as_tensor("x", x, ndim=2), as_tensor("y", y, ndim=2)
    if y.shape[1] != x.shape[1]:
        raise ValueError(f"y: expected {x.shape[1]} columns like x, got {y.shape[1]}")
    check_confidence(confidence)
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction: must lie in (0, 1), got {train_fraction}")
    hidden, steps = check_count("hidden", hidden), check_count("steps", steps)
    if not lr > 0:
        raise ValueError(f"lr: must be positive, got {lr}")
    splits = []
    for name, data in (("x", x), ("y", y)):
        n_train = int(train_fraction * data.shape[0])
        if n_train < 1 or n_train >= data.shape[0]:
            raise ValueError(f"{name}: too few rows ({data.shape[0]}) to split for training")
        order = torch.randperm(data.shape[0], generator=generator)
        data = data[order].to(device)
        splits.append((data[:n_train], data[n_train:]))
    (x_train, x_test), (y_train, y_test) = splits

    inputs = torch.cat([x_train, y_train])
    centre, spread = inputs.mean(0), inputs.std(0).clamp_min(1e-12)
    inputs = (inputs - centre) / spread
    labels = torch.cat([inputs.new_ones(len(x_train)), inputs.new_zeros(len(y_train))])
    weights = torch.cat(
        [
            inputs.new_full((len(x_train),), 0.5 / len(x_train)),
            inputs.new_full((len(y_train),), 0.5 / len(y_train)),
        ]
    )
    params = _init_mlp([x.shape[1], hidden, hidden, 1], generator, device)
    optimiser = torch.optim.Adam(params, lr=lr)
    for _ in range(steps):
        optimiser.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            _mlp(params, inputs), labels, weight=weights, reduction="sum"
        )
        loss.backward()
        optimiser.step()

    with torch.no_grad():
        hits_p = int((_mlp(params, (x_test - centre) / spread) > 0).sum())
        hits_q = int((_mlp(params, (y_test - centre) / spread) > 0).sum())
    return held_out_tv_bound(hits_p, len(x_test), hits_q, len(y_test), confidence)
