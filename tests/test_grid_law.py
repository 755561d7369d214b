"""Grid density propagation against the exact Gaussian laws of the same samplers."""

import math
from functools import partial

import pytest
import torch
from test_gaussian_law import OUGaussian, uniform_grid

from verify.exact import (
    GridLaw,
    conditional_divergences,
    gaussian_ar_sampler_law,
    gaussian_sampler_law,
    grid_ar_sampler_law,
    grid_divergences,
    grid_sampler_law,
    richardson,
)
from verify.exact.grid_law import PRUNE
from verify.metrics import (
    gaussian_conditional,
    gaussian_expected_conditional_kl,
    gaussian_kl,
    gaussian_kl_both,
    gaussian_tv_1d,
)

F64 = torch.float64
TARGET = dict(mean=[1.0, -0.5], cov=[[0.8, 0.3], [0.3, 0.4]])
DELTA = 0.01


def log_normal(mean, cov):
    """Exact log-density of N(mean, cov) (torch's own implementation, not the code under test)."""
    return torch.distributions.MultivariateNormal(mean, cov).log_prob


def extrapolated(make_law, functional, sizes):
    laws = [make_law(n) for n in sizes]
    values = [functional(law) for law in laws]
    return richardson(values[0], values[1], laws[0].dx, laws[1].dx), values, laws


def test_1d_law_kl_and_tv_against_exact():
    truth = OUGaussian([2.0], [[0.25]], err_c=0.3)
    grid = uniform_grid(3.0, 40, DELTA)
    exact = gaussian_sampler_law(truth.affine_score, grid, 1)
    target = truth.law(DELTA)
    law = grid_sampler_law(truth.score, grid, 1, box=8.0, n=2048)
    div = grid_divergences(law, log_normal(*target))
    forward, reverse = gaussian_kl_both(*target, exact.mean, exact.cov)
    tv = gaussian_tv_1d(target[0].item(), target[1].item(), exact.mean.item(), exact.cov.item())
    assert div.kl_target_sampler == pytest.approx(forward, rel=1e-3)
    assert div.kl_sampler_target == pytest.approx(reverse, rel=1e-3)
    assert div.tv == pytest.approx(tv, rel=1e-3)
    assert 0 <= law.mass_lost < 1e-9


def test_2d_law_against_exact_gaussian_law():
    truth = OUGaussian(**TARGET, err_a=0.2, err_c=0.2)
    grid = uniform_grid(3.0, 50, DELTA)
    exact = gaussian_sampler_law(truth.affine_score, grid, 2)
    target = truth.law(DELTA)
    kl = gaussian_kl(*target, exact.mean, exact.cov)
    value, _, laws = extrapolated(
        lambda n: grid_sampler_law(truth.score, grid, 2, box=7.0, n=n),
        lambda law: grid_divergences(law, log_normal(*target)).kl_target_sampler,
        (192, 256),
    )
    assert abs(value - kl) < 1e-3 * kl
    # marginals and conditionals of the grid law are those of the exact Gaussian
    law = laws[1]
    x1 = law.axes[0]
    marginal = torch.exp(-0.5 * (x1 - exact.mean[0]) ** 2 / exact.cov[0, 0])
    marginal = marginal / math.sqrt(2 * math.pi * exact.cov[0, 0])
    assert (law.marginal(0) - marginal).abs().max() < 1e-3 * marginal.max()
    cond = gaussian_conditional(exact.mean, exact.cov, 1, 1)
    i = int(torch.argmin((x1 - exact.mean[0]).abs()))
    x2 = law.axes[1]
    centre = cond.gain[0, 0] * x1[i] + cond.offset[0]
    row = torch.exp(-0.5 * (x2 - centre) ** 2 / cond.cov[0, 0]) / torch.sqrt(2 * math.pi * cond.cov[0, 0])
    assert (law.conditional()[i] - row).abs().max() < 1e-3 * row.max()


def ar_setup():
    truth = OUGaussian(**TARGET, err_a=0.3, err_c=-0.2)
    grids = [uniform_grid(3.0, 30, DELTA), uniform_grid(2.5, 25, DELTA)]
    exact = gaussian_ar_sampler_law(truth.conditional_affine_score, (1, 1), grids)
    return truth, grids, exact, truth.ar_target(DELTA)


