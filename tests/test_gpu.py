"""CUDA paths (skipped without CUDA): samplers, training and exact quantities agree with the CPU."""

import dataclasses

import pytest
import torch

from synthetic.presets import make
from verify.grids import uniform
from verify.models import as_score, build_model
from verify.samplers import sample
from verify.train import TrainConfig, train

pytestmark = pytest.mark.gpu


def test_sampler_runs_on_cuda_with_a_cuda_generator():
    target = make("gaussian_1d").to("cuda")
    generator = torch.Generator(device="cuda").manual_seed(0)
    x = sample(target.score, uniform(3.0, 200, 0.01), 20000, 1, generator=generator, device="cuda")
    assert x.device.type == "cuda" and x.dtype == torch.float64
    mean, var = float(x.mean()), float(x.var())
    # target N(2, 0.25) noised to delta = 0.01: standard errors ~0.004 (mean), ~0.0025 (variance)
    assert abs(mean - 2.0 * torch.exp(torch.tensor(-0.01)).item()) < 0.03
    assert abs(var - 0.25) < 0.03


def test_training_on_cuda_matches_cpu_loss_curve():
    target = make("dependent_pair")
    config = TrainConfig(steps=30, batch=128, seed=3)
    losses = {}
    for device in ("cpu", "cuda"):
        model = build_model("mlp", 2, seed=0)
        result = train(model, target, dataclasses.replace(config, device=device))
        losses[device] = torch.tensor(result.losses)
        x = torch.randn(8, 2, dtype=torch.float64, device=device)
        assert as_score(result.model)(x, 0.5).device.type == device
    # same data, same initial weights: only floating-point reduction order differs
    assert torch.allclose(losses["cpu"], losses["cuda"], rtol=1e-3, atol=1e-4)
