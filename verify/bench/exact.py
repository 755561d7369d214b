"""Grid propagation benchmark (issue 4): 2-D, 200 EI steps, T = 3, delta = 0.01, box [-8, 8]^2.

1. Wall time at 512 x 512 with the exact score of a two-component Gaussian mixture (best of 3
   after a warm-up), split into the time spent inside the score callable and the rest (deposit,
   diffusion, pruning), with the mass dropped by pruning and the mass lost in all.
2. Accuracy: relative error of KL(q_delta || p^) on a 2-D Gaussian target with its exact affine
   score, where the exact value comes from the Gaussian recursion, at 256/512/1024 nodes per
   axis, and Richardson-extrapolated from 256/512 and 512/1024.
"""

from __future__ import annotations

import time

import torch

from synthetic.gaussian_mixture import GaussianMixture
from synthetic.ou import ou_scale, ou_variance
from synthetic.validation import DTYPE
from verify.exact import gaussian_sampler_law, grid_divergences, grid_sampler_law, richardson
from verify.grids import uniform
from verify.metrics import gaussian_kl
from verify.timing import best_time

GRID = uniform(3.0, 200, 0.01)
BOX = 8.0
MEAN, COV = [1.0, -0.5], [[0.8, 0.3], [0.3, 0.4]]


def timed(score):
    """score wrapped to accumulate its own wall time in the returned list's first entry."""
    spent = [0.0]

    def wrapped(x, t):
        start = time.perf_counter()
        values = score(x, t)
        spent[0] += time.perf_counter() - start
        return values

    return wrapped, spent


def main() -> None:
    mixture = GaussianMixture(
        [0.3, 0.7],
        [[1.5, -1.0], [-1.0, 1.0]],
        [[[0.3, 0.1], [0.1, 0.2]], [[0.5, -0.2], [-0.2, 0.4]]],
    )
    print(f"torch threads: {torch.get_num_threads()}")
    seconds = best_time(lambda: grid_sampler_law(mixture.score, GRID, 2, box=BOX, n=512), 3)
    print(f"mixture score, 512 x 512, 200 EI steps: {seconds:.2f} s best of 3 (target < 5 s)")
    score, spent = timed(mixture.score)
    start = time.perf_counter()
    law = grid_sampler_law(score, GRID, 2, box=BOX, n=512)
    total = time.perf_counter() - start
    print(
        f"  one more run: {total:.2f} s, of which {spent[0]:.2f} s inside the score callable; "
        f"mass pruned {law.mass_pruned:.1e}, mass lost {law.mass_lost:.1e}"
    )

    gaussian = GaussianMixture([1.0], [MEAN], [COV])
    exact = gaussian_sampler_law(gaussian.affine_score, GRID, 2)
    delta = float(GRID[-1])
    scale, variance = ou_scale(delta), ou_variance(delta)
    target_cov = scale**2 * torch.tensor(COV, dtype=DTYPE) + variance * torch.eye(2, dtype=DTYPE)
    exact_kl = gaussian_kl(scale * torch.tensor(MEAN, dtype=DTYPE), target_cov, exact.mean, exact.cov)
    print(f"exact KL(q_delta || p^) = {exact_kl:.8f} (Gaussian target, exact score)")
    values, spacings = {}, {}
    for n in (256, 512, 1024):
        start = time.perf_counter()
        grid_law = grid_sampler_law(gaussian.score, GRID, 2, box=BOX, n=n)
        elapsed = time.perf_counter() - start
        divergences = grid_divergences(grid_law, lambda x: gaussian.log_prob(x, delta))
        values[n], spacings[n] = divergences.kl_target_sampler, grid_law.dx
        error = (values[n] - exact_kl) / exact_kl
        print(
            f"n = {n:4d}: KL {values[n]:.8f}, relative error {error:+.2e}, mass lost "
            f"{grid_law.mass_lost:.1e} (pruned {grid_law.mass_pruned:.1e}), {elapsed:.1f} s"
        )
    for coarse, fine in ((256, 512), (512, 1024)):
        value = richardson(values[coarse], values[fine], spacings[coarse], spacings[fine])
        error = (value - exact_kl) / exact_kl
        print(f"Richardson {coarse}/{fine}: KL {value:.8f}, relative error {error:+.2e}")
