"""verify.spec: the diffusion and training specifications, and the one horizon they share."""

import dataclasses

import pytest
import torch

from verify import grids
from verify.spec import DiffusionSpec, TrainSpec
from verify.train import TrainConfig


def test_time_grid_runs_from_T_to_delta_on_the_named_grid():
    spec = DiffusionSpec(T=5.0, delta=2e-3, steps=7, grid="uniform")
    grid = spec.time_grid()
    assert grid.dtype == torch.float64 and grid.shape == (8,)
    assert float(grid[0]) == 5.0 and float(grid[-1]) == 2e-3
    torch.testing.assert_close(grid, grids.uniform(5.0, 7, 2e-3), rtol=0, atol=0)
    assert spec.time_grid(3).shape == (4,)


def test_train_config_takes_the_horizon_from_the_diffusion_and_the_rest_from_train():
    train = TrainSpec(steps=9, batch=16, lr=3e-3, lr_schedule="cosine", ema_decay=0.9)
    config = DiffusionSpec(T=5.5, delta=2e-3).train_config(train, seed=4, device="cpu")
    assert (config.T, config.delta, config.seed) == (5.5, 2e-3, 4)
    assert {f.name: getattr(config, f.name) for f in dataclasses.fields(train)} == dataclasses.asdict(train)


def test_train_spec_defaults_are_the_training_loop_defaults():
    defaults = TrainConfig()
    assert dataclasses.asdict(TrainSpec()) == {
        f.name: getattr(defaults, f.name) for f in dataclasses.fields(TrainSpec)
    }


@pytest.mark.parametrize(
    "run, match",
    [({"T": 6.0}, "^run: T and delta"), ({"delta": 0.1}, "^run: T and delta"), ({"seed": -1}, "^seed")],
)
def test_train_config_refuses_a_second_horizon(run, match):
    with pytest.raises(ValueError, match=match):
        DiffusionSpec().train_config(TrainSpec(), **run)
    with pytest.raises(ValueError, match="^train: must be a TrainSpec"):
        DiffusionSpec().train_config({"steps": 3})


@pytest.mark.parametrize(
    "kind, field, value",
    [
        (TrainSpec, "steps", 0),
        (TrainSpec, "batch", 2.5),
        (TrainSpec, "lr", -1.0),
        (TrainSpec, "lr_schedule", "linear"),
        (TrainSpec, "ema_decay", 1.0),
        (DiffusionSpec, "delta", 5.0),
        (DiffusionSpec, "steps", True),
        (DiffusionSpec, "grid", "nope"),
        (DiffusionSpec, "scheme", "nope"),
        (DiffusionSpec, "denoise", 1),
    ],
)
def test_bad_input_names_the_field(kind, field, value):
    with pytest.raises(ValueError, match=f"^{field}"):
        kind(**{field: value})
