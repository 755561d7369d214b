"""Score networks: shapes, parameter counts (closed forms), the time embedding, causality of the
transformer, teacher-forced versus per-stage paths, and the score adapters."""

import math

import pytest
import torch

from verify.models import (
    ConditionalScoreMLP,
    ScoreMLP,
    SinusoidalTimeEmbedding,
    as_conditional_score,
    as_score,
    build_model,
    count_parameters,
    width_for_parameters,
)

PATCHES = (2, 1, 3)
DIM = sum(PATCHES)
BOUNDS = (0, 2, 3, 6)


def _linear(n_in, n_out):
    return n_in * n_out + n_out


def _mlp_count(n_in, hidden, depth, n_out):
    return _linear(n_in, hidden) + (depth - 1) * _linear(hidden, hidden) + _linear(hidden, n_out)


def _double(name, **kw):
    return build_model(name, DIM, PATCHES, seed=0, **kw).double()


def _batch(n=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    clean = torch.randn(n, DIM, generator=g, dtype=torch.float64)
    noisy = torch.randn(n, DIM, generator=g, dtype=torch.float64)
    t = torch.exp(torch.randn(n, len(PATCHES), generator=g, dtype=torch.float64) - 1)
    return clean, noisy, t


def test_parameter_counts_match_closed_forms():
    joint = ScoreMLP(5, hidden=16, depth=3, time_features=8)
    assert count_parameters(joint) == _mlp_count(5 + 8, 16, 3, 5)
    model = ConditionalScoreMLP(PATCHES, hidden=16, depth=2, time_features=8, stage_features=4)
    inputs = 3 + 8 + 2 * DIM + 4  # padded patch, e(t), prefix, mask, stage embedding
    assert count_parameters(model) == _mlp_count(inputs, 16, 2, 3) + len(PATCHES) * 4


def test_transformer_parameter_count():
    w, depth, hidden, hdepth, feats = 8, 2, 16, 2, 8
    model = build_model(
        "causal-transformer",
        DIM,
        PATCHES,
        width=w,
        depth=depth,
        heads=2,
        head_hidden=hidden,
        head_depth=hdepth,
        time_features=feats,
    )
    block = 4 * w + _linear(w, 3 * w) + _linear(w, w) + _linear(w, 4 * w) + _linear(4 * w, w)
    backbone = w + _linear(3, w) + len(PATCHES) * w + depth * block + 2 * w
    assert count_parameters(model) == backbone + _mlp_count(3 + feats + w, hidden, hdepth, 3)


@pytest.mark.parametrize("name", ["mlp", "conditional-mlp", "causal-transformer"])
def test_shapes_float_and_tensor_times(name):
    model = _double(name)
    clean, noisy, t = _batch()
    if name == "mlp":
        assert model(noisy, 0.3).shape == (7, DIM)
        times = torch.full((7,), 0.3, dtype=torch.float64)
        assert torch.equal(model(noisy, 0.3), model(noisy, times))
        return
    for k, size in enumerate(PATCHES):
        out = model(k, noisy[:, BOUNDS[k] : BOUNDS[k + 1]], clean[:, : BOUNDS[k]], 0.3)
        assert out.shape == (7, size)
    assert model.forward_teacher(clean, noisy, t).shape == (7, DIM)


def test_build_model_rejects_unknown_names_listing_known():
    with pytest.raises(ValueError, match="causal-transformer"):
        build_model("unet", DIM, PATCHES)
    with pytest.raises(ValueError, match="patch_sizes"):
        build_model("conditional-mlp", DIM, (1, 1))


def test_build_model_seed_fixes_initialisation_without_touching_global_rng():
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a = build_model("mlp", 3, seed=11)
    assert torch.equal(torch.rand(1), before)
    b = build_model("mlp", 3, seed=11)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_embedding_properties():
    embed = SinusoidalTimeEmbedding(16).double()
    t = torch.tensor([1e-3, 0.01, 0.1, 1.0, 4.0], dtype=torch.float64)
    e = embed(t)
    assert e.shape == (5, 16)
    pairs = e[:, :8] ** 2 + e[:, 8:] ** 2
    torch.testing.assert_close(pairs, torch.ones_like(pairs), rtol=0, atol=1e-12)
    # value at t = 1 is (sin 0, cos 0) since log 1 = 0; and distinct times embed differently
    torch.testing.assert_close(e[3], torch.cat([torch.zeros(8), torch.ones(8)]).double())
    assert torch.cdist(e, e).fill_diagonal_(1.0).min() > 0.1
    # the lowest frequency is 0.1 on u = log t: sin(0.1 log t) for the first column
    torch.testing.assert_close(e[:, 0], torch.sin(0.1 * torch.log(t)))
    with pytest.raises(ValueError, match="t"):
        embed(torch.tensor([0.0]))
    with pytest.raises(ValueError, match="features"):
        SinusoidalTimeEmbedding(7)


@pytest.mark.parametrize("name", ["conditional-mlp", "causal-transformer"])
def test_teacher_forced_path_equals_per_stage_calls(name):
    model = _double(name)
    clean, noisy, t = _batch()
    full = model.forward_teacher(clean, noisy, t)
    for k in range(len(PATCHES)):
        cols = slice(BOUNDS[k], BOUNDS[k + 1])
        stage = model(k, noisy[:, cols], clean[:, : BOUNDS[k]], t[:, k])
        torch.testing.assert_close(full[:, cols], stage, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["conditional-mlp", "causal-transformer"])
def test_stage_k_ignores_patches_from_k_on(name):
    model = _double(name)
    clean, noisy, t = _batch()
    reference = model.forward_teacher(clean, noisy, t)
    for k in range(len(PATCHES)):
        later = clean.clone()
        later[:, BOUNDS[k] :] += 3.0 * torch.randn_like(later[:, BOUNDS[k] :])
        changed = model.forward_teacher(later, noisy, t)
        cols = slice(BOUNDS[k], BOUNDS[k + 1])
        torch.testing.assert_close(changed[:, cols], reference[:, cols], rtol=1e-12, atol=1e-12)
        if k + 1 < len(PATCHES):  # and the perturbation does reach the later stages
            assert not torch.allclose(changed[:, BOUNDS[k + 1] :], reference[:, BOUNDS[k + 1] :])


def test_as_score_is_minus_eps_over_noise_std_in_eval_mode_without_grad():
    model = build_model("mlp", DIM, seed=0)
    x = torch.randn(4, DIM, dtype=torch.float64)
    score = as_score(model)(x, 0.5)
    assert score.dtype == torch.float64 and not score.requires_grad and model.training
    expected = -model(x.float(), 0.5).double() / math.sqrt(1 - math.exp(-1.0))
    torch.testing.assert_close(score, expected)
    with pytest.raises(ValueError, match="t"):
        as_score(model)(x, 0.0)


def test_as_conditional_score_matches_the_stage_call():
    model = build_model("causal-transformer", DIM, PATCHES, seed=0)
    clean, noisy, _ = _batch(3)
    score = as_conditional_score(model)(1, noisy[:, 2:3], clean[:, :2], 0.2)
    expected = -model(1, noisy[:, 2:3].float(), clean[:, :2].float(), 0.2).double()
    torch.testing.assert_close(score, expected / math.sqrt(-math.expm1(-0.4)))
    assert score.dtype == torch.float64 and score.shape == (3, 1)


@pytest.mark.parametrize("name", ["mlp", "conditional-mlp", "causal-transformer"])
def test_width_for_parameters_is_closest(name):
    target = 60_000
    width = width_for_parameters(name, target, DIM, PATCHES)
    key = "width" if name == "causal-transformer" else "hidden"
    step = 4 if name == "causal-transformer" else 1
    counts = {
        w: count_parameters(build_model(name, DIM, PATCHES, **{key: w}))
        for w in (width - step, width, width + step)
    }
    assert min(counts, key=lambda w: abs(counts[w] - target)) == width


@pytest.mark.parametrize("levels", [2, 3])
def test_unet_keeps_shapes_and_honours_the_entry_order(levels):
    from verify.models.unet import UNetScore

    torch.manual_seed(0)
    size, channels = 8, 3
    dim = channels * size * size
    order = torch.randperm(dim)
    plain = UNetScore(size, channels, base=4, levels=levels)
    permuted = UNetScore(size, channels, base=4, levels=levels, order=order)
    permuted.load_state_dict(plain.state_dict())
    x = torch.randn(5, dim)
    out = plain(x, 0.3)
    assert out.shape == (5, dim)
    # the same network on permuted vectors: eps_hat(x[order])  = eps_hat(x)[order]
    torch.testing.assert_close(permuted(x[:, order], 0.3), out[:, order])


def test_unet_rejects_a_size_its_levels_cannot_halve():
    from verify.models.unet import UNetScore

    with pytest.raises(ValueError, match="levels"):
        UNetScore(6, levels=3)
    with pytest.raises(ValueError, match="order"):
        UNetScore(4, 1, order=[0, 0] + list(range(2, 16)))
