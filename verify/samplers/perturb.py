"""Score perturbations with known error fields: s~ = s + e, so that
eps_score^2 = sum_j h_j E || e(X_{t_j}, t_j) ||^2, X_{t_j} ~ q_{t_j} (docs/math.md section 5), is known.

Each wrapper takes an exact score, either plain s(x, t) -> (n, d) or, when `patch_sizes` is
given, conditional s(k, x^k, x^{<k}, t) -> (n, d_k), and is itself a score of the same kind.
The error field e(z, t) lives on the joint vector z in R^d; for the conditional score of patch k
it is evaluated at z = (x^{<k}, x^k, 0, ..., 0) and restricted to patch k's coordinates.

Where the wrapper keeps an affine score affine (Bias, Scaling, LinearField), it maps the exact
score's coefficients to the perturbed one's, in the conventions of synthetic's
`affine_score(t) -> (A, c)`, s(x, t) = x A^T + c, and `conditional_affine_score(k, t) -> (A, B, c)`,
s(k, x^k, x^{<k}, t) = x^k A^T + x^{<k} B^T + c: `affine(A, c, t)` and
`conditional_affine(k, A, B, c, t)`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from synthetic.patches import Patches
from synthetic.validation import DTYPE, as_tensor, check_count, check_points
from verify.grids import validate
from verify.samplers.ddpm import check_callable

__all__ = [
    "Bias",
    "FourierField",
    "LinearField",
    "Perturbed",
    "RotationField",
    "Scaling",
    "eps_score_squared",
]


class Perturbed(ABC):
    """s~ = s + e for an exact score s (plain, or conditional when patch_sizes is given)."""

    dim: int | None = None  # dimension d of the field; None: any (a plain Scaling)

    def __init__(self, score, patch_sizes=None):
        self.score = check_callable("score", score)
        self.layout = None
        if patch_sizes is not None:
            self.layout = Patches(patch_sizes) if self.dim is None else Patches.of(self.dim, patch_sizes)
            self.dim = self.layout.dim

    @property
    def patch_sizes(self) -> tuple[int, ...] | None:
        """(d_1, ..., d_K) of a conditional score; None for a plain one."""
        return None if self.layout is None else self.layout.sizes

    def __call__(self, *args) -> torch.Tensor:
        exact, error = self._exact_and_error(args)
        return exact + error

    def error(self, *args) -> torch.Tensor:
        """e = perturbed - exact at the same arguments as the score."""
        return self._exact_and_error(args)[1]

    def affine(self, A, c, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(A', c') of the perturbed plain score from (A, c) of the exact one, at time t."""
        if self.patch_sizes is not None:
            raise ValueError("affine: the score is conditional, use conditional_affine")
        A = as_tensor("A", A, ndim=2)
        A, _, c = self._affine(*self._check_affine(A, None, c, slice(0, A.shape[0])))
        return A, c

    def conditional_affine(self, k: int, A, B, c, t: float):
        """(A', B', c') of the perturbed conditional score of patch k from (A, B, c)."""
        if self.patch_sizes is None:
            raise ValueError("conditional_affine: the score is plain, use affine")
        return self._affine(*self._check_affine(A, B, c, self._cols(k)))

    def _affine(self, A, B, c, cols):
        raise NotImplementedError(f"{type(self).__name__} does not keep affine scores affine")

    def _exact_and_error(self, args):
        if self.patch_sizes is None:
            if len(args) != 2:
                raise ValueError(f"score: takes (x, t), got {len(args)} arguments")
            x, t = args
            width = self.dim if self.dim is not None else torch.as_tensor(x).shape[-1]
            z = x = check_points("x", x, width)
            cols = slice(0, x.shape[1])
        else:
            if len(args) != 4:
                raise ValueError(f"score: takes (k, x_k, prefix, t), got {len(args)} arguments")
            k, x, prefix, t = args
            cols = self._cols(k)
            x = check_points("x_k", x, cols.stop - cols.start)
            z = torch.cat([check_points("prefix", prefix, cols.start), x], dim=1)
        exact = self.score(*args)
        return exact, self._field(z, exact, cols, float(t)).to(exact.dtype)

    def _cols(self, k) -> slice:
        if isinstance(k, bool) or int(k) != k or not 0 <= k < len(self.layout):
            raise ValueError(f"k: must be an integer in [0, {len(self.layout)}), got {k!r}")
        return self.layout.slice(int(k))

    def _check_affine(self, A, B, c, cols):
        """Validated (A, B, c, cols); B = (d_k, 0) for a plain score, whose cols are all of x."""
        size = cols.stop - cols.start
        A, c = as_tensor("A", A, ndim=2), as_tensor("c", c, ndim=1)
        B = A.new_zeros(size, 0) if B is None else as_tensor("B", B, ndim=2)
        if self.dim is not None and self.patch_sizes is None and size != self.dim:
            raise ValueError(f"A: the field has dimension {self.dim}, got shape {tuple(A.shape)}")
        shapes = {"A": (size, size), "B": (size, cols.start), "c": (size,)}
        for name, value in (("A", A), ("B", B), ("c", c)):
            if value.shape != shapes[name]:
                raise ValueError(f"{name}: expected shape {shapes[name]}, got {tuple(value.shape)}")
        return A, B, c, cols

    @abstractmethod
    def _field(self, z: torch.Tensor, exact: torch.Tensor, cols: slice, t: float) -> torch.Tensor:
        """e(z, t) on columns `cols`; z holds the leading coordinates (the others are 0)."""


