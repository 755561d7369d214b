"""Claim 6 experiment: NFE identities and the record of the quick profile (wall times unchecked)."""

import pytest

from figures import render
from verify.experiments import inference_cost
from verify.experiments.inference_cost import Config


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"patch_counts": (3,)}, "patch_counts"),
        ({"repeats": 1}, "repeats"),
        ({"samples": 0}, "samples"),
        ({"eps": 0.0}, "eps"),
        ({"rho": -0.1}, "rho"),
        ({"delta": 2.0}, "delta"),
    ],
)
def test_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Config(**kwargs)


def test_cell_counts_score_calls_per_stage():
    """Counted calls: N for DDPM, K N for AR-DM at equal steps, sum_k N_k at the equal-KL budget;
    a network cell gets parameter-matched models."""
    config = Config(patch_counts=(4,), steps=3, eps=0.3, samples=8, repeats=2, inner=1, hidden=16)
    for cell in inference_cost.cells(config, 0):
        result = inference_cost.run_cell(cell.params, "cpu")
        steps = result["equal_steps"]
        assert steps["ddpm"]["calls"] == 3 and steps["ar"]["calls"] == 12
        kl = result["equal_kl"]["ar"]
        assert len(kl["grid_steps"]) == 4 and kl["calls"] == sum(kl["grid_steps"]) == kl["reported_nfe"]
        assert all(len(result[b][m]["seconds"]) == 2 for b in inference_cost.BUDGETS for m in ("ddpm", "ar"))
        if cell.params.score == "network":
            counts = result["parameters"]
            assert abs(counts["ar"] - counts["ddpm"]) <= 0.05 * counts["ddpm"]


def test_quick_profile_record_checks_hold_and_figure_draws(tmp_path, quick_record):
    record = quick_record(inference_cost)
    failed = [c for c in record["checks"] if not c["holds"]]
    assert record["checks"] and not failed, failed
    for K in record["config"]["patch_counts"]:
        assert record["metrics"][f"equal_steps_nfe_ratio_K{K}"]["value"] == K
    files = render(record, tmp_path / "figures")
    assert len(files) == 2 and all((tmp_path / f).exists() for f in files)
