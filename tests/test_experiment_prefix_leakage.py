"""Claim 11 experiment: the guaranteed facts of the mechanism (AR-DM's stage 2 never sees stage
1's score, so a prefix-direction bias cannot move its conditional law; matched eps_score^2), the
record schema, and config validation."""

import pytest

from figures import render
from verify.experiments import prefix_leakage
from verify.spec import DiffusionSpec

SMALL = prefix_leakage.Config(bias_norms=(0.3,), diffusion=DiffusionSpec(steps=12), nodes=64)


def test_small_run_checks_hold_and_ar_conditionals_ignore_the_prefix_bias(tmp_path, quick_record):
    record = quick_record(prefix_leakage, SMALL)
    assert record["checks"] and all(c["holds"] for c in record["checks"]), record["checks"]
    series = record["series"]
    # exactly zero: the same stage-2 rows are computed whatever stage 1 does
    assert series["ar_prefix_average_kl"] == [0.0]
    assert series["ar_prefix_average_reverse_kl"] == [0.0]
    assert series["eps_score_squared"] == pytest.approx([0.3**2 * (4.0 - 1e-3)])
    assert [v["endpoint"] for v in record["verdicts"]] == [f"{k}, beta = 0.3" for k in prefix_leakage.PRIMARY]
    assert render(record, tmp_path / "figures") == [
        "figures/prefix_leakage.png",
        "figures/prefix_leakage.pdf",
    ]


def test_directions_have_unit_norm_so_eps_score_is_matched():
    for direction in prefix_leakage.DIRECTIONS.values():
        assert sum(v * v for v in direction) == pytest.approx(1.0)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="^bias_norms:"):
        prefix_leakage.Config(bias_norms=(0.0,))
    with pytest.raises(ValueError, match="^margin:"):
        prefix_leakage.Config(margin=-1.0)
    with pytest.raises(ValueError, match="^box:"):
        prefix_leakage.Config(box=3.0)
