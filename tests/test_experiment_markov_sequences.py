"""Claim 8 experiment: one horizon for training and sampling, the quick profile end to end (its
verdicts are a smoke test, not evidence)."""

import pytest

from figures import render
from verify import pair
from verify.experiments import markov_sequences
from verify.experiments.markov_sequences import Config, Params, run_cell
from verify.pair import PairSpec
from verify.spec import DiffusionSpec, TrainSpec


@pytest.mark.parametrize(
    "fields, match",
    [
        ({"confidence": 1.0}, "confidence"),
        ({"K": 2}, "K"),
        ({"seeds": 1}, "seeds"),
        ({"margin_stay": 0.0}, "margin_stay"),
        ({"spec": 6.0}, "spec"),
        ({"draws": 3}, "draws"),
    ],
)
def test_bad_input_names_the_parameter(fields, match):
    with pytest.raises(ValueError, match=match):
        Config(**fields)


@pytest.mark.parametrize("kind", ["ar", "ddpm"])
def test_networks_train_on_the_horizon_they_are_sampled_from(kind, monkeypatch):
    """The training config is the spec's: times on [delta, T] of the sampler's grid."""
    seen = []
    real_train = pair.train

    def spy(model, dist, config, **kw):
        seen.append(config)
        return real_train(model, dist, config, **kw)

    monkeypatch.setattr(pair, "train", spy)
    spec = DiffusionSpec(T=5.5, delta=2e-3, steps=5, denoise=True)
    config = Config(
        K=3,
        S=2,
        spec=PairSpec(width=8, train=TrainSpec(steps=2), diffusion=spec),
        draws=200,
        eval_steps=2,
        eval_draws=16,
        confusion_draws=1000,
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
