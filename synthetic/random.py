"""Random draws that honour a generator on any device.

Numbers are drawn on the generator's own device and then moved, so a CPU `torch.Generator` drives
CUDA computations too and a seed gives the same numbers whichever device computes.
"""

from __future__ import annotations

import torch

from synthetic.validation import DTYPE


def _draw(kind, shape, generator: torch.Generator | None, device, dtype) -> torch.Tensor:
    source = generator.device if generator is not None else device
    values = kind(shape, dtype=dtype, device=source, generator=generator)
    return values if device is None else values.to(device)


def standard_normal(
    shape, generator: torch.Generator | None = None, device=None, dtype=DTYPE
) -> torch.Tensor:
    """N(0, I) of `shape` on `device` (default: the generator's device, else CPU)."""
    return _draw(torch.randn, shape, generator, device, dtype)


def standard_uniform(
    shape, generator: torch.Generator | None = None, device=None, dtype=DTYPE
) -> torch.Tensor:
    """U[0, 1) of `shape` on `device` (default: the generator's device, else CPU)."""
    return _draw(torch.rand, shape, generator, device, dtype)
