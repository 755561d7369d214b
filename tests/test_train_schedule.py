"""Learning-rate schedules of TrainConfig and their use by the training loop.

Oracles: closed forms of the schedule (eta = lr at the end of warm-up, lr / 2 half-way through
the cosine, and sum_{j<M} cos(pi j / M) = 1, so the cosine's mean factor over its M steps is
(M + 1) / (2M)); Adam's first step, which moves every parameter by lr_0 g / (|g| + eps), i.e. by
lr_0 up to eps / |g|; and exact equality of weights between runs.
"""

import math

import pytest
import torch

from synthetic.presets import make
from verify.models import build_model
from verify.train import LR_SCHEDULES, TrainConfig, load_checkpoint, train

PAIR = make("dependent_pair")


def _config(**kw):
    base = {"steps": 12, "batch": 32, "lr": 1e-3, "ema_decay": 0.9, "lr_schedule": "cosine"}
    return TrainConfig(**{**base, "warmup_steps": 3, **kw})


def _state(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_constant_schedule_is_flat_after_a_linear_warm_up():
    config = TrainConfig(steps=50, lr=2e-3, warmup_steps=4)
    rates = [config.learning_rate(i) for i in range(50)]
    assert rates[:4] == pytest.approx([5e-4, 1e-3, 1.5e-3, 2e-3], rel=1e-15)
    assert set(rates[4:]) == {2e-3}
    assert {TrainConfig(steps=50).learning_rate(i) for i in range(50)} == {1e-3}


@pytest.mark.parametrize("steps, warmup", [(100, 0), (101, 10), (7, 2)])
def test_cosine_schedule_closed_forms(steps, warmup):
    lr = 3e-3
    config = TrainConfig(steps=steps, lr=lr, lr_schedule="cosine", warmup_steps=warmup)
    rates = [config.learning_rate(i) for i in range(steps)]
    decay = rates[warmup:]
    m = steps - warmup
    assert decay[0] == lr
    if m % 2 == 0:
        assert decay[m // 2] == pytest.approx(lr / 2, rel=1e-12)
    assert all(a > b > 0 for a, b in zip(decay, decay[1:], strict=False))  # decreasing, > 0
    assert sum(decay) / m == pytest.approx(lr * (m + 1) / (2 * m), rel=1e-12)
    assert all(0 < r <= lr for r in rates[:warmup])


@pytest.mark.parametrize("schedule", LR_SCHEDULES)
@pytest.mark.parametrize("warmup", [0, 4])
def test_first_adam_step_moves_each_weight_by_the_scheduled_rate(schedule, warmup):
    """Adam's first update is lr_0 g / (|g| + 1e-8): |update| <= lr_0, with equality up to
    1e-8 / |g| (float64 weights, so the difference of weights is exact to ~1e-17)."""
    config = _config(lr_schedule=schedule, warmup_steps=warmup, grad_clip=None)
    model = build_model("mlp", 2, seed=0).double()
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    moved = []

    def record(info):
        if info.step == 1:
            after = torch.cat([p.detach().flatten() for p in info.model.parameters()])
            moved.append((after - before).abs())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(model, PAIR, config, callback=record)
    expected = config.lr / warmup if warmup else config.lr
    assert expected == config.learning_rate(0)
    assert moved[0].max().item() <= expected * (1 + 1e-12)
    assert torch.quantile(moved[0], 0.5).item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("name", ["mlp", "conditional-mlp"])
def test_scheduled_runs_are_deterministic_and_the_schedule_matters(name):
    runs = [train(build_model(name, 2, (1, 1), seed=3), PAIR, _config()) for _ in range(2)]
    assert _same(_state(runs[0].model), _state(runs[1].model))
    assert _same(_state(runs[0].ema), _state(runs[1].ema))
    assert runs[0].losses == runs[1].losses
    constant = train(build_model(name, 2, (1, 1), seed=3), PAIR, _config(lr_schedule="constant"))
    assert constant.losses[:4] == runs[0].losses[:4]  # same rates until the cosine departs
    assert not _same(_state(runs[0].model), _state(constant.model))


def test_resume_across_the_warm_up_boundary_equals_an_uninterrupted_run(tmp_path):
    config = _config(warmup_steps=5, checkpoint_every=4)
    reference = train(build_model("conditional-mlp", 2, (1, 1), seed=0), PAIR, config)

    def interrupt(info):
        if info.step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(build_model("conditional-mlp", 2, (1, 1), seed=0), PAIR, config, tmp_path, interrupt)
    assert load_checkpoint(tmp_path)["step"] == 4  # still inside the warm-up
    resumed = train(build_model("conditional-mlp", 2, (1, 1), seed=9), PAIR, config, tmp_path)
    assert resumed.resumed_from == 4
    assert _same(_state(resumed.model), _state(reference.model))
    assert _same(_state(resumed.ema), _state(reference.ema))
    assert resumed.losses == reference.losses
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train(build_model("conditional-mlp", 2, (1, 1)), PAIR, _config(lr_schedule="constant"), tmp_path)


@pytest.mark.parametrize(
    "field, value",
    [
        ("lr_schedule", "linear"),
        ("lr_schedule", None),
        ("warmup_steps", -1),
        ("warmup_steps", 2.0),
        ("warmup_steps", True),
        ("warmup_steps", 12),
    ],
)
def test_bad_schedule_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        _config(**{field: value})


def test_schedules_are_named():
    assert LR_SCHEDULES == ("constant", "cosine")
    last = 1e-3 * (1 + math.cos(math.pi * 11 / 12)) / 2
    assert math.isclose(_config(warmup_steps=0).learning_rate(11), last, rel_tol=1e-15)
