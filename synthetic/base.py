"""The protocol every ground-truth distribution implements (docs/design.md, "Public API").

All methods are vectorised over a batch, torch float64, with t the OU forward time (t = 0 is data):
q_t = Law(a_t X_0 + s_t Z). Conditionals are of patch k (0-based) given the *clean* prefix
x^{<k}, with OU noise applied to patch k only.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import torch

from synthetic.ou import ou_scale, ou_variance
from synthetic.patches import Patches
from synthetic.random import standard_normal
from synthetic.validation import DTYPE, check_count, check_points, check_time


class Distribution(ABC):
    """Base class: validation, patch bookkeeping and OU noising shared by all families.

    Subclasses set `dim` and the patch layout (via `_set_patches`), implement the abstract methods
    on already-validated inputs (the underscore methods), and declare their capabilities below;
    callers ask these, never isinstance or hasattr, so a new family touches only `synthetic/`.
    """

    dim: int
    layout: Patches

    # ----- capabilities (declared by each family; the defaults promise nothing extra) ---------

    has_hessian: bool = False
    """`hessian(x, t)`: grad^2 log q_t in closed form, (n, d, d)."""
    has_moments: bool = False
    """`mean()`, `covariance()` and `second_moment()` = E||X_0||^2 in closed form."""
    has_patch_marginals: bool = False
    """`patch_marginal(start, stop)`: the law of patches start..stop-1 as a Distribution."""

    @property
    def is_gaussian(self) -> bool:
        """q_0 is one Gaussian, and `affine_score(t)` / `conditional_affine_score(k, t)` give its
        scores as affine maps (docs/math.md section 3)."""
        return False

    @property
    def component_means(self) -> torch.Tensor | None:
        """The (M, d) component means when q_0 is an explicit mixture of M components, else None."""
        return None

    # ----- patches ----------------------------------------------------------------------------

    def _set_patches(self, dim: int, patch_sizes) -> None:
        self.dim = int(dim)
        self.layout = Patches.of(self.dim, patch_sizes)

    @property
    def patch_sizes(self) -> tuple[int, ...]:
        """(d_1, ..., d_K)."""
        return self.layout.sizes

    @property
    def patch_bounds(self) -> tuple[int, ...]:
        """Offsets (0, d_1, d_1 + d_2, ..., d): patch k is columns patch_bounds[k]..patch_bounds[k+1]-1."""
        return self.layout.offsets

    @property
    def num_patches(self) -> int:
        return len(self.layout)

    def patch_slice(self, k: int) -> slice:
        """Columns of patch k in the flat vector."""
        return self.layout.slice(k)

    def patch_marginal(self, start: int, stop: int) -> Distribution:
        """The law of patches start..stop-1 (0 <= start < stop <= K), those patches as its own,
        for families with `has_patch_marginals`."""
        if not self.has_patch_marginals:
            raise ValueError(f"dist: {type(self).__name__} declares no patch marginals (has_patch_marginals)")
        K = self.num_patches
        if isinstance(start, bool) or int(start) != start or not 0 <= start < K:
            raise ValueError(f"start: must be an integer in [0, {K}), got {start!r}")
        if isinstance(stop, bool) or int(stop) != stop or not start < stop <= K:
            raise ValueError(f"stop: must be an integer in ({start}, {K}], got {stop!r}")
        return self._patch_marginal(int(start), int(stop))

    def _patch_marginal(self, start: int, stop: int) -> Distribution:
        raise NotImplementedError  # families with has_patch_marginals = True override this

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
        return self.layout.split(x)

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
        width = self.layout.offsets[k]
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
