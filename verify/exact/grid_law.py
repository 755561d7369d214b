"""A sampler's law by density propagation on a grid (docs/math.md section 7), for any score callable.

The box [lo, hi]^d carries n nodes per axis, x_i = lo + i dx with dx = (hi - lo) / (n - 1); the
law is stored as masses w_i = p(x_i) dx^d. Starting from N(0, I) at t_0 = T, each reverse step
y' ~ N(m_j(y), v_j I) with m_j(y) = c_y y + c_s s(y, t_j) (coefficients from
`verify.samplers.kernels.step_kernel`) is applied as

1. deposit: the mass at x_i moves to m_j(x_i), split between the neighbouring nodes by linear
   interpolation (bilinear in 2-D), which preserves the mean of every moved mass exactly;
2. diffusion: convolution with the discrete Gaussian kernel e^{-tau} I_k(tau) (its Fourier symbol
   is exp(-tau (1 - cos w)); positive, total mass 1, variance exactly tau dx^2) by zero-padded FFT,
   separately along each axis.

Deposit variance correction: splitting a point mass between two nodes at fraction f adds variance
f (1 - f) dx^2 per axis, dx^2 / 6 on average over f, so the convolution uses
tau dx^2 = v_j - dx^2 / 6 when that is positive, and no convolution (tau = 0) otherwise
(the deposit alone then already spreads more than v_j). `variance_correction=False` uses v_j.
The remaining error is O(dx^2), which `grid_divergences.richardson` removes to leading order
from two resolutions.

Mass bookkeeping: mass moved or diffused outside the box is dropped and reported as
`GridLaw.mass_lost` (= 1 - the mass left on the grid, start truncation included); nothing is
renormalised. FFT round-off below zero is clipped to 0 after each step.

Pruning: before each step, nodes holding less than `prune` (default 1e-16 of a law of mass 1)
are dropped instead of moved, so the score is evaluated and deposited only where there is mass
(FFT round-off otherwise spreads ~1e-20 over the whole box). The dropped mass is part of
`mass_lost` and reported alone as `GridLaw.mass_pruned`. Deposit and diffusion are linear,
nonnegative and do not create mass, so the pruned masses lie below the unpruned ones and differ
from them in total by at most `mass_pruned` (<= steps x nodes x prune), up to FFT round-off.

Cases: DDPM in d = 1 or 2 (joint), and AR-DM with K = 2 one-dimensional patches, whose stage 2 is
propagated for every grid value of the prefix at once (one 1-D density per prefix row).
Divergences of a `GridLaw` against the exact target live in verify.exact.grid_divergences.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic.validation import DTYPE, check_count
from verify.grids import validate, validate_stages
from verify.samplers.kernels import check_scheme, kernel_steps

START_TAIL = 1e-10  # largest N(0, 1) mass allowed outside the box on each side of each axis
PRUNE = 1e-16  # default: a node holding less mass than this (of a law of mass 1) is dropped


@dataclass(frozen=True)
class GridLaw:
    """A sampler's output density on the node grid `axes` (one 1-D tensor per axis).

    density: (n,) in d = 1, (n, n) in d = 2 with density[i, j] = p^(axes[0][i], axes[1][j]).
    mass_lost: 1 - sum(density) dx^d, the mass that left the box or was pruned (not renormalised).
    stage_density: AR-DM only, (n, n) with row i the propagated stage-2 density
    p^(x2 | x1 = axes[0][i]); stage_mass_lost its per-prefix lost mass (n,).
    mass_pruned: the part of mass_lost dropped at nodes below the pruning threshold (AR-DM: of
    the joint, prefix part plus the prefix-weighted stage part).
    """

    axes: tuple[torch.Tensor, ...]
    density: torch.Tensor
    mass_lost: float
    stage_density: torch.Tensor | None = None
    stage_mass_lost: torch.Tensor | None = None
    mass_pruned: float = 0.0

    @property
    def dim(self) -> int:
        return len(self.axes)

    @property
    def dx(self) -> float:
        axis = self.axes[0]
        return float(axis[1] - axis[0])

    @property
    def cell(self) -> float:
        """Volume dx^d of one grid cell."""
        return self.dx**self.dim

    def points(self) -> torch.Tensor:
        """All nodes as an (n^d, d) tensor, in the order of density.reshape(-1)."""
        return _nodes(self.axes)

    def marginal(self, axis: int) -> torch.Tensor:
        """Density of coordinate `axis` on its grid (the other coordinate summed out)."""
        if self.dim == 1:
            return self.density
        return self.density.sum(dim=1 - axis) * self.dx

    def conditional(self) -> torch.Tensor:
        """p^(x2 | x1) as an (n, n) tensor, row i for x1 = axes[0][i] (d = 2).

        AR-DM: the propagated stage-2 densities. Joint law: density / marginal(0), with rows
        whose marginal underflows to 0 set to 0.
        """
        if self.dim != 2:
            raise ValueError(f"law: conditionals need d = 2, got d = {self.dim}")
        if self.stage_density is not None:
            return self.stage_density
        prefix = self.marginal(0)[:, None]
        return torch.where(prefix > 0, self.density / prefix.clamp_min(1e-300), 0.0)


def _nodes(axes) -> torch.Tensor:
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=1)


def _box(box, n, dim, device) -> tuple[torch.Tensor, ...]:
    """Validate the box against the start law N(0, I) and build the node axes."""
    if dim > 2:
        raise ValueError(f"dim: the grid method handles d <= 2, got {dim}")
    n = check_count("n", n)
    if n < 8:
        raise ValueError(f"n: need at least 8 nodes per axis, got {n}")
    lo, hi = (-float(box), float(box)) if isinstance(box, (int, float)) else map(float, box)
    tail = 0.5 * math.erfc(min(-lo, hi) / math.sqrt(2.0))
    if not (math.isfinite(lo) and math.isfinite(hi)) or tail > START_TAIL:
        raise ValueError(
            f"box: [{lo}, {hi}] must contain the start law N(0, I) at t_0 = T (mass {tail:.2g} "
            f"outside on one side, allowed {START_TAIL:g}); use at least [-6.5, 6.5]"
        )
    axis = torch.linspace(lo, hi, n, dtype=DTYPE, device=device)
    return (axis,) * dim


def _start_mass(axes, rows: int) -> torch.Tensor:
    """N(0, I) masses: (rows, n) for batched 1-D propagation, (n, n) for the 2-D joint."""
    axis = axes[0]
    dx = float(axis[1] - axis[0])
    mass_1d = torch.exp(-0.5 * axis**2) / math.sqrt(2.0 * math.pi) * dx
    if len(axes) == 2:
        return mass_1d[:, None] * mass_1d[None, :]
    return mass_1d.expand(rows, -1).clone()


def _fft_size(m: int) -> int:
    """Smallest 2^a 3^b 5^c >= m (fast FFT lengths)."""
    size = m
    while True:
        rest = size
        for p in (2, 3, 5):
            while rest % p == 0:
                rest //= p
        if rest == 1:
            return size
        size += 1


def _deposit(values, index, cells, shape) -> torch.Tensor:
    """Move values[k] from the flat node index[k] of a `shape` array to the fractional node
    position given per axis by `cells` (None: the axis does not move), split (bi)linearly
    between the neighbouring nodes: one bincount per neighbour, on the flat index of the lower
    one, shifted into place. Mass landing outside the nodes is dropped: positions are clamped to
    [-1, n], so far-away mass lands on the spare nodes -1, n, n + 1 of a padded array."""
    rows, cols = shape
    width = cols + 3
    size = (rows + 3) * width
    corner = index.new_full(index.shape, width + 1)  # padded flat node of the lower neighbour
    parts = [(0, values)]  # (flat offset from corner, mass)
    for axis, (pos, stride) in enumerate(zip(cells, (width, 1), strict=True)):
        if pos is None:
            corner += (index // cols if axis == 0 else index % cols) * stride
            continue
        pos = pos.clamp(-1.0, float(shape[axis]))
        left = pos.floor()
        frac = pos - left
        corner += left.long() * stride
        shares = ((0, 1.0 - frac), (stride, frac))
        parts = [(offset + shift, part * share) for offset, part in parts for shift, share in shares]
    out = values.new_zeros(size)
    for offset, part in parts:
        out[offset:] += torch.bincount(corner, part, minlength=size)[: size - offset]
    return out.view(rows + 3, width)[1 : rows + 1, 1 : cols + 1]


def _symbol(tau: float, size: int, dims: int, device) -> torch.Tensor:
    """Fourier symbol exp(-tau sum_a (1 - cos w_a)) of the discrete Gaussian on the rfftn layout
    of `dims` trailing axes of length `size` (the last one halved)."""
    angle = torch.fft.fftfreq(size, dtype=DTYPE, device=device) * (2 * math.pi)
    half = torch.exp(-tau * (1.0 - torch.cos(angle[: size // 2 + 1])))
    if dims == 1:
        return half
    return torch.exp(-tau * (1.0 - torch.cos(angle)))[:, None] * half[None, :]


def _diffuse(mass: torch.Tensor, tau: float, dims: int, spectra: dict) -> torch.Tensor:
    """Convolve the `dims` trailing axes with the discrete Gaussian of variance tau (in cells),
    zero-padded so that mass diffusing past the box is dropped rather than wrapped around.
    Symbols are cached in `spectra` by tau to 12 significant digits (a relative change of the
    variance below 1e-12), so that the steps of a uniform grid share one."""
    if tau <= 0:
        return mass
    tau = float(f"{tau:.12g}")
    rows, cols = mass.shape
    size = _fft_size(cols + int(math.ceil(12.0 * math.sqrt(tau))) + 4)
    if tau not in spectra:
        spectra[tau] = _symbol(tau, size, dims, mass.device)
    axes, sizes = tuple(range(-dims, 0)), (size,) * dims
    spectrum = torch.fft.rfftn(mass, s=sizes, dim=axes) * spectra[tau]
    return torch.fft.irfftn(spectrum, s=sizes, dim=axes)[:rows, :cols].clamp_min(0.0)


def _propagate(mass, axes, grid, scheme, destination, variance_correction, prune, denoise=False):
    """Apply every step of `grid` to the (rows, cols) masses. Only nodes holding at least
    `prune` move: destination(t, kernel, index) gives m_j per axis at the flat node indices
    `index` (None for an axis that does not move, the prefix); the mass of the other nodes is
    dropped. Returns the masses and the dropped mass per row."""
    lo, dx = float(axes[0][0]), float(axes[0][1] - axes[0][0])
    pruned = mass.new_zeros(mass.shape[0])
    spectra = {}
    for t_from, _, kernel in kernel_steps(grid.tolist(), scheme, denoise):
        keep = mass >= prune
        pruned += torch.where(keep, 0.0, mass).sum(dim=1)
        index = keep.reshape(-1).nonzero().squeeze(1)
        if index.numel() == 0:  # everything dropped: nothing left to move
            return torch.zeros_like(mass), pruned
        moved = destination(t_from, kernel, index)
        cells = tuple(None if m is None else (m - lo) / dx for m in moved)
        mass = _deposit(mass.reshape(-1)[index], index, cells, mass.shape)
        tau = kernel.v / dx**2 - (1.0 / 6.0 if variance_correction else 0.0)
        mass = _diffuse(mass, tau, sum(c is not None for c in cells), spectra)
    return mass, pruned


def _score_values(values, rows: int, cols: int, name: str, t: float) -> torch.Tensor:
    if tuple(values.shape) != (rows, cols):
        raise ValueError(f"{name}: must return shape ({rows}, {cols}), got {tuple(values.shape)}")
    if not torch.isfinite(values).all():
        raise ValueError(f"{name}: returned non-finite values (NaN or inf) at t = {t:.6g}")
    return values.to(DTYPE)


def _check_common(scheme, grids, box, n, dim, device, prune, num_stages=None):
    check_scheme(scheme)
    if not 0.0 <= prune < 1.0:
        raise ValueError(f"prune: must be a mass threshold in [0, 1), got {prune}")
    grids = validate(grids) if num_stages is None else validate_stages(grids, num_stages)
    return grids, _box(box, n, dim, device)


def grid_sampler_law(
    score,
    grid,
    dim: int,
    box=8.0,
    n: int = 512,
    scheme: str = "ei",
    variance_correction: bool = True,
    device=None,
    prune: float = PRUNE,
    denoise: bool = False,
) -> GridLaw:
    """Output density of the DDPM-type sampler with `score(x, t) -> (m, d)` in d = 1 or 2,
    started at N(0, I) on `grid`, on n nodes per axis of the box [-box, box]^d (or
    [box[0], box[1]]^d). Nodes holding less than `prune` mass are dropped (`mass_pruned`).
    With `denoise`, the law after the final Tweedie step (a deposit without diffusion)."""
    dim = check_count("dim", dim)
    grid, axes = _check_common(scheme, grid, box, n, dim, device, prune)
    nodes = _nodes(axes)

    def destination(t, kernel, index):
        points = nodes[index]
        drift = _score_values(score(points, t), index.shape[0], dim, "score", t)
        moved = kernel.c_y * points + kernel.c_s * drift
        columns = [moved[:, a] for a in range(dim)]
        return (None, columns[0]) if dim == 1 else tuple(columns)

    start = _start_mass(axes, 1)
    mass, pruned = _propagate(start, axes, grid, scheme, destination, variance_correction, prune, denoise)
    density = mass.reshape((n,) * dim) / (axes[0][1] - axes[0][0]) ** dim
    return GridLaw(axes, density, 1.0 - float(mass.sum()), mass_pruned=float(pruned.sum()))


def grid_ar_sampler_law(
    conditional_score,
    grids,
    box=8.0,
    n: int = 512,
    scheme: str = "ei",
    variance_correction: bool = True,
    device=None,
    prune: float = PRUNE,
    denoise: bool = False,
) -> GridLaw:
    """Output density of the AR-DM sampler with K = 2 one-dimensional patches.

    conditional_score(k, x_k, prefix, t) -> (m, 1); stage 1 (k = 0, empty prefix) is a 1-D
    propagation, stage 2 (k = 1) propagates one 1-D density per prefix grid value x1 at once, and
    the joint density is p^(x1) p^(x2 | x1). `grids`: one grid, or one per stage. Nodes holding
    less than `prune` mass of their 1-D law are dropped. With `denoise`, each stage ends with its
    Tweedie step, and stage 2 is conditioned on the denoised prefix (as `sample_ar` does).
    """
    grids, axes = _check_common(scheme, grids, box, n, 2, device, prune, num_stages=2)
    axis = axes[0]
    dx = float(axis[1] - axis[0])
    nodes = _nodes(axes)  # (prefix x1, patch x2) pairs

    def stage(k):
        def destination(t, kernel, index):
            points = nodes[index] if k else axis[index, None]
            values = conditional_score(k, points[:, k:], points[:, :k], t)
            drift = _score_values(values, index.shape[0], 1, "conditional_score", t)
            return None, kernel.c_y * points[:, k] + kernel.c_s * drift[:, 0]

        start = _start_mass(axes[:1], n if k else 1)
        return _propagate(start, axes, grids[k], scheme, destination, variance_correction, prune, denoise)

    (prefix, prefix_pruned), (stage_mass, stage_pruned) = stage(0), stage(1)
    prefix_density, stage_density = prefix[0] / dx, stage_mass / dx
    density = prefix_density[:, None] * stage_density
    return GridLaw(
        axes,
        density,
        1.0 - float(density.sum()) * dx * dx,
        stage_density=stage_density,
        stage_mass_lost=1.0 - stage_mass.sum(dim=1),
        mass_pruned=float(prefix_pruned.sum() + prefix[0] @ stage_pruned),
    )
