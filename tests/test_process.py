"""The OU forward process and the DDPM dictionary (verify.process) against numpy closed forms."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from verify import process


def test_forward_sample_moments_and_reproducibility():
    t, n = 0.7, 40_000
    x0 = torch.tensor([[2.0, -1.0, 0.5]]).expand(n, -1)
    x = process.forward_sample(x0, t, torch.Generator().manual_seed(0))
    mean_se = math.sqrt((1 - math.exp(-2 * t)) / n)
    assert torch.all((x.mean(0) - math.exp(-t) * x0[0]).abs() < 4.5 * mean_se)
    var = ((x - math.exp(-t) * x0[0]) ** 2).mean(0)
    var_se = (1 - math.exp(-2 * t)) * math.sqrt(2 / n)  # Var of Z^2 is 2 for Z ~ N(0, s^2)/s
    assert torch.all((var - (1 - math.exp(-2 * t))).abs() < 4.5 * var_se)
    again = process.forward_sample(x0, t, torch.Generator().manual_seed(0))
    assert torch.equal(x, again) and x.dtype == torch.float64


def test_ou_coefficients_reexported():
    assert process.ou_scale(0.3) == pytest.approx(math.exp(-0.3), rel=1e-15)
    assert process.ou_variance(1e-9) == pytest.approx(2e-9, rel=1e-8)


@settings(max_examples=50, deadline=None)
@given(st.floats(min_value=0.0, max_value=300.0))
def test_alpha_bar_round_trip(t):
    alpha_bar = process.alpha_bar_of_time(t)
    assert float(alpha_bar) == pytest.approx(math.exp(-2 * t), rel=1e-14, abs=0)
    assert float(process.time_of_alpha_bar(alpha_bar)) == pytest.approx(t, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("N", [1, 10, 1000])
def test_linear_betas_and_their_times(N):
    betas = process.linear_betas(N)
    assert betas.shape == (N,) and betas.dtype == torch.float64
    assert float(betas[0]) == pytest.approx(1e-4) and float(betas[-1]) == pytest.approx(
        0.02 if N > 1 else 1e-4
    )
    alpha_bar = np.cumprod(1 - betas.numpy())
    np.testing.assert_allclose(process.alpha_bar_from_betas(betas).numpy(), alpha_bar, rtol=1e-12)
    np.testing.assert_allclose(process.times_from_betas(betas).numpy(), -0.5 * np.log(alpha_bar), rtol=1e-12)


def test_cosine_betas_follow_nichol_dhariwal():
    N, s = 50, 0.008
    f = np.cos((np.arange(N + 1) / N + s) / (1 + s) * np.pi / 2) ** 2
    alpha_bar = process.alpha_bar_from_betas(process.cosine_betas(N)).numpy()
    # the last beta is clipped at 0.999; every earlier alpha_bar_i is f(i)/f(0) exactly
    np.testing.assert_allclose(alpha_bar[:-1], (f / f[0])[1:-1], rtol=1e-12)
    assert process.cosine_betas(N)[-1] == pytest.approx(0.999)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: process.forward_sample(torch.zeros(3), 0.1), "x0"),
        (lambda: process.forward_sample(torch.zeros(2, 3), -0.1), "t"),
        (lambda: process.forward_sample(torch.full((2, 1), math.nan), 0.1), "x0"),
        (lambda: process.alpha_bar_of_time(-1.0), "t"),
        (lambda: process.time_of_alpha_bar(0.0), "alpha_bar"),
        (lambda: process.time_of_alpha_bar(1.5), "alpha_bar"),
        (lambda: process.linear_betas(0), "N"),
        (lambda: process.linear_betas(2.5), "N"),
        (lambda: process.linear_betas(10, beta_min=0.1, beta_max=0.01), "beta_min"),
        (lambda: process.cosine_betas(10, max_beta=1.0), "max_beta"),
        (lambda: process.alpha_bar_from_betas([0.1, 1.0]), "betas"),
        (lambda: process.times_from_betas([[0.1]]), "betas"),
        (lambda: process.times_from_betas([0.1, math.nan]), "betas"),
        (lambda: process.times_from_betas([]), "betas"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