class Bias(Perturbed):
    """e = b, a constant vector in R^d."""

    def __init__(self, score, b, patch_sizes=None):
        self.b = as_tensor("b", b, ndim=1)
        self.dim = self.b.numel()
        super().__init__(score, patch_sizes)

    def _field(self, z, exact, cols, t):
        return self.b[cols].to(z.device).expand(z.shape[0], -1)

    def _affine(self, A, B, c, cols):
        return A, B, c + self.b[cols]


class Scaling(Perturbed):
    """s~ = (1 + c) s, i.e. e = c s."""

    def __init__(self, score, c: float, patch_sizes=None):
        self.c = float(as_tensor("c", c, ndim=0))
        super().__init__(score, patch_sizes)

    def _field(self, z, exact, cols, t):
        return self.c * exact

    def _affine(self, A, B, c, cols):
        return (1 + self.c) * A, (1 + self.c) * B, (1 + self.c) * c


class LinearField(Perturbed):
    """e(z) = z G^T with G a (d, d) matrix (antisymmetric G: a rotation, not a gradient)."""

    def __init__(self, score, G, patch_sizes=None):
        self.G = _square("G", G)
        self.dim = self.G.shape[0]
        super().__init__(score, patch_sizes)

    def _field(self, z, exact, cols, t):
        return z @ self.G[cols, : z.shape[1]].to(z.device).T

    def _affine(self, A, B, c, cols):
        return A + self.G[cols, cols], B + self.G[cols, : cols.start], c


class RotationField(Perturbed):
    """e(z) = eps tanh(z R^T) with R antisymmetric: smooth, |e_i| <= |eps|, not a gradient."""

    def __init__(self, score, R, eps: float, patch_sizes=None):
        self.R = _square("R", R)
        if not torch.allclose(self.R, -self.R.T, rtol=0, atol=1e-12):
            raise ValueError("R: must be antisymmetric (R = -R^T)")
        self.eps = float(as_tensor("eps", eps, ndim=0))
        self.dim = self.R.shape[0]
        super().__init__(score, patch_sizes)

    def _field(self, z, exact, cols, t):
        return self.eps * torch.tanh(z @ self.R[cols, : z.shape[1]].to(z.device).T)


class FourierField(Perturbed):
    """e(z) = eps sqrt(2/m) sum_{i<=m} a_i cos(w_i . z + phi_i): a fixed smooth random field from
    m random Fourier features, a_i ~ N(0, I_d), w_i ~ N(0, bandwidth^2 I_d), phi_i ~ U[0, 2 pi),
    all drawn once from `generator`; each coordinate has mean square about eps^2."""

    def __init__(
        self, score, dim: int, eps: float, num_features: int = 64, bandwidth: float = 1.0,
        generator: torch.Generator | None = None, patch_sizes=None,
    ):  # fmt: skip
        self.dim = check_count("dim", dim)
        m = check_count("num_features", num_features)
        self.eps = float(as_tensor("eps", eps, ndim=0))
        bandwidth = float(as_tensor("bandwidth", bandwidth, ndim=0))
        if bandwidth <= 0:
            raise ValueError(f"bandwidth: must be > 0, got {bandwidth}")
        self.a = torch.randn((m, self.dim), dtype=DTYPE, generator=generator) * math.sqrt(2 / m)
        self.w = torch.randn((m, self.dim), dtype=DTYPE, generator=generator) * bandwidth
        self.phi = torch.rand(m, dtype=DTYPE, generator=generator) * 2 * math.pi
        super().__init__(score, patch_sizes)

    def _field(self, z, exact, cols, t):
        w, phi, a = (p.to(z.device) for p in (self.w, self.phi, self.a))
        return self.eps * torch.cos(z @ w[:, : z.shape[1]].T + phi) @ a[:, cols]


def _square(name: str, matrix) -> torch.Tensor:
    matrix = as_tensor(name, matrix, ndim=2)
    if matrix.shape[0] != matrix.shape[1] or matrix.shape[0] == 0:
        raise ValueError(f"{name}: must be a non-empty square matrix, got {tuple(matrix.shape)}")
    return matrix


def eps_score_squared(
    error, distribution, grid: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> tuple[float, float]:
    """Monte Carlo eps_score^2 = sum_j h_j E || error(X_{t_j}, t_j) ||^2, X_{t_j} ~ q_{t_j} drawn
    exactly by `distribution.sample` (n independent draws per grid time t_0..t_{N-1}).
    Returns (value, standard error)."""
    check_callable("error", error)
    grid = validate(grid)
    if check_count("n", n) < 2:
        raise ValueError(f"n: need at least 2 draws for a standard error, got {n}")
    times = grid.tolist()
    value, variance = 0.0, 0.0
    for t_from, t_to in zip(times[:-1], times[1:], strict=True):
        sq = (error(distribution.sample(n, t_from, generator), t_from) ** 2).sum(dim=1)
        h = t_from - t_to
        value += h * float(sq.mean())
        variance += h**2 * float(sq.var()) / n
    return value, math.sqrt(variance)
