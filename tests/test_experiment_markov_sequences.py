"""Claim 8 experiment: the per-patch DDPM score-error split, one horizon for training and
sampling, the quick profile end to end (its verdicts are a smoke test, not evidence)."""

import pytest
import torch

from figures import render
from synthetic import presets
from verify import grids
from verify.experiments import markov_sequences
from verify.experiments.markov_sequences import Config, Params, ddpm_patch_errors, run_cell
from verify.spec import DiffusionSpec


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


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"confidence": 1.0}, "confidence"),
        ({"K": 2}, "K"),
        ({"seeds": 1}, "seeds"),
        ({"margin_stay": 0.0}, "margin_stay"),
        ({"diffusion": 6.0}, "diffusion"),
        ({"ema_decay": 1.0}, "ema_decay"),
    ],
)
def test_bad_input_names_the_parameter(fields, match):
    with pytest.raises(ValueError, match=match):
        Config(**fields)


@pytest.mark.parametrize("kind", ["ar", "ddpm"])
def test_networks_train_on_the_horizon_they_are_sampled_from(kind, monkeypatch):
    """The training config is the spec's: times on [delta, T] of the sampler's grid."""
    seen = []
    real_train = markov_sequences.train

    def spy(model, dist, config):
        seen.append(config)
        return real_train(model, dist, config)

    monkeypatch.setattr(markov_sequences, "train", spy)
    spec = DiffusionSpec(T=5.5, delta=2e-3, steps=5, denoise=True)
    config = Config(
        K=3,
        S=2,
        steps=2,
        hidden=8,
        diffusion=spec,
        n_samples=200,
        N_eval=2,
        n_eval=16,
        n_confusion=1000,
        seeds=2,
    )
    run_cell(Params(config, kind, 0), "cpu")
    assert [(c.T, c.delta) for c in seen] == [(5.5, 2e-3)]
    assert float(spec.time_grid()[0]) == 5.5 and float(spec.time_grid()[-1]) == 2e-3


def test_quick_profile_calibration_holds_and_record_is_valid(tmp_path, quick_record):
    record = quick_record(markov_sequences)
    assert record["checks"] and [c["name"] for c in record["checks"] if not c["holds"]] == []
    primary = [v for v in record["verdicts"] if v["primary"]]
    assert [v["endpoint"] for v in primary] == ["transition (denoised)", "stay_error (denoised)"]
    assert {v["n"] for v in record["verdicts"]} == {record["config"]["seeds"]}
    assert len(record["series"]["ar_denoised"]["per_k_mean"]) == record["config"]["K"] - 1
    assert render(record, tmp_path / "figures")
