"""Claim 6 experiment: NFE identities, parameter and cost matching, the record of the quick profile
(wall times measured, never asserted)."""

import pytest

from figures import render
from verify.experiments import inference_cost
from verify.experiments.inference_cost import FORMS, Config


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"patch_counts": (3,)}, "patch_counts"),
        ({"patch_counts": (2,)}, "patch_counts"),
        ({"repeats": 1}, "repeats"),
        ({"draws": 0}, "draws"),
        ({"eps": 0.0}, "eps"),
        ({"rho": -0.1}, "rho"),
        ({"delta": 2.0}, "delta"),
        ({"margin": 0.95}, "margin"),
    ],
)
def test_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def test_cell_counts_calls_and_matches_network_sizes():
    """Counted calls: N for DDPM and sum_k N_k (the best allocation) for every form; staged forms
    compute one context per stage; parameter-matched forms within 10% of DDPM's count (the
    transformer's width moves in steps of its 4 heads), the MAC-matched one within 10% per call."""
    config = Config(patch_counts=(1, 4), eps=0.3, draws=8, repeats=2, width=32)
    result = inference_cost.run_cell(inference_cost.cells(config, 0)[1].params, "cpu")
    assert result["ddpm"]["calls"] == result["steps"]["ddpm"]
    assert len(result["steps"]["ar"]) == 4
    for form in FORMS:
        assert result[form]["calls"] == sum(result["steps"]["ar"])
        assert len(result[form]["seconds"]) == 2
    assert result["patch-context"]["contexts"] == result["transformer-cached"]["contexts"] == 4
    for form in ("equal-mlp", "patch-context", "transformer-cached"):
        assert abs(result[form]["parameters"] / result["ddpm"]["parameters"] - 1) < 0.1, form
    assert abs(result["patch-context-flops"]["macs_step"] / result["ddpm"]["macs_step"] - 1) < 0.1


def test_quick_profile_record_checks_hold_and_figure_draws(tmp_path, quick_record):
    record = quick_record(inference_cost)
    failed = [c for c in record["checks"] if not c["holds"]]
    assert record["checks"] and not failed, failed
    assert record["metrics"]["nfe_ratio_K1"]["value"] == 1.0
    assert {v["endpoint"].split(":")[0] for v in record["verdicts"]} == {f"wall time, {f}" for f in FORMS}
    files = render(record, tmp_path / "figures")
    assert len(files) == 2 and all((tmp_path / f).exists() for f in files)
