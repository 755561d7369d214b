"""The truth through the models' output path: forward noise, then the exact (parametric) or
quadrature (image) Tweedie step, against closed forms and the detector."""

import math

import pytest
import torch

from synthetic.gaussian_mixture import GaussianMixture
from synthetic.rules import SUN_SHADOW, TWO_SQUARES, quadrature_nodes, sample_free
from verify.rules.detect import detect
from verify.rules.render import RenderedRules, patchify, render, unpatchify
from verify.rules.truth import forward_noise, image_tweedie, mixture_tweedie


def test_mixture_tweedie_matches_the_gaussian_posterior_mean():
    """One Gaussian N(mu, v I): E[x_0 | x_t] = mu + a v / (a^2 v + s^2) (x - a mu)."""
    mu, v, t = torch.tensor([[0.7, -1.2]], dtype=torch.float64), 0.3, 0.25
    gaussian = GaussianMixture(torch.ones(1, dtype=torch.float64), mu, torch.tensor([v], dtype=torch.float64))
    x = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    a, s2 = math.exp(-t), -math.expm1(-2 * t)
    expected = mu + a * v / (a * a * v + s2) * (x - a * mu)
    torch.testing.assert_close(mixture_tweedie(gaussian, x, t), expected)


def test_forward_noise_has_the_ou_moments():
    x0 = torch.full((40000, 1), 2.0, dtype=torch.float64)
    x = forward_noise(x0, 0.5, torch.Generator().manual_seed(1))
    a, s = math.exp(-0.5), math.sqrt(-math.expm1(-1.0))
    assert abs(x.mean().item() - 2 * a) <= 4 * s / 200
    assert abs(x.std().item() - s) <= 4 * s / math.sqrt(2 * 40000)


def test_image_tweedie_limits():
    """At a large t the posterior is the prior: the output is sum_i w_i r_i; at a small t an
    exact grid render a r_j (no noise) returns r_j."""
    data = RenderedRules(TWO_SQUARES, 16, 4)
    theta, weights = quadrature_nodes(TWO_SQUARES, 50)
    renders = 2 * patchify(render(TWO_SQUARES, TWO_SQUARES.geometry(theta), 16), 4) - 1
    x = torch.randn(3, data.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    prior = (weights[:, None] * renders).sum(0)
    torch.testing.assert_close(image_tweedie(data, x, 30.0, 50), prior.expand(3, -1))
    t = 1e-3
    out = image_tweedie(data, math.exp(-t) * renders[[4, 31]], t, 50)
    torch.testing.assert_close(out, renders[[4, 31]])


@pytest.mark.parametrize(("task", "patches"), [(SUN_SHADOW, 4), (TWO_SQUARES, 16)], ids=["sun", "squares"])
def test_truth_through_the_output_path_is_detected(task, patches):
    """Renders -> x_delta (delta = 1e-3) -> quadrature Tweedie: every image detected, every
    coordinate within two quadrature cells of the truth (h cells 0.2 / 100 move H = 2h by 0.004,
    s cells 0.1 / 60 by less)."""
    generator = torch.Generator().manual_seed(3)
    data = RenderedRules(task, 16, patches)
    geometry = task.geometry(sample_free(task, 100, generator))
    x0 = 2 * patchify(render(task, geometry, 16), patches) - 1
    out = image_tweedie(
        data, forward_noise(x0, 1e-3, generator), 1e-3, (100, 60) if task is SUN_SHADOW else 600
    )
    found, ok = detect(task, unpatchify((out + 1) / 2, patches, 16))
    assert ok.all()
    assert (found - geometry).abs().max().item() <= 2 * 0.004


def test_bad_input_names_the_parameter():
    data = RenderedRules(TWO_SQUARES, 16, 4)
    with pytest.raises(ValueError, match="x:"):
        image_tweedie(data, torch.zeros(2, 5), 0.1, 10)
    with pytest.raises(ValueError, match="t:"):
        forward_noise(torch.zeros(2, 2), 0.0, torch.Generator())
