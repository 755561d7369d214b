"""Claim 8 experiment: the per-patch DDPM score-error split, the quick profile end to end."""

import pytest
import torch

from figures import render
from synthetic import presets
from verify import grids
from verify.experiments import markov_sequences
from verify.experiments.markov_sequences import Config, ddpm_patch_errors


def test_ddpm_patch_errors_of_a_shifted_exact_score_are_the_shift_norms():
    """s = grad log q_t + c: patch k's error is ||c^k||^2 at every t, so its term is T_span ||c^k||^2."""
    dist = presets.markov_sequence(K=3, S=2, p=2)
    shift = torch.tensor([0.1, -0.2, 0.3, 0.0, -0.5, 0.4], dtype=torch.float64)
    grid = grids.uniform(2.0, 4, 0.5)
    errors = ddpm_patch_errors(
        lambda x, t: dist.score(x, t) + shift, dist, grid, 64, torch.Generator().manual_seed(0)
    )
    expected = (1.5 * shift.reshape(3, 2).square().sum(-1)).tolist()
    assert [value for value, _ in errors] == pytest.approx(expected, rel=1e-9)
    exact = ddpm_patch_errors(dist.score, dist, grid, 64, torch.Generator().manual_seed(0))
    assert [value for value, _ in exact] == [0.0, 0.0, 0.0]


def test_config_rejects_bad_fields():
    with pytest.raises(ValueError, match="confidence"):
        Config(confidence=1.0)
    with pytest.raises(ValueError, match="K"):
        Config(K=1)


def test_quick_profile_calibration_holds_and_record_is_valid(tmp_path, quick_record):
    record = quick_record(markov_sequences)
    assert record["checks"] and [c["name"] for c in record["checks"] if not c["holds"]] == []
    assert len(record["series"]["ar"]["score_error"]) == record["config"]["K"]
    assert render(record, tmp_path / "figures")
