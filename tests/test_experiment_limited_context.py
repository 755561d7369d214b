"""Claim 9 experiment: the exact CMI against a closed form, one horizon for training and
evaluation, the quick profile."""

import math

import pytest
import torch

from figures import render
from verify.experiments import limited_context
from verify.experiments.limited_context import Config, Params, _exact, observed_chain, run_cell
from verify.spec import DiffusionSpec, TrainSpec


def test_cmi_of_first_pair_is_the_bivariate_gaussian_mutual_information():
    """Stage 1 with no window: I(x^1; x^0) = -1/2 log(1 - corr^2)."""
    config = Config(
        K=3, windows=(0, 2), diffusion=DiffusionSpec(T=6.0, delta=1e-3, steps=40), draws=2000, train=None
    )
    rows = _exact(config, seed=0)["rows"]
    cov = observed_chain(3, config.radius, config.angle).covariances[0]
    corr = cov[0, 1] / torch.sqrt(cov[0, 0] * cov[1, 1])
    first = next(r for r in rows if r["window"] == 0 and r["k"] == 1)
    assert first["cmi"] == pytest.approx(-0.5 * math.log(1 - float(corr) ** 2), rel=1e-10)
    full = [r for r in rows if r["window"] == 2]
    assert all(r["cmi"] == pytest.approx(0.0, abs=1e-12) for r in full)
    assert all(r["kl_full"] >= 0 for r in rows)


def test_config_rejects_bad_fields():
    with pytest.raises(ValueError, match="radius"):
        Config(radius=1.0)
    with pytest.raises(ValueError, match="windows"):
        Config(windows=(-1,))
    with pytest.raises(ValueError, match="diffusion"):
        Config(diffusion=6.0)


def test_learned_network_trains_on_the_horizon_it_is_evaluated_on(monkeypatch):
    seen = []
    real_train = limited_context.train

    def spy(model, dist, config):
        seen.append(config)
        return real_train(model, dist, config)

    monkeypatch.setattr(limited_context, "train", spy)
    spec = DiffusionSpec(T=5.5, delta=2e-3, steps=5)
    config = Config(
        K=3, diffusion=spec, train=TrainSpec(steps=2), width=8, eval_steps=2, eval_draws=16, times=(0.1,)
    )
    run_cell(Params(config, "learned", 0), "cpu")
    assert [(c.T, c.delta) for c in seen] == [(5.5, 2e-3)]


def test_quick_profile_checks_hold_and_record_is_valid(tmp_path, quick_record):
    record = quick_record(limited_context)
    assert [c["name"] for c in record["checks"] if not c["holds"]] == []
    assert any("learned" in c["name"] for c in record["checks"])
    assert render(record, tmp_path / "figures")
