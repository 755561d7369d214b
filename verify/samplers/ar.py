"""AR-DM sampling: patches k = 0..K-1 in order; stage k runs the DDPM stepping loop
(verify.samplers.ddpm.run_chain) on patch k alone, from y ~ N(0, I_{d_k}) at its grid's T, with
the conditional score s(k, x^k, x^{<k}, t) and the prefix x^{<k} already generated (clean).
Stage k costs N_k = len(grids[k]) - 1 score evaluations; the total NFE is sum_k N_k. With
`denoise`, each stage ends with the Tweedie step E[x^k_0 | x^k_delta] (one more evaluation per
stage), so later stages are conditioned on denoised prefixes, as they were trained (clean prefixes).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from synthetic.random import standard_normal
from synthetic.validation import DTYPE, check_count, check_patch_sizes
from verify.grids import validate_stages
from verify.samplers.ddpm import StepRecord, check_callable, run_chain
from verify.samplers.kernels import check_scheme

__all__ = ["sample_ar"]


def _check_sizes(patch_sizes) -> tuple[int, ...]:
    try:
        sizes = tuple(patch_sizes)
        total = sum(int(s) for s in sizes)
    except (TypeError, ValueError):
        raise ValueError(f"patch_sizes: must be integers, got {patch_sizes!r}") from None
    if not sizes:
        raise ValueError("patch_sizes: need at least one patch")
    return check_patch_sizes(sizes, total)


def sample_ar(
    score: Callable[[int, torch.Tensor, torch.Tensor, float], torch.Tensor],
    patch_sizes,
    grids,
    n: int,
    scheme: str = "ei",
    generator: torch.Generator | None = None,
    callback: Callable[[StepRecord], None] | None = None,
    device: str | torch.device = "cpu",
    return_info: bool = False,
    denoise: bool = False,
):
    """n samples (n, d), d = sum(patch_sizes), generated patch by patch; `grids` is one grid for
    every stage or a list of K grids. With return_info, also
    {"nfe_per_stage": [N_0, ..., N_{K-1}], "nfe_total": sum_k N_k}."""
    check_callable("score", score)
    patch_sizes = _check_sizes(patch_sizes)
    grids = validate_stages(grids, len(patch_sizes))
    n = check_count("n", n)
    scheme = check_scheme(scheme)
    check_callable("callback", callback, optional=True)

    patches = [torch.zeros((n, 0), dtype=DTYPE, device=device)]
    for k, (size, grid) in enumerate(zip(patch_sizes, grids, strict=True)):
        prefix = torch.cat(patches, dim=1)

        def stage_score(x: torch.Tensor, t: float, k: int = k, prefix: torch.Tensor = prefix):
            return score(k, x, prefix, t)

        y = standard_normal((n, size), generator, device)
        patches.append(
            run_chain(stage_score, grid, y, scheme, generator, callback, stage=k, denoise=bool(denoise))
        )
    x = torch.cat(patches, dim=1)
    if not return_info:
        return x
    nfe = [len(g) - 1 + (bool(denoise) and float(g[-1]) > 0) for g in grids]
    return x, {"nfe_per_stage": nfe, "nfe_total": sum(nfe)}
