"""Time grids (verify.grids): step counts, end points, structure, DDPM mapping, validation."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from verify import grids, process
from verify.samplers.kernels import step_kernel

ends = st.tuples(
    st.floats(min_value=0.05, max_value=40.0),
    st.integers(min_value=1, max_value=600),
    st.floats(min_value=1e-6, max_value=2.0),
)


def assert_grid(grid, T, N, delta):
    assert grid.dtype == torch.float64 and grid.shape == (N + 1,)
    assert float(grid[0]) == T and float(grid[-1]) == delta
    assert torch.all(grid[1:] < grid[:-1])


@settings(max_examples=60, deadline=None)
@given(ends)
def test_uniform_has_N_equal_steps(params):
    T, N, delta = params
    assume(T > delta * (1 + 1e-6))
    grid = grids.uniform(T, N, delta)
    assert_grid(grid, T, N, delta)
    np.testing.assert_allclose(-np.diff(grid.numpy()), (T - delta) / N, rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(ends)
def test_exponential_linear_is_linear_then_geometric_with_one_kappa(params):
    T, N, delta = params
    assume(T > delta * (1 + 1e-6))
    t = grids.exponential_linear(T, N, delta).numpy()
    assert_grid(torch.from_numpy(t), T, N, delta)
    steps, ratios = t[:-1] - t[1:], t[:-1] / t[1:] - 1
    found = False
    for kappa in (steps[0], ratios[-1]):
        linear_ok = np.concatenate([[True], np.cumprod(np.isclose(steps, kappa, rtol=1e-8))])
        geometric_ok = np.concatenate([np.cumprod(np.isclose(ratios, kappa, rtol=1e-8)[::-1])[::-1], [True]])
        found |= bool(np.any(linear_ok.astype(bool) & geometric_ok.astype(bool)))
    assert found, "no N1 such that N1 steps of size kappa are followed by ratio-(1+kappa) steps"


def test_exponential_linear_closed_forms_in_the_pure_cases():
    T, N, delta = 0.8, 7, 1e-3  # T <= 1: all geometric, t_j = T (delta/T)^{j/N}
    expected = T * (delta / T) ** (np.arange(N + 1) / N)
    np.testing.assert_allclose(grids.exponential_linear(T, N, delta).numpy(), expected, rtol=1e-12)
    T, N, delta = 9.0, 5, 1.5  # delta >= 1: all linear
    np.testing.assert_allclose(
        grids.exponential_linear(T, N, delta).numpy(), np.linspace(T, delta, N + 1), rtol=1e-12
    )


def test_exponential_linear_uses_both_phases():
    t = grids.exponential_linear(10.0, 100, 1e-4).numpy()
    steps = t[:-1] - t[1:]
    # continuous count 9/kappa + log(1e4)/log(1 + kappa) = 100 gives kappa ~ 0.19, N1 ~ 47
    assert np.allclose(steps[:40], steps[0]) and not np.isclose(steps[-1], steps[0])
    assert 30 < np.sum(t[1:] > 1) < 60


@pytest.mark.parametrize("betas", [process.linear_betas(1000), process.cosine_betas(300)])
def test_from_betas_maps_the_ddpm_schedule_to_ou_time(betas):
    grid = grids.from_betas(betas)
    N = betas.numel()
    alpha_bar = np.cumprod(1 - betas.numpy())
    assert_grid(grid, float(grid[0]), N, 0.0)
    assert float(grid[0]) == pytest.approx(-0.5 * math.log(alpha_bar[-1]), rel=1e-12)
    # Ho et al.'s ancestral step i -> i-1 (i = N..1) has 1/sqrt(alpha_i) and the posterior variance
    b, a = betas.numpy()[::-1], alpha_bar[::-1]
    a_prev = np.append(a[1:], 1.0)
    for j in range(0, N, max(1, N // 37)):
        kernel = step_kernel("ancestral", float(grid[j]), float(grid[j + 1]))
        assert kernel.c_y == pytest.approx(1 / math.sqrt(1 - b[j]), rel=1e-10)
        assert kernel.v == pytest.approx((1 - a_prev[j]) / (1 - a[j]) * b[j], rel=1e-8, abs=1e-300)


def test_validate_accepts_a_good_grid():
    grid = torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64)
    assert grids.validate(grid) is grid


@pytest.mark.parametrize("grid", [[3.0, 1.0, 0.0], torch.tensor([3.0, 1.0, 0.0]), np.array([3.0, 1.0, 0.0])])
def test_validate_converts_to_float64(grid):
    converted = grids.validate(grid)
    assert converted.dtype == torch.float64
    assert converted.tolist() == [3.0, 1.0, 0.0]


def test_validate_stages_shares_one_grid_or_takes_one_per_stage():
    grid, other = grids.uniform(1.0, 4, 0.0), grids.uniform(2.0, 3, 0.1)
    assert grids.validate_stages(grid, 3) == [grid] * 3
    assert grids.validate_stages([grid, other], 2) == [grid, other]
    with pytest.raises(ValueError, match="^grids: need one grid or 3"):
        grids.validate_stages([grid, other], 3)
    with pytest.raises(ValueError, match=r"^grids\[1\]: times must be strictly decreasing"):
        grids.validate_stages([grid, other.flip(0)], 2)


@pytest.mark.parametrize(
    "grid",
    [
        "3, 1, 0",
        torch.tensor([[3.0, 1.0]], dtype=torch.float64),
        torch.tensor([3.0], dtype=torch.float64),
        torch.tensor([3.0, math.nan, 0.0], dtype=torch.float64),
        torch.tensor([3.0, 3.0, 0.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64),
        torch.tensor([1.0, -0.5], dtype=torch.float64),
    ],
)
def test_validate_rejects_bad_grids(grid):
    with pytest.raises(ValueError, match="grid"):
        grids.validate(grid)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: grids.uniform(1.0, 10, 1.0), "T"),
        (lambda: grids.uniform(math.inf, 10, 0.0), "T"),
        (lambda: grids.uniform(1.0, 10, -0.1), "delta"),
        (lambda: grids.uniform(1.0, 0, 0.0), "N"),
        (lambda: grids.uniform(1.0, 2.5, 0.0), "N"),
        (lambda: grids.uniform(1.0, True, 0.0), "N"),
        (lambda: grids.uniform(5.0, math.nan), "N"),
        (lambda: grids.uniform(5.0, math.inf), "N"),
        (lambda: grids.uniform(5.0, None), "N"),
        (lambda: grids.exponential_linear(5.0, math.nan, 0.01), "N"),
        (lambda: grids.uniform(None, 10), "T"),
        (lambda: grids.uniform(5.0, 10, "0"), "delta"),
        (lambda: grids.uniform(math.nan, 10), "T"),
        (lambda: grids.exponential_linear(5.0, 10, 0.0), "delta"),
        (lambda: grids.exponential_linear(5.0, -3, 0.1), "N"),
        (lambda: grids.from_betas([0.5, 1.0]), "betas"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_by_name_builds_each_named_grid_and_refuses_others():
    for kind in grids.GRIDS:
        assert torch.equal(grids.by_name(kind, 3.0, 12, 0.01), getattr(grids, kind)(3.0, 12, 0.01))
    with pytest.raises(ValueError, match="^grid: must be one of"):
        grids.by_name("cosine", 3.0, 12, 0.01)
