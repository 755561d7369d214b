"""The protocol every ground-truth distribution implements (DESIGN.md, "Public API").

All methods are vectorised over a batch, torch float64, with t the OU forward time (t = 0 is data):
q_t = Law(a_t X_0 + s_t Z). Conditionals are of patch k (0-based) given the *clean* prefix
x^{<k}, with OU noise applied to patch k only.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import torch

from synthetic.ou import ou_scale, ou_variance
from synthetic.random import standard_normal
from synthetic.validation import DTYPE, check_count, check_patch_sizes, check_points, check_time


class Distribution(ABC):
    """Base class: validation, patch bookkeeping and OU noising shared by all families.

    Subclasses set `dim` and `patch_sizes` (via `_set_patches`) and implement the abstract
    methods on already-validated inputs (the underscore methods).
    """

    dim: int
    patch_sizes: tuple[int, ...]

    def _set_patches(self, dim: int, patch_sizes) -> None:
        self.dim = int(dim)
        self.patch_sizes = check_patch_sizes(patch_sizes, self.dim)
        bounds = [0]
        for size in self.patch_sizes:
            bounds.append(bounds[-1] + size)
        self.patch_bounds = tuple(bounds)

    @property
    def num_patches(self) -> int:
        return len(self.patch_sizes)

    def patch_slice(self, k: int) -> slice:
        """Columns of patch k in the flat vector."""
        return slice(self.patch_bounds[k], self.patch_bounds[k + 1])

    def to(self, device) -> Distribution:
        """A copy whose tensors (and nested distributions) live on `device`."""
        clone = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, (torch.Tensor, Distribution)):
                setattr(clone, name, value.to(device))
            elif isinstance(value, (list, tuple)) and any(isinstance(v, Distribution) for v in value):
                setattr(clone, name, type(value)(v.to(device) for v in value))
        return clone

    def split(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(n, d) -> list of K patches (n, d_k)."""
        return list(torch.split(x, self.patch_sizes, dim=-1))

    # ----- unconditional -------------------------------------------------------------------

    def sample(self, n: int, t: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """n draws from q_t: a_t X_0 + s_t Z with X_0 ~ q_0."""
        n, t = check_count("n", n), check_time(t)
        x0 = self._sample_data(n, generator)
        return self._noise(x0, t, generator)

    def log_prob(self, x, t: float = 0.0) -> torch.Tensor:
        """log q_t(x), shape (n,)."""
        return self._log_prob(check_points("x", x, self.dim), check_time(t))

    def score(self, x, t: float = 0.0) -> torch.Tensor:
        """grad_x log q_t(x), shape (n, d)."""
        return self._score(check_points("x", x, self.dim), check_time(t))

    # ----- conditionals on a clean prefix ----------------------------------------------------

    def conditional_log_prob(self, k: int, x_k, prefix, t: float = 0.0) -> torch.Tensor:
        """log q_t(x^k | x^{<k}) with OU noise on patch k only, shape (n,)."""
        k, x_k, prefix, t = self._check_conditional(k, x_k, prefix, t)
        return self._conditional_log_prob(k, x_k, prefix, t)

    def conditional_score(self, k: int, x_k, prefix, t: float = 0.0) -> torch.Tensor:
        """grad_{x^k} log q_t(x^k | x^{<k}), shape (n, d_k)."""
        k, x_k, prefix, t = self._check_conditional(k, x_k, prefix, t)
        return self._conditional_score(k, x_k, prefix, t)

    def conditional_sample(
        self, k: int, prefix, t: float = 0.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One draw of patch k per prefix row from q_t(. | x^{<k}), shape (n, d_k)."""
        k = self._check_patch_index(k)
        prefix = self._check_prefix(k, prefix)
        t = check_time(t)
        x0 = self._conditional_sample_data(k, prefix, generator)
        return self._noise(x0, t, generator)

    # ----- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _noise(x0: torch.Tensor, t: float, generator: torch.Generator | None) -> torch.Tensor:
        if t == 0.0:
            return x0
        z = standard_normal(x0.shape, generator, x0.device)
        return ou_scale(t) * x0 + ou_variance(t) ** 0.5 * z

    def _check_patch_index(self, k) -> int:
        if isinstance(k, bool) or int(k) != k or not 0 <= k < self.num_patches:
            raise ValueError(f"k: patch index must be an integer in [0, {self.num_patches}), got {k!r}")
        return int(k)

    def _check_prefix(self, k: int, prefix) -> torch.Tensor:
        prefix = torch.as_tensor(prefix)
        width = self.patch_bounds[k]
        if prefix.ndim != 2 or prefix.shape[1] != width:
            raise ValueError(f"prefix: patch {k} needs shape (n, {width}), got {tuple(prefix.shape)}")
        if not torch.isfinite(prefix).all():
            raise ValueError("prefix: contains NaN or infinite values")
        return prefix.to(DTYPE)

    def _check_conditional(self, k, x_k, prefix, t):
        k = self._check_patch_index(k)
        x_k = check_points("x_k", x_k, self.patch_sizes[k])
        prefix = self._check_prefix(k, prefix)
        if prefix.shape[0] != x_k.shape[0]:
            raise ValueError(f"prefix: must have as many rows as x_k ({x_k.shape[0]}), got {prefix.shape[0]}")
        return k, x_k, prefix, check_time(t)

    # ----- to implement ----------------------------------------------------------------------

    @abstractmethod
    def _sample_data(self, n: int, generator: torch.Generator | None) -> torch.Tensor: ...

    @abstractmethod
    def _log_prob(self, x: torch.Tensor, t: float) -> torch.Tensor: ...

    @abstractmethod
    def _score(self, x: torch.Tensor, t: float) -> torch.Tensor: ...

    @abstractmethod
    def _conditional_log_prob(self, k: int, x_k, prefix, t: float) -> torch.Tensor: ...

    @abstractmethod
    def _conditional_score(self, k: int, x_k, prefix, t: float) -> torch.Tensor: ...

    @abstractmethod
    def _conditional_sample_data(self, k: int, prefix, generator) -> torch.Tensor: ...
