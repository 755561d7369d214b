"""Discrete-state lower bounds for MarkovChainMixture data (docs/math.md sections 4 and 7).

Assignment rule A (deterministic, patch by patch): with covariances=None, the nearest emission
mean, s^k = argmin_s ||x^k - mu_s||; with covariances, the maximum emission likelihood,
s^k = argmax_s N(x^k; mu_s, Sigma_s) (MAP under a uniform state prior). Ties go to the lower s.
Because A is deterministic, data processing gives, for any function T of the assigned
sequence (one patch, a pair of patches, the whole sequence),
    TV(T A(gen), T A(true)) <= TV(gen, true),  KL(T A(gen) || T A(true)) <= KL(gen || true)
(and the same with the arguments of KL swapped). The law of the true *assignment* is not the
law of the hidden states (emissions overlap), so it is estimated by Monte Carlo from exact
samples; the exact hidden-state law (pi P^k marginals, pair laws) is reported beside it.

Plug-in TV between empirical discrete laws is biased upward, so the bound reported here is a
conservative one: the first half of each sample picks the set A = {c : p^(c) > q^(c)}, the second
half bounds P(A) - Q(A) <= TV from below with one-sided Clopper-Pearson margins
(classifier.held_out_tv_bound), valid with probability >= confidence. The same confidence
bounds give KL >= kl(P(A)_lower || Q(A)_upper) in both directions, kl the binary KL.

Per-patch transition error of the assigned sequences, for k = 1..K-1, against a reference
transition law R_k (the hidden chain's P, or the exact law of the true assigned states below):
    e_k = 1/2 sum_{s, s'} | N_k(s, s') / n - N_{k-1}(s) / n * R_k(s, s') |
        = E_{s ~ assigned state at k-1} TV(P^_k(s, .), R_k(s, .)),
the model's transition law at k given its OWN previous state, reported bias-corrected by the
bootstrap, 2 e^_k - mean_b e^*_k (the plug-in e^_k is biased upward), with the bootstrap standard
error. Near e_k = 0 the absolute value is not smooth and the correction is only partial, so
report it next to the same quantity on exact samples of equal size.

Exact law of the TRUE assigned states: emissions are independent given the hidden states, so with
the confusion matrix M(s, a) = P(A(x) = a | hidden state s) (one patch),
    P(A_{k-1} = a, A_k = b) = (M^T diag(pi_{k-1}) P M)(a, b),
    P(A_{k-1} = a, A_k = b, A_{k+1} = c) = sum_{s,t,u} pi_{k-1}(s) M(s,a) P(s,t) M(t,b) P(t,u) M(u,c),
pi_k = pi_0 P^k; the assigned sequence is not Markov when M != I, but these are exact given M.
M has no closed form for Gaussian emissions in p >= 2: it is a Monte Carlo estimate with
binomial standard errors sqrt(M (1 - M) / n_draws) (1e-4 at 2e5 draws per state).
Stay after a rare switch (a low-probability prefix): among positions k = 1..K-2 where the state
switched (A_{k-1} != A_k), the fraction that stay at k + 1 (A_{k+1} = A_k), pooled over k; its
exact value is sum_k P(switch at k, stay at k+1) / sum_k P(switch at k) (P(stay) = P(s, s) when
M = I and P has a constant diagonal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic.validation import as_stochastic_matrix, as_tensor, check_count, check_spd
from verify.metrics.classifier import TVLowerBound, check_confidence, held_out_tv_bound
from verify.metrics.montecarlo import Estimate


@dataclass(frozen=True)
class StateLaw:
    """marginals[k, s] = P(s_k = s), (K, S); pairs[k, s, s'] = P(s_k = s, s_{k+1} = s'), (K-1, S, S)."""

    marginals: torch.Tensor
    pairs: torch.Tensor


@dataclass(frozen=True)
class StateBounds:
    """Data-processing lower bounds between the laws of two assigned-state statistics."""

    tv: TVLowerBound  # tv.lower: TV(gen, true) >= it with probability >= confidence
    kl_gen_true_lower: float  # KL(gen || true) >= it (same event)
    kl_true_gen_lower: float  # KL(true || gen) >= it (same event)
    tv_plug_in: float  # 1/2 sum_c |p^(c) - q^(c)| on all data: biased upward, for reference


def _states(name: str, states, num_states: int) -> torch.Tensor:
    states = torch.as_tensor(states)
    if states.ndim != 2 or states.shape[0] < 2 or states.dtype.is_floating_point:
        raise ValueError(f"{name}: expected an integer (n, K) array with n >= 2, got {states.dtype}")
    if (states < 0).any() or (states >= num_states).any():
        raise ValueError(f"{name}: states must lie in [0, {num_states})")
    return states.long()


def assign_states(x, means, num_patches: int, covariances=None) -> torch.Tensor:
    """Assigned state of every patch of x (n, K p): nearest mean, or maximum emission likelihood
    when covariances (S, p, p) are given; shape (n, K), dtype long."""
    means = as_tensor("means", means, ndim=2)
    num_patches = check_count("num_patches", num_patches)
    p = means.shape[1]
    x = as_tensor("x", x, ndim=2)
    if x.shape[1] != num_patches * p:
        raise ValueError(f"x: expected {num_patches * p} columns (K p), got {x.shape[1]}")
    centred = x.reshape(x.shape[0], num_patches, 1, p) - means  # (n, K, S, p)
    if covariances is None:
        return centred.square().sum(-1).argmin(-1)
    covariances = check_spd("covariances", as_tensor("covariances", covariances, ndim=3))
    if covariances.shape != (means.shape[0], p, p):
        raise ValueError(f"covariances: expected {(means.shape[0], p, p)}, got {tuple(covariances.shape)}")
    chol = torch.linalg.cholesky(covariances)
    z = torch.linalg.solve_triangular(chol, centred.unsqueeze(-1), upper=False).squeeze(-1)
    log_det = 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return (-0.5 * (z.square().sum(-1) + log_det)).argmax(-1)


def hidden_state_law(initial, transition, num_patches: int) -> StateLaw:
    """Exact law of the hidden chain: marginals pi P^k and pairs diag(pi P^k) P."""
    initial = as_tensor("initial", initial, ndim=1)
    transition = as_stochastic_matrix("transition", transition)
    num_patches = check_count("num_patches", num_patches)
    if transition.shape[0] != initial.shape[0]:
        raise ValueError(f"transition: must be {initial.shape[0]} x {initial.shape[0]}")
    marginals = [initial]
    for _ in range(num_patches - 1):
        marginals.append(marginals[-1] @ transition)
    marginals = torch.stack(marginals)
    return StateLaw(marginals, marginals[:-1, :, None] * transition)


def empirical_state_law(states, num_states: int) -> StateLaw:
    """Frequencies of an (n, K) array of states: per-patch marginals and consecutive pairs."""
    num_states = check_count("num_states", num_states)
    states = _states("states", states, num_states)
    n, num_patches = states.shape
    marginals = torch.stack([torch.bincount(states[:, k], minlength=num_states) for k in range(num_patches)])
    pair_codes = states[:, :-1] * num_states + states[:, 1:]
    pairs = torch.stack(
        [torch.bincount(pair_codes[:, k], minlength=num_states**2) for k in range(num_patches - 1)]
    ).reshape(num_patches - 1, num_states, num_states)
    return StateLaw(marginals.double() / n, pairs.double() / n)


def sequence_codes(states, num_states: int, patches=None) -> torch.Tensor:
    """One integer per row coding the states of the chosen patches (all by default), base S."""
    num_states = check_count("num_states", num_states)
    states = _states("states", states, num_states)
    columns = list(range(states.shape[1])) if patches is None else list(patches)
    if not columns or any(not 0 <= c < states.shape[1] for c in columns):
        raise ValueError(f"patches: must be a non-empty list of indices in [0, {states.shape[1]})")
    if num_states ** len(columns) >= 2**62:
        raise ValueError(f"patches: S^{len(columns)} codes overflow int64")
    codes = torch.zeros(states.shape[0], dtype=torch.long)
    for c in columns:
        codes = codes * num_states + states[:, c]
    return codes


def _binary_kl(a: float, b: float) -> float:
    """kl(a || b) = a log(a/b) + (1-a) log((1-a)/(1-b)) for 0 <= a <= 1, 0 < b < 1."""
    return sum(u * math.log(u / v) for u, v in ((a, b), (1 - a, 1 - b)) if u > 0)


def state_divergence_bounds(codes_gen, codes_true, confidence: float = 0.95) -> StateBounds:
    """Lower confidence bounds on TV and KL between generated and true laws from the discrete
    codes of their assigned states (sequence_codes); the samples must be i.i.d. (rows in any order)."""
    check_confidence(confidence)
    codes = []
    for name, c in (("codes_gen", codes_gen), ("codes_true", codes_true)):
        c = torch.as_tensor(c)
        if c.ndim != 1 or c.shape[0] < 2 or c.dtype.is_floating_point:
            raise ValueError(f"{name}: expected a 1-D integer tensor with >= 2 entries")
        codes.append(c.long())
    gen, true = codes
    _, inverse = torch.unique(torch.cat([gen, true]), return_inverse=True)
    gen, true = inverse[: len(gen)], inverse[len(gen) :]
    size = int(inverse.max()) + 1

    def freq(c: torch.Tensor) -> torch.Tensor:
        return torch.bincount(c, minlength=size).double() / len(c)

    plug_in = 0.5 * float((freq(gen) - freq(true)).abs().sum())
    half_gen, half_true = len(gen) // 2, len(true) // 2
    in_set = freq(gen[:half_gen]) > freq(true[:half_true])
    test_gen, test_true = gen[half_gen:], true[half_true:]
    tv = held_out_tv_bound(
        int(in_set[test_gen].sum()), len(test_gen), int(in_set[test_true].sum()), len(test_true), confidence
    )
    a, b = tv.p_set_lower, tv.q_set_upper
    kl_gt, kl_tg = (_binary_kl(a, b), _binary_kl(b, a)) if a > b else (0.0, 0.0)
    return StateBounds(tv, kl_gt, kl_tg, plug_in)


def _references(transition, num_patches: int) -> torch.Tensor:
    """One (S, S) reference for all k = 1..K-1, or K - 1 of them (one per k): (K - 1, S, S)."""
    transition = torch.as_tensor(transition)
    if transition.ndim == 2:
        transition = transition.expand(num_patches - 1, *transition.shape)
    if transition.ndim != 3 or transition.shape[0] != num_patches - 1:
        raise ValueError(
            f"transition: expected (S, S) or ({num_patches - 1}, S, S), got {tuple(transition.shape)}"
        )
    return torch.stack([as_stochastic_matrix("transition", row) for row in transition])


def _boot_rows(n: int, num_boot: int, generator) -> torch.Tensor:
    """Row indices: the data itself first, then num_boot resamples with replacement, (1 + B, n)."""
    num_boot = check_count("num_boot", num_boot)
    return torch.cat([torch.arange(n)[None], torch.randint(n, (num_boot, n), generator=generator)])


def transition_error(
    states, transition, num_boot: int = 200, generator: torch.Generator | None = None
) -> list[Estimate]:
    """Bias-corrected e_k for k = 1..K-1 (module docstring) against `transition`, one (S, S)
    reference or one per k, (K - 1, S, S); each with a bootstrap standard error."""
    states = torch.as_tensor(states)
    if states.ndim != 2 or states.shape[1] < 2:
        raise ValueError(
            f"states: need an (n, K) array with K >= 2 for transitions, got {tuple(states.shape)}"
        )
    references = _references(transition, states.shape[1])
    num_states = references.shape[-1]
    states = _states("states", states, num_states)
    n = states.shape[0]
    rows = _boot_rows(n, num_boot, generator)
    errors = []
    for k in range(1, states.shape[1]):
        pair = (states[:, k - 1] * num_states + states[:, k])[rows]  # (1 + B, n)
        offsets = torch.arange(pair.shape[0])[:, None] * num_states**2
        counts = torch.bincount((pair + offsets).flatten(), minlength=pair.shape[0] * num_states**2)
        joint = counts.reshape(-1, num_states, num_states).double() / n
        error = 0.5 * (joint - joint.sum(-1, keepdim=True) * references[k - 1]).abs().sum((-2, -1))
        boot = error[1:]
        errors.append(Estimate(float(2 * error[0] - boot.mean()), float(boot.std()), n))
    return errors


def stay_after_switch(
    states, num_states: int, num_boot: int = 200, generator: torch.Generator | None = None
) -> Estimate:
    """Fraction of switches A_{k-1} != A_k (k = 1..K-2) followed by a stay A_{k+1} = A_k, pooled
    over k, with a bootstrap standard error over sequences; n = number of switches."""
    num_states = check_count("num_states", num_states)
    states = _states("states", states, num_states)
    if states.shape[1] < 3:
        raise ValueError(
            f"states: need K >= 3 patches for a switch and the step after, got {states.shape[1]}"
        )
    switch = states[:, 1:-1] != states[:, :-2]
    stay = switch & (states[:, 2:] == states[:, 1:-1])
    per_row = torch.stack([switch.sum(1), stay.sum(1)], dim=1).double()  # (n, 2)
    totals = per_row[_boot_rows(states.shape[0], num_boot, generator)].sum(1)  # (1 + B, 2)
    if (totals[:, 0] == 0).any():
        raise ValueError("states: too few switches (a bootstrap resample has none)")
    fractions = totals[:, 1] / totals[:, 0]
    return Estimate(float(fractions[0]), float(fractions[1:].std()), int(totals[0, 0]))


def confusion_matrix(means, covariances, n: int, generator: torch.Generator | None = None):
    """Monte Carlo M(s, a) = P(nearest mean of x is mu_a | x ~ N(mu_s, Sigma_s)), (S, S), from n
    draws per state, with its binomial standard errors (S, S)."""
    means = as_tensor("means", means, ndim=2)
    covariances = check_spd("covariances", as_tensor("covariances", covariances, ndim=3))
    n = check_count("n", n)
    num_states, p = means.shape
    if covariances.shape != (num_states, p, p):
        raise ValueError(f"covariances: expected {(num_states, p, p)}, got {tuple(covariances.shape)}")
    chol = torch.linalg.cholesky(covariances)
    rows = []
    for s in range(num_states):
        x = means[s] + torch.randn(n, p, dtype=torch.float64, generator=generator) @ chol[s].T
        rows.append(torch.bincount(assign_states(x, means, 1)[:, 0], minlength=num_states).double() / n)
    confusion = torch.stack(rows)
    return confusion, (confusion * (1 - confusion) / n).sqrt()


@dataclass(frozen=True)
class AssignedLaw:
    """Exact laws of the true assigned states given the confusion matrix (module docstring):
    transitions[k-1, a, b] = P(A_k = b | A_{k-1} = a) for k = 1..K-1; stay_after_switch, pooled
    over k = 1..K-2 (nan when K < 3)."""

    transitions: torch.Tensor
    stay_after_switch: float


def assigned_state_law(initial, transition, confusion, num_patches: int) -> AssignedLaw:
    """Transition laws and stay-after-switch probability of the assigned states A_k when the hidden
    chain is (initial, transition) and one patch is assigned with `confusion` (S, S)."""
    law = hidden_state_law(initial, transition, num_patches)
    transition = as_stochastic_matrix("transition", transition)
    confusion = as_stochastic_matrix("confusion", confusion)
    if confusion.shape != transition.shape:
        raise ValueError(f"confusion: expected {tuple(transition.shape)}, got {tuple(confusion.shape)}")
    marginals = law.marginals[:-1]  # pi_{k-1}, k = 1..K-1
    pairs = torch.einsum("ks,sa,st,tb->kab", marginals, confusion, transition, confusion)
    transitions = pairs / pairs.sum(-1, keepdim=True)
    off = 1.0 - torch.eye(confusion.shape[0], dtype=torch.float64)
    if num_patches < 3:
        return AssignedLaw(transitions, float("nan"))
    triples = torch.einsum(
        "ks,sa,st,tb,tu,uc->kabc", marginals[:-1], confusion, transition, confusion, transition, confusion
    )
    switched = (pairs[:-1] * off).sum()
    stayed = (triples.diagonal(dim1=2, dim2=3) * off).sum()
    return AssignedLaw(transitions, float(stayed / switched))