def test_ar_law_against_exact_gaussian_ar_law_and_chain_rule():
    truth, grids, exact, target = ar_setup()
    kl = gaussian_kl(*target, exact.mean, exact.cov)
    value, values, laws = extrapolated(
        lambda n: grid_ar_sampler_law(truth.conditional_score, grids, box=7.0, n=n),
        lambda law: grid_divergences(law, log_normal(*target)).kl_target_sampler,
        (192, 256),
    )
    assert abs(value - kl) < 1e-3 * kl
    # chain rule on the grid: KL(joint) = KL(prefix marginal) + prefix-averaged conditional KL
    law = laws[1]
    prefix_target = (target[0][:1], target[1][:1, :1])
    cond = gaussian_conditional(*target, 1, 1)

    def conditional_log_prob(x2, x1):
        mean = x1 @ cond.gain.T + cond.offset
        return -0.5 * ((x2 - mean) ** 2 / cond.cov).sum(1) - 0.5 * torch.log(2 * math.pi * cond.cov[0, 0])

    curves = conditional_divergences(law, conditional_log_prob, log_normal(*prefix_target))
    prefix_law = GridLaw(law.axes[:1], law.marginal(0), law.mass_lost)
    prefix_kl = grid_divergences(prefix_law, log_normal(*prefix_target)).kl_target_sampler
    assert abs(prefix_kl + curves.average_kl - values[1]) < 1e-6
    exact_stage2 = gaussian_expected_conditional_kl(*target, exact.mean, exact.cov, 1, 1)
    assert abs(curves.average_kl - exact_stage2) < 0.01 * exact_stage2
    assert curves.worst_kl >= curves.average_kl and curves.region.any()
    assert curves.weight.sum().item() == pytest.approx(1.0)


def test_mass_leaving_the_box_is_reported():
    # a constant score drives the law N(m, v) of the exact recursion against the box edge
    grid = uniform_grid(1.0, 20, 0.0)
    drift = torch.tensor([3.0], dtype=F64)
    exact = gaussian_sampler_law(lambda t: (torch.zeros(1, 1, dtype=F64), drift), grid, 1)
    law = grid_sampler_law(lambda x, t: drift.expand(x.shape[0], 1), grid, 1, box=7.0, n=1024)
    tail = 0.5 * math.erfc((7.0 - exact.mean.item()) / math.sqrt(2 * exact.cov.item()))
    assert tail > 1e-3
    assert law.mass_lost == pytest.approx(tail, rel=0.02)
    assert (law.density.sum() * law.dx).item() == pytest.approx(1 - law.mass_lost)


@pytest.mark.parametrize("prune", [PRUNE, 1e-9])
@pytest.mark.parametrize("ar", [False, True])
def test_pruned_propagation_equals_unpruned_up_to_the_pruned_mass(ar, prune):
    # Deposit and diffusion are linear, nonnegative and create no mass, so dropping mass r_j at
    # step j leaves the pruned masses below the unpruned ones, at L1 distance <= sum_j r_j, which
    # is below steps x (nodes per law) x prune; up to FFT round-off, bounded by eps x the largest
    # node mass per node and step.
    truth = OUGaussian(**TARGET, err_a=0.2, err_c=0.2)
    grid, n = uniform_grid(3.0, 30, DELTA), 128
    steps = grid.numel() - 1
    if ar:
        make = partial(grid_ar_sampler_law, truth.conditional_score, grid, box=7.0, n=n)
        bound = 2 * steps * n * prune  # prefix law, plus the prefix average of the stage laws
    else:
        make = partial(grid_sampler_law, truth.score, grid, 2, box=7.0, n=n)
        bound = steps * n**2 * prune
    full, pruned = make(prune=0.0), make(prune=prune)
    assert full.mass_pruned == 0.0
    assert 0.0 < pruned.mass_pruned <= bound
    assert pruned.mass_lost >= pruned.mass_pruned
    gap = (full.density - pruned.density) * full.cell
    roundoff = torch.finfo(F64).eps * float(full.density.max() * full.cell) * steps
    assert gap.min() >= -roundoff
    assert gap.abs().sum() <= pruned.mass_pruned + n**2 * roundoff


def test_richardson_removes_the_dx_squared_term():
    assert richardson(2 + 3 * 0.2**2, 2 + 3 * 0.1**2, 0.2, 0.1) == pytest.approx(2.0, abs=1e-14)


def test_bad_inputs():
    truth = OUGaussian(**TARGET)
    grid = uniform_grid(1.0, 4, DELTA)
    with pytest.raises(ValueError, match="dim"):
        grid_sampler_law(truth.score, grid, 3, n=16)
    with pytest.raises(ValueError, match="box"):
        grid_sampler_law(truth.score, grid, 2, box=4.0, n=16)
    with pytest.raises(ValueError, match="grid"):
        grid_sampler_law(truth.score, grid.flip(0), 2, n=16)
    with pytest.raises(ValueError, match="scheme"):
        grid_sampler_law(truth.score, grid, 2, n=16, scheme="heun")
    with pytest.raises(ValueError, match="grids"):
        grid_ar_sampler_law(truth.conditional_score, [grid], n=16)
    with pytest.raises(ValueError, match="score"):
        grid_sampler_law(lambda x, t: x[:, :1], grid, 2, n=16)
    with pytest.raises(ValueError, match="prune"):
        grid_sampler_law(truth.score, grid, 2, n=16, prune=-1e-16)
