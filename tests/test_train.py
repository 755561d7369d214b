"""Denoising score matching, the training loop, checkpoints, and the exact score error.

Oracles: closed-form Gaussian quantities (q_t = N(a_t mu, a_t^2 Sigma + s_t^2 I), so
E ||grad log q_t||^2 = tr C^{-1}), a brute-force per-stage loss loop, and exact equality of
weights between runs. Statistical checks use bands of 4 standard errors with fixed seeds.
"""

import math

import pytest
import torch

from synthetic.gaussian_mixture import GaussianMixture
from verify.models import as_conditional_score, as_score, build_model
from verify.train import (
    TrainConfig,
    denoising_loss,
    dsm_constant,
    dsm_identity,
    integrated_score_error,
    load_checkpoint,
    save_checkpoint,
    score_error,
    train,
)
from verify.train import checkpoint as checkpoint_module

MEAN = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
COV = torch.tensor([[0.6, 0.3, 0.1], [0.3, 0.5, -0.2], [0.1, -0.2, 0.4]], dtype=torch.float64)
PATCHES = (2, 1)
GAUSSIAN = GaussianMixture([1.0], MEAN[None], COV[None], patch_sizes=PATCHES)
PAIR = GaussianMixture(
    [0.5, 0.3, 0.2],
    [[-1.5, 2.5], [0.0, 1.0], [1.5, -0.5]],
    [[[0.5, -0.45], [-0.45, 0.5]]] * 3,
    patch_sizes=(1, 1),
)


def _gaussian_constant(t, k=None):
    """d - s_t^2 tr C^{-1}, C = a_t^2 S + s_t^2 I with S the joint or stage-k conditional cov."""
    if k is None:
        cov = COV
    else:  # k = 1: patch (2,) given prefix (0, 1)
        cov = COV[2:, 2:] - COV[2:, :2] @ torch.linalg.solve(COV[:2, :2], COV[:2, 2:])
    var = -math.expm1(-2 * t)
    c = math.exp(-2 * t) * cov + var * torch.eye(cov.shape[0], dtype=torch.float64)
    return cov.shape[0] - var * torch.trace(torch.linalg.inv(c)).item()


def _within(estimate, value, bands=4.0):
    assert abs(estimate.value - value) <= bands * estimate.stderr, (estimate, value)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("t", [0.01, 0.3, 2.0])
@pytest.mark.parametrize("k", [None, 1])
def test_dsm_constant_matches_closed_form(t, k):
    estimate = dsm_constant(GAUSSIAN, t, n=20_000, generator=_gen(0), k=k)
    assert estimate.stderr > 0
    _within(estimate, _gaussian_constant(t, k))


@pytest.mark.parametrize("t", [0.02, 0.5])
def test_dsm_identity_for_an_untrained_network(t):
    """Training loss (from the training code) = s_t^2 * score error + closed-form constant."""
    model = build_model("mlp", 3, seed=0).double()
    n, g = 20_000, _gen(1)
    x0 = GAUSSIAN.sample(n, 0.0, g)
    eps = torch.randn(x0.shape, dtype=torch.float64, generator=g)
    with torch.no_grad():
        losses = denoising_loss(model, x0, torch.full((n,), t, dtype=torch.float64), eps)
    error = score_error(as_score(model), GAUSSIAN, t, n, _gen(2))
    var = -math.expm1(-2 * t)
    rhs = var * error.value + _gaussian_constant(t)
    se = math.hypot(losses.std().item() / math.sqrt(n), var * error.stderr)
    assert error.value > 0.1  # an untrained network is far from the score
    assert abs(losses.mean().item() - rhs) <= 4 * se
    identity = dsm_identity(as_score(model), GAUSSIAN, t, n, _gen(3))
    _within(identity.difference, 0.0)


def test_dsm_identity_for_a_conditional_network_on_true_prefixes():
    model = build_model("conditional-mlp", 3, PATCHES, seed=0).double()
    identity = dsm_identity(as_conditional_score(model), GAUSSIAN, 0.1, 20_000, _gen(4), k=1)
    _within(identity.constant, _gaussian_constant(0.1, k=1))
    _within(identity.difference, 0.0)
    assert identity.score_error.value > 0.1


@pytest.mark.parametrize("k", [None, 0, 1])
def test_perfect_network_has_zero_error_and_loss_equal_to_the_constant(k):
    exact = GAUSSIAN.score if k is None else GAUSSIAN.conditional_score
    identity = dsm_identity(exact, GAUSSIAN, 0.2, 20_000, _gen(5), k=k)
    assert (identity.score_error.value, identity.score_error.stderr) == (0.0, 0.0)
    if k == 0:  # stage 0 has no prefix: its conditional is the patch-0 marginal
        cov = COV[:2, :2]
        c = math.exp(-0.4) * cov - math.expm1(-0.4) * torch.eye(2, dtype=torch.float64)
        constant = 2 + math.expm1(-0.4) * torch.trace(torch.linalg.inv(c)).item()
    else:
        constant = _gaussian_constant(0.2, k)
    _within(identity.loss, constant)


