"""Nearest-state assignment and data-processing bounds on MarkovChainMixture data.

Oracles: brute-force enumeration of the S^K hidden paths (numpy), scipy emission densities, and
Monte Carlo with the models' exact log-densities for TV and KL between two chains.
"""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal, norm

from synthetic import MarkovChainMixture
from verify.metrics.markov_states import (
    assign_states,
    assigned_state_law,
    confusion_matrix,
    empirical_state_law,
    hidden_state_law,
    sequence_codes,
    state_divergence_bounds,
    stay_after_switch,
    transition_error,
)

INITIAL = [0.5, 0.3, 0.2]
TRANSITION = [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.25, 0.25, 0.5]]
OTHER_TRANSITION = [[0.5, 0.3, 0.2], [0.3, 0.4, 0.3], [0.2, 0.3, 0.5]]
K = 3


def chain(transition, spacing: float) -> MarkovChainMixture:
    """Three states, 1-D emissions with means spacing apart and unequal variances."""
    means = [[0.0], [spacing], [2 * spacing]]
    return MarkovChainMixture(INITIAL, transition, means, [[[0.3]], [[0.2]], [[0.4]]], K)


def path_law(initial, transition) -> dict:
    """P(s_1..s_K) for every path, by enumeration."""
    initial, transition = np.asarray(initial), np.asarray(transition)
    law = {}
    for path in itertools.product(range(len(initial)), repeat=K):
        prob = initial[path[0]]
        for a, b in itertools.pairwise(path):
            prob *= transition[a, b]
        law[path] = prob
    return law


