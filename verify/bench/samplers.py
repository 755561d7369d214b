"""NFE and wall time of AR-DM versus DDPM as the number of patches K grows (claim 6).

Data: a linear-Gaussian chain in d = 8 split into K patches of size 8/K, exact (closed-form)
scores; DDPM runs N steps on the joint, AR-DM runs N steps per stage (equal steps per stage).
Printed side by side; no target.
"""

from __future__ import annotations

import torch

from synthetic import LinearGaussianChain
from verify.grids import uniform
from verify.samplers import sample, sample_ar
from verify.timing import best_time

DIM, STEPS, SAMPLES = 8, 50, 1000


def _chain(num_patches: int) -> LinearGaussianChain:
    p = DIM // num_patches
    eye = torch.eye(p, dtype=torch.float64)
    mean, offset = torch.ones(p), 0.1 * torch.ones(p)
    return LinearGaussianChain(num_patches, mean, eye, 0.8 * eye, offset, 0.36 * eye)


def main() -> None:
    grid = uniform(5.0, STEPS, 1e-3)
    print(f"d = {DIM}, N = {STEPS} steps per stage, n = {SAMPLES}, exact scores, EI, CPU")
    print("  K  NFE ddpm  NFE ar  ratio   ddpm s     ar s  ratio")
    for num_patches in (1, 2, 4, 8):
        chain = _chain(num_patches)
        gen = torch.Generator()

        def run_ddpm(chain=chain, gen=gen):
            return sample(chain.score, grid, SAMPLES, DIM, generator=gen.manual_seed(0))

        def run_ar(chain=chain, gen=gen):
            return sample_ar(
                chain.conditional_score, chain.patch_sizes, grid, SAMPLES,
                generator=gen.manual_seed(0), return_info=True,
            )  # fmt: skip

        nfe_ar = run_ar()[1]["nfe_total"]
        time_ddpm, time_ar = best_time(run_ddpm), best_time(run_ar)
        print(
            f"{num_patches:>3} {STEPS:>9} {nfe_ar:>7} {nfe_ar / STEPS:>6.2f} "
            f"{time_ddpm:>8.4f} {time_ar:>8.4f} {time_ar / time_ddpm:>6.2f}"
        )
