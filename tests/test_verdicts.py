"""The verdict layer against independent oracles: scipy's t-test and permutation test, a TOST and
a Holm correction computed by hand, the noncentral-t power against simulation."""

import numpy as np
import pytest
from scipy import stats

from verify.verdicts import (
    Comparison,
    by_claim,
    decide,
    exact,
    holm,
    overall,
    power,
    sign_flip_p,
    t_interval,
)

PAIRED = np.array([0.3, -0.1, 0.5, 0.2, 0.05, -0.2, 0.4, 0.1])


@pytest.mark.parametrize("alternative", ["greater", "less", "two-sided"])
def test_sign_flip_p_is_scipys_exact_permutation_test(alternative):
    expected = stats.permutation_test(
        (PAIRED,), np.mean, permutation_type="samples", alternative=alternative, n_resamples=np.inf
    ).pvalue
    assert sign_flip_p(PAIRED, 0.0, alternative) == pytest.approx(expected, abs=1e-12)


def test_sign_flip_p_with_a_shift_tests_the_shifted_differences():
    expected = stats.permutation_test(
        (PAIRED - 0.25,), np.mean, permutation_type="samples", alternative="less", n_resamples=np.inf
    ).pvalue
    assert sign_flip_p(PAIRED, 0.25, "less") == pytest.approx(expected, abs=1e-12)


def test_large_samples_use_a_random_subset_close_to_the_exact_p():
    rng = np.random.default_rng(3)
    d = rng.normal(0.2, 1.0, 24)
    exact_normal = stats.ttest_1samp(d, 0.0, alternative="greater").pvalue
    # 2^16 random patterns: the Monte Carlo error is below 0.005; the t approximation is close at n = 24
    assert sign_flip_p(d, 0.0, "greater") == pytest.approx(exact_normal, abs=0.03)


def test_t_interval_is_scipys():
    mean, se, half = t_interval(PAIRED)
    ci = stats.ttest_1samp(PAIRED, 0.0).confidence_interval(0.95)
    assert (mean - half, mean + half) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert se == pytest.approx(stats.sem(PAIRED), abs=1e-15)


def test_holm_matches_a_worked_example():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_tost_matches_a_hand_computed_case():
    d = (0.1, -0.1, 0.2, 0.0, 0.05, -0.05, 0.1, 0.0)
    # every d_i + 0.5 > 0 and every d_i - 0.5 < 0: only the identity pattern reaches the observed
    # shifted mean in each one-sided test, so both p-values are 1 / 2^8
    verdict = decide([Comparison("c", "e", "equivalence", d, margin=0.5)])[0]
    assert verdict["p"] == pytest.approx(1 / 256)
    assert verdict["verdict"] == "supported"


def test_decisions_on_known_data():
    clear = Comparison("c", "clear", "superiority", (0.9, 1.1, 1.0, 1.2, 0.8, 1.0, 1.05, 0.95), margin=0.1)
    below = Comparison(
        "c", "below", "superiority", (0.01, -0.01, 0.0, 0.02, -0.02, 0.01, 0.0, -0.01), margin=0.5
    )
    noisy = Comparison("c", "noisy", "superiority", tuple(PAIRED), margin=0.2)
    outside = Comparison(
        "c", "outside", "equivalence", (1.0, 1.1, 0.9, 1.2, 1.0, 0.95, 1.05, 1.0), margin=0.1
    )
    verdicts = {v["endpoint"]: v for v in decide([clear, below, noisy, outside])}
    assert verdicts["clear"]["verdict"] == "supported"
    assert verdicts["below"]["verdict"] == "contradicted"
    assert verdicts["noisy"]["verdict"] == "unresolved"
    assert 0 < verdicts["noisy"]["power"] < 1
    assert verdicts["outside"]["verdict"] == "contradicted"
    assert overall(list(verdicts.values())) == "unresolved"
    assert overall([verdicts["clear"]]) == "supported"
    assert overall([verdicts["below"], verdicts["noisy"]]) == "contradicted"