def hidden_states(transition, n: int, seed: int) -> np.ndarray:
    """n paths of the hidden chain, by inverting the CDF of each row at a uniform draw."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.asarray(transition), axis=1)
    states = [np.searchsorted(np.cumsum(INITIAL), rng.random(n))]
    for _ in range(K - 1):
        states.append((rng.random(n)[:, None] > cdf[states[-1]]).sum(1))
    return np.stack(states, axis=1)


def test_assignment_rules_match_brute_force():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(4, 2))
    roots = rng.normal(size=(4, 2, 2)) * 0.5
    covs = roots @ roots.transpose(0, 2, 1) + 0.1 * np.eye(2)
    x = rng.normal(size=(100, 3 * 2)) * 1.5
    densities = [multivariate_normal(means[s], covs[s]) for s in range(4)]
    nearest = assign_states(x, means, 3)
    likely = assign_states(x, means, 3, covs)
    for i, k in itertools.product(range(100), range(3)):
        patch = x[i, 2 * k : 2 * k + 2]
        assert nearest[i, k] == np.argmin(((patch - means) ** 2).sum(1))
        assert likely[i, k] == np.argmax([density.logpdf(patch) for density in densities])
    assert (nearest != likely).any()  # the two rules differ on this problem


def test_hidden_state_law_matches_enumeration():
    law = hidden_state_law(INITIAL, TRANSITION, K)
    paths = path_law(INITIAL, TRANSITION)
    for k, s in itertools.product(range(K), range(3)):
        assert float(law.marginals[k, s]) == pytest.approx(
            sum(p for path, p in paths.items() if path[k] == s), abs=1e-14
        )
    for k, s, r in itertools.product(range(K - 1), range(3), range(3)):
        assert float(law.pairs[k, s, r]) == pytest.approx(
            sum(p for path, p in paths.items() if path[k] == s and path[k + 1] == r), abs=1e-14
        )


def test_empirical_law_and_codes_count_correctly():
    states = hidden_states(TRANSITION, 500, seed=1)
    law = empirical_state_law(states, 3)
    for k, s in itertools.product(range(K), range(3)):
        assert float(law.marginals[k, s]) == np.mean(states[:, k] == s)
    for k, s, r in itertools.product(range(K - 1), range(3), range(3)):
        assert float(law.pairs[k, s, r]) == np.mean((states[:, k] == s) & (states[:, k + 1] == r))
    codes = sequence_codes(states, 3, patches=[2, 0])
    assert (codes.numpy() == 3 * states[:, 2] + states[:, 0]).all()


@pytest.mark.parametrize("swap", [False, True])
def test_lower_bounds_below_exact_for_separated_emissions(swap):
    """Emission means 20 apart with sd <= 0.64: assignment equals the hidden state except with
    probability ~1e-50, so TV and KL between the models equal those of the path laws exactly."""
    p_model, q_model = chain(TRANSITION, 20.0), chain(OTHER_TRANSITION, 20.0)
    if swap:
        p_model, q_model = q_model, p_model
    p_law = path_law(p_model.initial.numpy(), p_model.transition.numpy())
    q_law = path_law(q_model.initial.numpy(), q_model.transition.numpy())
    exact_tv = 0.5 * sum(abs(p_law[s] - q_law[s]) for s in p_law)
    exact_kl_pq = sum(p_law[s] * np.log(p_law[s] / q_law[s]) for s in p_law)
    exact_kl_qp = sum(q_law[s] * np.log(q_law[s] / p_law[s]) for s in p_law)

    generator = torch.Generator().manual_seed(int(swap))
    means = p_model.means
    gen = sequence_codes(assign_states(p_model.sample(4000, generator=generator), means, K), 3)
    true = sequence_codes(assign_states(q_model.sample(4000, generator=generator), means, K), 3)
    bounds = state_divergence_bounds(gen, true, confidence=0.95)
    assert bounds.tv.lower <= exact_tv
    assert bounds.kl_gen_true_lower <= exact_kl_pq
    assert bounds.kl_true_gen_lower <= exact_kl_qp
    # informative: held-out margins are ~2 x 2.2 sqrt(1/4 / 2000) = 0.05
    assert bounds.tv.lower >= exact_tv - 0.1
    assert bounds.kl_gen_true_lower > 0 and bounds.kl_true_gen_lower > 0


def test_lower_bounds_below_monte_carlo_truth_for_overlapping_emissions():
    """Overlapping emissions: assignment is noisy; TV and KL between the models come from Monte
    Carlo with exact densities, TV = E_p[(1 - q/p)_+], KL = E_p[log p - log q]."""
    p_model, q_model = chain(TRANSITION, 1.0), chain(OTHER_TRANSITION, 1.2)
    generator = torch.Generator().manual_seed(3)
    x = p_model.sample(20000, generator=generator)
    log_ratio = q_model.log_prob(x) - p_model.log_prob(x)
    tv_draws = (1 - log_ratio.exp()).clamp_min(0)
    tv = float(tv_draws.mean()) + 3 * float(tv_draws.std()) / np.sqrt(len(x))
    kl = float(-log_ratio.mean()) + 3 * float(log_ratio.std()) / np.sqrt(len(x))

    means, covs = q_model.means, q_model.covariances
    gen = assign_states(p_model.sample(4000, generator=generator), means, K, covs)
    true = assign_states(q_model.sample(4000, generator=generator), means, K, covs)
    for patches in (None, [0], [1, 2]):
        bounds = state_divergence_bounds(sequence_codes(gen, 3, patches), sequence_codes(true, 3, patches))
        assert bounds.tv.lower <= tv
        assert bounds.kl_gen_true_lower <= kl
        assert bounds.tv.lower <= bounds.tv_plug_in + 0.1


def test_transition_error_against_exact_value():
    """Paths of the OTHER chain scored against TRANSITION: e_k = sum_s P(s_{k-1} = s) TV(rows) exactly.
    Over 30 independent data sets the corrected estimate is unbiased within three standard errors
    and the bootstrap standard error matches the spread (within 50%)."""
    law = hidden_state_law(INITIAL, OTHER_TRANSITION, K).marginals.numpy()
    row_tv = 0.5 * np.abs(np.asarray(OTHER_TRANSITION) - np.asarray(TRANSITION)).sum(1)
    exact = law[:-1] @ row_tv
    generator = torch.Generator().manual_seed(0)
    runs = [
        transition_error(hidden_states(OTHER_TRANSITION, 400, s), TRANSITION, 100, generator)
        for s in range(30)
    ]
    for k in range(K - 1):
        values = np.array([run[k].value for run in runs])
        assert abs(values.mean() - exact[k]) <= 3 * values.std(ddof=1) / np.sqrt(len(values))
        ratio = np.mean([run[k].stderr for run in runs]) / values.std(ddof=1)
        assert 0.67 < ratio < 1.5
        assert runs[0][k].n == 400


def test_transition_error_takes_one_reference_per_position():
    states = hidden_states(TRANSITION, 300, seed=4)
    references = [TRANSITION, OTHER_TRANSITION]
    together = transition_error(states, references, 50, torch.Generator().manual_seed(1))
    for k, reference in enumerate(references, start=1):
        alone = transition_error(states, reference, 50, torch.Generator().manual_seed(1))
        assert together[k - 1].value == pytest.approx(alone[k - 1].value, abs=1e-12)


def test_confusion_matrix_matches_normal_cdf_of_the_midpoint_cells():
    """1-D emissions: the nearest mean is mu_a on the interval between the midpoints around mu_a,
    so M(s, a) = Phi((hi - mu_s) / sd_s) - Phi((lo - mu_s) / sd_s); within 5 standard errors."""
    means, variances = np.array([0.0, 1.0, 2.5]), np.array([0.3, 0.2, 0.4])
    edges = np.concatenate([[-np.inf], (means[1:] + means[:-1]) / 2, [np.inf]])
    exact = norm.cdf((edges[None, 1:] - means[:, None]) / np.sqrt(variances)[:, None]) - norm.cdf(
        (edges[None, :-1] - means[:, None]) / np.sqrt(variances)[:, None]
    )
    confusion, stderr = confusion_matrix(
        means[:, None], variances[:, None, None], 40000, torch.Generator().manual_seed(0)
    )
    assert np.all(np.abs(confusion.numpy() - exact) <= 5 * stderr.numpy() + 1e-12)
    assert confusion.sum(1).numpy() == pytest.approx(np.ones(3), abs=1e-12)


def assigned_path_law(confusion) -> dict:
    """P(A_1..A_K = a) = sum over hidden paths s of P(s) prod_k M(s_k, a_k), by enumeration."""
    hidden = path_law(INITIAL, TRANSITION)
    law = {}
    for a in itertools.product(range(3), repeat=K):
        law[a] = sum(
            p * np.prod([confusion[s_k, a_k] for s_k, a_k in zip(s, a, strict=True)])
            for s, p in hidden.items()
        )
    return law


def test_assigned_state_law_matches_enumeration():
    confusion = np.array([[0.9, 0.07, 0.03], [0.1, 0.85, 0.05], [0.0, 0.2, 0.8]])
    law = assigned_state_law(INITIAL, TRANSITION, confusion, K)
    paths = assigned_path_law(confusion)
    for k, a, b in itertools.product(range(1, K), range(3), range(3)):
        pair = sum(p for path, p in paths.items() if path[k - 1] == a and path[k] == b)
        given = sum(p for path, p in paths.items() if path[k - 1] == a)
        assert float(law.transitions[k - 1, a, b]) == pytest.approx(pair / given, abs=1e-13)
    switched = sum(p for path, p in paths.items() if path[0] != path[1])  # K = 3: only k = 1
    stayed = sum(p for path, p in paths.items() if path[0] != path[1] and path[2] == path[1])
    assert law.stay_after_switch == pytest.approx(stayed / switched, abs=1e-13)


def test_identity_confusion_gives_the_hidden_chain():
    law = assigned_state_law(INITIAL, TRANSITION, np.eye(3), 5)
    assert torch.allclose(law.transitions, torch.tensor(TRANSITION, dtype=torch.float64).expand(4, 3, 3))
    sticky = 0.9 * np.eye(3) + 0.1 / 3
    assert assigned_state_law(INITIAL, sticky, np.eye(3), 5).stay_after_switch == pytest.approx(
        0.9 + 0.1 / 3, abs=1e-14
    )


def test_stay_after_switch_against_exact_value():
    """Hidden paths (M = I): over 30 data sets the estimate is unbiased within three standard
    errors of the mean and the bootstrap standard error matches the spread (within 50%)."""
    exact = assigned_state_law(INITIAL, TRANSITION, np.eye(3), K).stay_after_switch
    generator = torch.Generator().manual_seed(0)
    runs = [stay_after_switch(hidden_states(TRANSITION, 400, 100 + s), 3, 100, generator) for s in range(30)]
    values = np.array([run.value for run in runs])
    assert abs(values.mean() - exact) <= 3 * values.std(ddof=1) / np.sqrt(len(values))
    assert 0.67 < np.mean([run.stderr for run in runs]) / values.std(ddof=1) < 1.5


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: assign_states(np.zeros((5, 4)), np.zeros((3, 1)), 3), "x:"),
        (lambda: assign_states(np.zeros((5, 3)), np.zeros((3, 1)), 3, np.ones((2, 1, 1))), "covariances:"),
        (lambda: empirical_state_law(np.full((5, 3), 3), 3), "states:"),
        (lambda: empirical_state_law(np.zeros((5, 3)), 3), "states:"),
        (lambda: sequence_codes(np.zeros((5, 3), dtype=int), 3, patches=[3]), "patches:"),
        (lambda: state_divergence_bounds(torch.zeros(5), torch.zeros(5, dtype=torch.long)), "codes_gen:"),
        (lambda: state_divergence_bounds([0, 1], [1, 0], confidence=2.0), "confidence:"),
        (lambda: hidden_state_law(INITIAL, [[1.0, 0.0], [0.0, 1.0]], K), "transition:"),
        (lambda: transition_error(np.zeros((5, 1), dtype=int), TRANSITION), "states:"),
        (lambda: transition_error(np.zeros((5, 3), dtype=int), [TRANSITION] * 3), "transition:"),
        (lambda: stay_after_switch(np.zeros((5, 2), dtype=int), 3), "states:"),
        (lambda: stay_after_switch(np.zeros((5, 3), dtype=int), 3), "states: too few switches"),
        (lambda: confusion_matrix(np.zeros((2, 1)), np.ones((3, 1, 1)), 10), "covariances:"),
        (lambda: assigned_state_law(INITIAL, TRANSITION, np.eye(2), K), "confusion:"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
