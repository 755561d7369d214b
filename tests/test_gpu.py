"""CUDA paths (skipped without CUDA): samplers, training and exact quantities agree with the CPU."""

import dataclasses

import pytest
import torch

from synthetic.presets import make
from verify.exact import gaussian_sampler_law
from verify.grids import uniform
from verify.models import as_score, build_model
from verify.samplers import sample
from verify.train import TrainConfig, train

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("generator_device", ["cpu", "cuda"])
def test_sampler_on_cuda_matches_the_exact_law(generator_device):
    target = make("gaussian_1d")
    grid = uniform(3.0, 200, 0.01)
    law = gaussian_sampler_law(target.affine_score, grid, 1)
    generator = torch.Generator(device=generator_device).manual_seed(0)
    n = 20000
    x = sample(target.to("cuda").score, grid, n, 1, generator=generator, device="cuda")
    assert x.device.type == "cuda" and x.dtype == torch.float64
    mean, var = float(law.mean[0]), float(law.cov[0, 0])
    assert abs(float(x.mean()) - mean) < 5 * (var / n) ** 0.5
    assert abs(float(x.var()) - var) < 5 * var * (2 / n) ** 0.5


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