def test_score_error_of_a_constant_bias_is_its_squared_norm():
    bias = torch.tensor([0.3, -0.4, 0.1], dtype=torch.float64)

    def biased(x, t):
        return GAUSSIAN.score(x, t) + bias

    error = score_error(biased, GAUSSIAN, 0.7, 100, _gen(6))
    assert error.value == pytest.approx(0.26, abs=1e-12) and error.stderr < 1e-12
    grid = torch.tensor([3.0, 1.0, 0.4, 0.01], dtype=torch.float64)
    total = integrated_score_error(biased, GAUSSIAN, grid, 100, _gen(7))
    assert total.value == pytest.approx(0.26 * 2.99, abs=1e-12)


def test_ar_loss_noises_patch_k_only_with_its_own_time():
    """Teacher-forced loss equals a brute-force loop of per-stage calls on clean prefixes."""
    model = build_model("causal-transformer", 3, PATCHES, seed=0).double()
    g = _gen(8)
    x0 = GAUSSIAN.sample(5, 0.0, g)
    eps = torch.randn(5, 3, dtype=torch.float64, generator=g)
    t = torch.rand(5, 2, dtype=torch.float64, generator=g) + 0.05
    expected = torch.zeros(5, dtype=torch.float64)
    for k, cols in enumerate((slice(0, 2), slice(2, 3))):
        a, s = torch.exp(-t[:, k : k + 1]), torch.sqrt(1 - torch.exp(-2 * t[:, k : k + 1]))
        eps_hat = model(k, a * x0[:, cols] + s * eps[:, cols], x0[:, : cols.start], t[:, k])
        expected += (eps_hat - eps[:, cols]).square().sum(dim=1)
    torch.testing.assert_close(denoising_loss(model, x0, t, eps), expected)


def _config(**kw):
    return TrainConfig(**{"steps": 10, "batch": 32, "lr": 1e-3, "ema_decay": 0.9, **kw})


def _state(model):
    return [p.detach().clone() for p in model.state_dict().values()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", ["mlp", "conditional-mlp", "causal-transformer"])
def test_same_seed_gives_identical_weights(name):
    runs = [train(build_model(name, 2, (1, 1), seed=3), PAIR, _config()) for _ in range(2)]
    assert _same(_state(runs[0].model), _state(runs[1].model))
    assert _same(_state(runs[0].ema), _state(runs[1].ema))
    assert runs[0].losses == runs[1].losses
    other = train(build_model(name, 2, (1, 1), seed=3), PAIR, _config(seed=1))
    assert not _same(_state(runs[0].model), _state(other.model))


def test_resume_after_interruption_equals_an_uninterrupted_run(tmp_path):
    config = _config(checkpoint_every=4)
    reference = train(build_model("conditional-mlp", 2, (1, 1), seed=0), PAIR, config)

    def interrupt(info):
        if info.step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(build_model("conditional-mlp", 2, (1, 1), seed=0), PAIR, config, tmp_path, interrupt)
    assert load_checkpoint(tmp_path)["step"] == 4
    resumed = train(build_model("conditional-mlp", 2, (1, 1), seed=9), PAIR, config, tmp_path)
    assert resumed.resumed_from == 4
    assert _same(_state(resumed.model), _state(reference.model))
    assert _same(_state(resumed.ema), _state(reference.ema))
    assert resumed.losses == reference.losses
    assert load_checkpoint(tmp_path)["step"] == 10
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train(build_model("conditional-mlp", 2, (1, 1)), PAIR, _config(lr=2e-3), tmp_path)


def test_non_finite_loss_raises_naming_the_step():
    def poison(info):
        if info.step == 3:
            with torch.no_grad():
                next(info.model.parameters()).fill_(float("nan"))

    with pytest.raises(FloatingPointError, match="step 4"):
        train(build_model("mlp", 2, seed=0), PAIR, _config(), callback=poison)


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, {"step": 1, "weights": torch.arange(3)})

    def broken_save(state, file):
        file.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module.torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, {"step": 2, "weights": torch.zeros(3)})
    monkeypatch.undo()
    state = load_checkpoint(tmp_path)
    assert state["step"] == 1 and torch.equal(state["weights"], torch.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


@pytest.mark.parametrize(
    "field, value",
    [
        ("steps", 0),
        ("batch", 2.5),
        ("lr", -1e-3),
        ("lr", float("nan")),
        ("ema_decay", 1.0),
        ("delta", 0.0),
        ("T", 1e-4),
        ("seed", -1),
        ("checkpoint_every", -5),
        ("grad_clip", 0.0),
        ("device", "nonsense"),
    ],
)
def test_bad_config_raises_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field if field != "T" else "delta"):
        TrainConfig(**{field: value})


def test_mismatched_model_and_distribution_raise():
    with pytest.raises(ValueError, match="patch sizes"):
        train(build_model("conditional-mlp", 3, (1, 2)), GAUSSIAN, _config())
    with pytest.raises(ValueError, match="dimension"):
        train(build_model("mlp", 2), GAUSSIAN, _config())


def test_training_reduces_loss_and_score_error_on_a_2d_target():
    model = build_model("mlp", 2, hidden=64, seed=0)
    grid = [2.0, 1.0, 0.3, 0.1, 0.03, 0.0]
    before = integrated_score_error(as_score(model), PAIR, grid, 2000, _gen(0))
    result = train(model, PAIR, _config(steps=300, batch=128, lr=3e-3, ema_decay=0.99))
    after = integrated_score_error(as_score(result.ema), PAIR, grid, 2000, _gen(0))
    first, last = result.losses[:30], result.losses[-30:]
    assert sum(last) < 0.8 * sum(first)
    assert after.value + 4 * after.stderr < before.value - 4 * before.stderr
