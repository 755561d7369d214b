"""The patch layout of x = (x^1, ..., x^K) in R^d (docs/math.md section 1), in one value.

Patch k (0-based) holds the columns offsets[k] .. offsets[k+1] - 1, with offsets[0] = 0 and
offsets[k+1] = offsets[k] + d_k; the prefix x^{<k} is the first offsets[k] columns.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import torch

from synthetic.validation import check_patch_sizes


@dataclass(frozen=True)
class Patches:
    """Sizes d_1..d_K (positive integers; errors name `patch_sizes`), their offsets, and the
    columns of patches and prefixes. `Patches.of(dim, sizes)` also checks sum_k d_k = dim, and
    `Patches.of(dim)` is one patch."""

    sizes: tuple[int, ...]
    offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        sizes = check_patch_sizes(self.sizes, None)
        offsets = [0]
        for size in sizes:
            offsets.append(offsets[-1] + size)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "offsets", tuple(offsets))

    @classmethod
    def of(cls, dim: int, sizes=None) -> Patches:
        """The layout of R^dim: `sizes` (which must sum to dim), or one patch when None."""
        return cls(check_patch_sizes(sizes, dim))

    def __len__(self) -> int:
        return len(self.sizes)

    @property
    def dim(self) -> int:
        """d = sum_k d_k."""
        return self.offsets[-1]

    def slice(self, k: int) -> builtins.slice:
        """Columns of patch k."""
        return builtins.slice(self.offsets[k], self.offsets[k + 1])

    def span(self, start: int, stop: int) -> builtins.slice:
        """Columns of patches start .. stop - 1 together."""
        return builtins.slice(self.offsets[start], self.offsets[stop])

    def patch(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """x^k: the columns of patch k of x (..., d)."""
        return x[..., self.slice(k)]

    def prefix(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """x^{<k}: the first offsets[k] columns of x (..., d) (empty for k = 0)."""
        return x[..., : self.offsets[k]]

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(..., d) -> [x^1, ..., x^K], patch k of shape (..., d_k)."""
        return list(torch.split(x, self.sizes, dim=-1))
