"""verify.pair, the DDPM / AR-DM pair: width matching against brute force, reproducible paired
training, both sides' per-patch score errors against a closed form, the exact-score identity of
both samplers on a product target, and the paired helpers."""

import math

import pytest
import torch

from synthetic import presets
from verify import grids
from verify.models import build_model, count_parameters
from verify.pair import SIDES, PairSpec, log_ratios, matched_width, measure, paired_rows, train_model
from verify.spec import DiffusionSpec, TrainSpec

PAIR = presets.dependent_pair(0.9)


def test_ddpm_width_is_the_brute_force_closest_parameter_count():
    spec = PairSpec(width=24, depth=2)
    for target in (PAIR, presets.embedded_pair(0.9, p=8)):
        dim, sizes = target.dim, target.patch_sizes
        wanted = count_parameters(build_model("conditional-mlp", dim, sizes, hidden=24, depth=2))
        errors = {
            h: abs(count_parameters(build_model("mlp", dim, hidden=h, depth=2)) - wanted)
            for h in range(1, 80)
        }
        assert errors[matched_width("ddpm", spec, target)] == min(errors.values())
        assert matched_width("ar", spec, target) == 24


@pytest.mark.parametrize("model", ["ddpm", "ar"])
def test_patch_errors_of_a_shifted_exact_score_are_the_shift_norms(model):
    """s = exact + c: patch k's error is ||c^k||^2 at every t, so its term is (T - t_N) ||c^k||^2,
    for the joint score's patch k (DDPM) and for the stage-k conditional score (AR-DM)."""
    dist = presets.markov_sequence(K=3, S=2, p=2)
    shift = torch.tensor([0.1, -0.2, 0.3, 0.0, -0.5, 0.4], dtype=torch.float64)
    grid, side = grids.uniform(2.0, 4, 0.5), SIDES[model]
    truth = side.truth(dist)
    if side.conditional:
        shifted = lambda k, x, prefix, t: truth(k, x, prefix, t) + dist.layout.patch(shift, k)  # noqa: E731
    else:
        shifted = lambda x, t: truth(x, t) + shift  # noqa: E731
    errors = side.patch_errors(shifted, dist, grid, 64, torch.Generator().manual_seed(0))
    expected = (1.5 * shift.reshape(3, 2).square().sum(-1)).tolist()
    assert [e.value for e in errors] == pytest.approx(expected, rel=1e-9)
    exact = side.patch_errors(truth, dist, grid, 64, torch.Generator().manual_seed(0))
    assert [e.value for e in exact] == [0.0, 0.0, 0.0]


def test_train_model_is_reproducible_and_keeps_its_checkpoints():
    spec = PairSpec(width=8, depth=1, train=TrainSpec(steps=4, batch=16), checkpoints=(0.5,))
    first, count, snapshots = train_model("ar", PAIR, spec, seed=3)
    second, _, _ = train_model("ar", PAIR, spec, seed=3)
    first, second = first.ema, second.ema
    assert count == sum(p.numel() for p in first.parameters()) == 473  # (53 + 1) 8 + 9 + 32
    assert list(snapshots) == [2]
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
    assert any(
        not torch.equal(a, b) for a, b in zip(first.parameters(), snapshots[2].parameters(), strict=True)
    )


@pytest.mark.parametrize("denoise", [False, True])
def test_exact_scores_on_independent_patches_give_identical_ddpm_and_ar_laws(denoise):
    """On a product target the exact joint score is (s_1(x1), s_2(x2)), so the DDPM sampler is the
    product of the two 1-D samplers, which is the AR-DM sampler with exact conditional scores (the
    Tweedie step too): the grid laws coincide (deposit and diffusion are separable); the
    conditionals differ only by the grid's conventions for mass lost off the box (DDPM rows
    renormalised, AR-DM rows not), by log(1 - lost) <= 2 lost."""
    target = presets.independent_control(PAIR)
    spec = DiffusionSpec(steps=40, denoise=denoise)
    (ddpm_law, ddpm), (ar_law, ar) = (
        measure("ddpm", target.score, target, spec, 96, 6.5),
        measure("ar", target.conditional_score, target, spec, 96, 6.5),
    )
    torch.testing.assert_close(ddpm_law.density, ar_law.density, rtol=1e-9, atol=1e-12)
    lost = 2 * ar_law.mass_lost
    assert 0 < lost < 1e-5
    for key in ("joint_kl", "joint_reverse_kl"):
        assert getattr(ddpm, key) == pytest.approx(getattr(ar, key), rel=1e-9, abs=1e-12)
    for key in ("average_kl", "model_prefix_reverse_kl", "worst_kl"):
        assert getattr(ddpm, key) == pytest.approx(getattr(ar, key), abs=lost), key
    assert 0 <= ddpm.average_kl <= ddpm.joint_kl


def test_paired_rows_and_log_ratios():
    rows = [
        {"model": m, "index": i, "target": "a", "e": v}
        for m, vs in (("ddpm", (2.0, 4.0)), ("ar", (1.0, 1.0)))
        for i, v in enumerate(vs)
    ]
    ddpm, ar = paired_rows(list(reversed(rows)), target="a")
    assert [r["index"] for r in ddpm] == [0, 1]
    assert log_ratios(ddpm, ar, lambda r: r["e"]) == pytest.approx([math.log(2), math.log(4)])
    with pytest.raises(ValueError, match="results"):
        paired_rows(rows, target="b")


def test_bad_spec_names_the_field():
    with pytest.raises(ValueError, match="^steps:"):
        PairSpec(train=TrainSpec(steps=0))
    with pytest.raises(ValueError, match="^checkpoints:"):
        PairSpec(checkpoints=(1.5,))
    with pytest.raises(ValueError, match="^diffusion:"):
        PairSpec(diffusion=4.0)