def test_holm_applies_to_primary_endpoints_only():
    d = (0.3, 0.1, 0.5, 0.2, 0.05, 0.2, 0.4, 0.1)
    single = decide([Comparison("c", "a", "superiority", d, 0.1)])[0]["p"]
    family = decide(
        [Comparison("c", "a", "superiority", d, 0.1), Comparison("c", "b", "superiority", d, 0.1)]
    )
    secondary = decide(
        [
            Comparison("c", "a", "superiority", d, 0.1, primary=False),
            Comparison("c", "b", "superiority", d, 0.1),
        ]
    )
    assert family[0]["p"] == pytest.approx(min(1.0, 2 * single))
    assert secondary[0]["p"] == pytest.approx(single)


def test_power_matches_simulated_t_tests():
    rng = np.random.default_rng(0)
    n, sd, effect, runs = 8, 1.0, 0.8, 4000
    draws = rng.normal(effect, sd, (runs, n))
    rejected = np.mean(stats.ttest_1samp(draws, 0.0, axis=1, alternative="greater").pvalue < 0.05)
    se = np.sqrt(rejected * (1 - rejected) / runs)
    assert power(n, sd, effect) == pytest.approx(rejected, abs=4 * se)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="kind"):
        Comparison("c", "e", "better", (1.0, 2.0), 0.1)
    with pytest.raises(ValueError, match="differences"):
        Comparison("c", "e", "superiority", (1.0,), 0.1)
    with pytest.raises(ValueError, match="differences"):
        Comparison("c", "e", "superiority", (1.0, float("nan")), 0.1)
    with pytest.raises(ValueError, match="margin"):
        Comparison("c", "e", "superiority", (1.0, 2.0), 0.0)
    with pytest.raises(ValueError, match="scale"):
        Comparison("c", "e", "superiority", (1.0, 2.0), 0.1, scale="ratio")
    with pytest.raises(ValueError, match="alpha"):
        decide([], alpha=1.5)


def test_exact_verdicts_use_the_numerical_error_as_the_interval():
    assert exact("c", "e", 0.5, 0.1, margin=0.2)["verdict"] == "supported"
    assert exact("c", "e", 0.05, 0.1, margin=0.1)["verdict"] == "unresolved"
    assert exact("c", "e", 0.01, 0.01, margin=0.2)["verdict"] == "contradicted"
    with pytest.raises(ValueError, match="error"):
        exact("c", "e", 0.5, -1.0, margin=0.2)


def test_a_numerical_error_moves_every_null_against_the_conclusion():
    d = (0.9, 1.1, 1.0, 1.2, 0.8, 1.0, 1.05, 0.95)  # all eight > 0.7: p = 1/256 for any shift below
    small, large = (
        decide([Comparison("c", "e", "superiority", d, 0.2, numerical_error=e)])[0] for e in (0.7, 1.0)
    )
    assert small["verdict"] == "supported" and small["p"] == pytest.approx(1 / 256)
    assert large["verdict"] == "unresolved"  # d - 1 has mean 0; d + 1 - 0.2 is all positive
    band = (0.01, -0.01, 0.02, 0.0, -0.02, 0.01, 0.0, -0.01)
    assert (
        decide([Comparison("c", "e", "equivalence", band, 0.1, numerical_error=0.05)])[0]["verdict"]
        == "supported"
    )
    assert (
        decide([Comparison("c", "e", "equivalence", band, 0.1, numerical_error=0.1)])[0]["verdict"]
        == "unresolved"
    )


def test_claims_are_decided_one_by_one():
    up = (0.9, 1.1, 1.0, 1.2, 0.8, 1.0, 1.05, 0.95)
    down = tuple(-v for v in up)
    verdicts = decide([Comparison("a", "e", "superiority", up, 0.2)]) + decide(
        [Comparison("b", "e", "superiority", down, 0.2)]
    )
    assert by_claim(verdicts) == {"a": "supported", "b": "contradicted"}
    with pytest.raises(ValueError, match="verdicts"):
        overall(verdicts)
