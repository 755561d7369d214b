"""Staged AR-DM networks: the transformer's KV cache and the patch-context network against their
uncached forward passes (float64), and StagedScore inside the AR sampler."""

import pytest
import torch

from verify.grids import exponential_linear
from verify.models import as_conditional_score, count_parameters
from verify.models.matching import match_width
from verify.models.patch_context import PatchContextScore
from verify.models.staged import StagedScore, linear_macs
from verify.models.transformer import CausalTransformerScore
from verify.samplers import sample_ar

SIZES = (2, 1, 3, 2)


def _models():
    torch.manual_seed(0)
    return [
        CausalTransformerScore(SIZES, width=16, depth=2, heads=4, head_hidden=16).double().eval(),
        PatchContextScore(SIZES, hidden=16).double().eval(),
    ]


@pytest.mark.parametrize("model", _models(), ids=["transformer", "patch-context"])
def test_cached_context_matches_the_uncached_forward(model):
    """Stage by stage with the cache of the previous stage (and from scratch): denoise(k, x_k,
    context(k, prefix)) equals forward(k, x_k, prefix) for every stage."""
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(7, sum(SIZES), dtype=torch.float64, generator=generator)
    bounds, cache = model.patch_bounds, None
    with torch.no_grad():
        for k, size in enumerate(SIZES):
            prefix = x[:, : bounds[k]]
            x_k = torch.randn(7, size, dtype=torch.float64, generator=generator)
            z, cache = model.context(k, prefix, cache)
            fresh, _ = model.context(k, prefix)
            expected = model(k, x_k, prefix, 0.37)
            torch.testing.assert_close(model.denoise(k, x_k, z, 0.37), expected, rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(z, fresh, rtol=1e-12, atol=1e-12)


def test_kv_cache_of_a_longer_prefix_is_refused():
    model = _models()[0]
    x = torch.randn(3, sum(SIZES), dtype=torch.float64)
    _, cache = model.context(3, x[:, :6])
    with pytest.raises(ValueError, match="cache"):
        model.context(1, x[:, :2], cache)
    with pytest.raises(ValueError, match="prefix"):
        model.context(2, x[:, :2])


@pytest.mark.parametrize("model", _models(), ids=["transformer", "patch-context"])
def test_staged_score_samples_like_the_uncached_score(model):
    grids = [exponential_linear(2.0, 4, 0.05)] * len(SIZES)
    draws = []
    for score in (StagedScore(model), as_conditional_score(model)):
        draws.append(sample_ar(score, SIZES, grids, 6, generator=torch.Generator().manual_seed(3)))
    torch.testing.assert_close(draws[0], draws[1], rtol=1e-10, atol=1e-10)
    staged = StagedScore(model)
    sample_ar(staged, SIZES, grids, 6, generator=torch.Generator().manual_seed(3))
    assert staged.contexts == len(SIZES)


def test_linear_macs_counts_weights_of_linear_layers():
    net = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.SiLU(), torch.nn.Linear(5, 2))
    assert linear_macs(net) == 3 * 5 + 5 * 2 == count_parameters(net) - 5 - 2


def test_match_width_finds_the_closest_size():
    width = match_width(lambda w: torch.nn.Linear(10, w), count_parameters, 1000)
    assert width == min(range(1, 200), key=lambda w: abs(11 * w - 1000))
    with pytest.raises(ValueError, match="target"):
        match_width(lambda w: torch.nn.Linear(10, w), count_parameters, 0)
