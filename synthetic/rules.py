"""The seed paper's rule datasets (docs/math.md section 8) on their geometric parameters, with exact truth.

Each task draws free parameters theta from a product of uniform-interval mixtures and maps them
to a geometry g = f(theta) (lengths in units of the image side). The parametric form observes
x = (g - centre) / UNIT + sigma Z, Z ~ N(0, I), split into patches the way the image shows it.

- sun-shadow: theta = (pole height h ~ U[0.2, 0.4], sun offset s = x_sun - x_pole, |s| in the
  near [0.15, 0.25] or far [0.30, 0.40] interval, left or right, each of the four w.p. 1/4).
  Sun height H = clip(2h, 0.3, 0.8) (the clip never binds on this range, so H - h = h and the
  shadow is L = |s|: the ground patch is an affine function of the sky patch), shadow length
  L = h |s| / (H - h), cast away from the sun. g = (s, H | h, -sign(s) L): patch 1 the sky (sun),
  patch 2 the ground (pole and shadow). Rule: v = (H - h) L equals u = |s| h (slope 1).
- sun-shadow-clip: the same with H = clip(2h, 0.6, 0.8): the clip binds for h < 0.3 (half of the
  data), where the sky (H = 0.6) no longer determines h and the shadow
  L = h |s| / (0.6 - h) is a nonlinear function of the hidden h; the rule v = u still holds.
- two-squares: theta = top side a ~ U[0.15, 0.30], bottom side b = 1.5 a; g = (a | b). Rule:
  v = b equals 1.5 u, u = a.

Quadrature: each uniform interval is cut into m equal cells; replacing theta by its cell midpoint
theta~ turns the law of x into the GaussianMixture sum_i w_i N((f(theta~_i) - centre) / UNIT,
sigma^2 I) (w_i the cell probabilities). Coupling theta with theta~ and joint convexity of KL:

    KL(true || mixture) <= E ||f(theta) - f(theta~)||^2 / (2 UNIT^2 sigma^2),

estimated without bias by Monte Carlo (`quadrature_kl_bound`); for f linear in theta it equals
sum_j ||df/dtheta_j||^2 Delta_j^2 / (24 UNIT^2 sigma^2), Delta_j the cell widths.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from synthetic.gaussian_mixture import GaussianMixture
from synthetic.validation import DTYPE, check_count

UNIT = 0.1  # one parametric unit is a tenth of the image side
NOISE = 0.1  # observation noise sigma, in parametric units


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    prob: float


@dataclass(frozen=True)
class RuleTask:
    """A rule dataset: free-parameter intervals, coordinate names, patches and the rule's slope."""

    name: str
    kind: str  # "sun-shadow" or "two-squares": the geometry, renderer and detector it uses
    free: tuple[tuple[Interval, ...], ...]  # per free parameter, its uniform intervals
    coordinates: tuple[str, ...]
    patch_sizes: tuple[int, ...]
    slope: float
    low: tuple[float, ...]  # range of each geometry coordinate (for the centre)
    high: tuple[float, ...]
    nodes: tuple[int, ...]  # default quadrature cells per interval, per free parameter
    sun_clip: tuple[float, float] = (0.3, 0.8)  # sun height H = clip(2h, *sun_clip)

    @property
    def dim(self) -> int:
        return len(self.coordinates)

    @property
    def centre(self) -> torch.Tensor:
        return 0.5 * (torch.tensor(self.low, dtype=DTYPE) + torch.tensor(self.high, dtype=DTYPE))

    def geometry(self, theta: torch.Tensor) -> torch.Tensor:
        """f(theta): (n, #free) -> (n, dim) geometry in units of the image side."""
        if self.kind == "sun-shadow":
            h, s = theta[:, 0], theta[:, 1]
            sun_height = (2 * h).clamp(*self.sun_clip)
            shadow = h * s.abs() / (sun_height - h)
            return torch.stack([s, sun_height, h, -torch.sign(s) * shadow], dim=1)
        return torch.stack([theta[:, 0], 1.5 * theta[:, 0]], dim=1)

    def rule_pair(self, geometry: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u, v) with v = slope * u under the rule (see the module docstring)."""
        if self.kind == "sun-shadow":
            s, sun_height, h, shadow = geometry.unbind(dim=1)
            return s.abs() * h, (sun_height - h) * shadow.abs()
        return geometry[:, 0], geometry[:, 1]

    def to_parametric(self, geometry: torch.Tensor) -> torch.Tensor:
        return (geometry - self.centre) / UNIT

    def from_parametric(self, x: torch.Tensor) -> torch.Tensor:
        return self.centre + UNIT * x


SUN_SIDE = 0.125  # side of the sun square, image-side units (renderer)
_NEAR, _FAR = (0.15, 0.25), (0.30, 0.40)
SUN_SHADOW = RuleTask(
    name="sun-shadow",
    kind="sun-shadow",
    free=(
        (Interval(0.2, 0.4, 1.0),),
        tuple(
            Interval(sign * lo if sign > 0 else -hi, sign * hi if sign > 0 else -lo, 0.25)
            for sign in (-1, 1)
            for lo, hi in (_NEAR, _FAR)
        ),
    ),
    coordinates=("sun_offset", "sun_height", "pole_height", "shadow"),
    patch_sizes=(2, 2),
    slope=1.0,
    low=(-0.4, 0.4, 0.2, -0.4),
    high=(0.4, 0.8, 0.4, 0.4),
    nodes=(80, 20),
)
SUN_SHADOW_CLIP = dataclasses.replace(
    SUN_SHADOW, name="sun-shadow-clip", sun_clip=(0.6, 0.8), low=(-0.4, 0.6, 0.2, -0.4)
)
TWO_SQUARES = RuleTask(
    name="two-squares",
    kind="two-squares",
    free=((Interval(0.15, 0.30, 1.0),),),
    coordinates=("top_side", "bottom_side"),
    patch_sizes=(1, 1),
    slope=1.5,
    low=(0.15, 0.225),
    high=(0.30, 0.45),
    nodes=(120,),
)
TASKS = {task.name: task for task in (SUN_SHADOW, SUN_SHADOW_CLIP, TWO_SQUARES)}


def get_task(name: str) -> RuleTask:
    if name not in TASKS:
        raise ValueError(f"task: unknown rule task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]


def sample_free(task: RuleTask, n: int, generator=None) -> torch.Tensor:
    """theta (n, #free) from the generative process (interval by its probability, then uniform)."""
    n = check_count("n", n)
    columns = []
    for intervals in task.free:
        probs = torch.tensor([iv.prob for iv in intervals], dtype=DTYPE)
        which = torch.multinomial(probs, n, replacement=True, generator=generator)
        low = torch.tensor([iv.low for iv in intervals], dtype=DTYPE)[which]
        high = torch.tensor([iv.high for iv in intervals], dtype=DTYPE)[which]
        columns.append(low + (high - low) * torch.rand(n, dtype=DTYPE, generator=generator))
    return torch.stack(columns, dim=1)


def sample_parametric(task: RuleTask, n: int, generator=None, noise: float = NOISE):
    """Direct Monte Carlo of the parametric form: x = (f(theta) - centre) / UNIT + sigma Z."""
    x = task.to_parametric(task.geometry(sample_free(task, n, generator)))
    return x + noise * torch.randn(x.shape, dtype=DTYPE, generator=generator)


def _cells(intervals, m: int):
    """Midpoints, probabilities and widths of m equal cells in each interval."""
    mids, probs, widths = [], [], []
    for iv in intervals:
        width = (iv.high - iv.low) / m
        mids += [iv.low + (i + 0.5) * width for i in range(m)]
        probs += [iv.prob / m] * m
        widths += [width] * m
    return torch.tensor(mids, dtype=DTYPE), torch.tensor(probs, dtype=DTYPE), widths


def _check_nodes(task: RuleTask, nodes) -> tuple[int, ...]:
    if nodes is None:
        return task.nodes
    nodes = (nodes,) * len(task.free) if isinstance(nodes, int) else tuple(nodes)
    if len(nodes) != len(task.free):
        raise ValueError(f"nodes: need one count per free parameter ({len(task.free)}), got {nodes}")
    return tuple(check_count("nodes", m) for m in nodes)


def quadrature_nodes(task: RuleTask, nodes=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(theta~ (m, #free), weights (m,)): the cell midpoints of `nodes` cells per interval (an int
    for every free parameter, one per parameter, or None for task.nodes) and their probabilities."""
    grids = [
        _cells(intervals, m)[:2] for intervals, m in zip(task.free, _check_nodes(task, nodes), strict=True)
    ]
    theta = torch.cartesian_prod(*[g[0] for g in grids]).reshape(-1, len(grids))
    weights = torch.cartesian_prod(*[g[1] for g in grids]).reshape(-1, len(grids)).prod(dim=1)
    return theta, weights / weights.sum()


def quadrature_mixture(task: RuleTask, nodes=None, noise: float = NOISE) -> GaussianMixture:
    """The midpoint-rule GaussianMixture of the parametric form (nodes as in `quadrature_nodes`)."""
    if not noise > 0:
        raise ValueError(f"noise: must be positive, got {noise}")
    theta, weights = quadrature_nodes(task, nodes)
    means = task.to_parametric(task.geometry(theta))
    variances = torch.full((means.shape[0],), noise**2, dtype=DTYPE)
    return GaussianMixture(weights, means, variances, task.patch_sizes)


def snap(task: RuleTask, theta: torch.Tensor, nodes) -> torch.Tensor:
    """theta~: each free parameter moved to the midpoint of its quadrature cell."""
    out = theta.clone()
    for j, (intervals, m) in enumerate(zip(task.free, _check_nodes(task, nodes), strict=True)):
        for iv in intervals:
            inside = (theta[:, j] >= iv.low) & (theta[:, j] <= iv.high)
            width = (iv.high - iv.low) / m
            cell = ((theta[inside, j] - iv.low) / width).floor().clamp(0, m - 1)
            out[inside, j] = iv.low + (cell + 0.5) * width
    return out


def quadrature_kl_bound(task: RuleTask, nodes=None, n: int = 20000, generator=None, noise=NOISE):
    """Monte Carlo mean and standard error of E ||f(theta) - f(theta~)||^2 / (2 UNIT^2 sigma^2),
    an upper bound on KL(true parametric law || quadrature mixture)."""
    theta = sample_free(task, n, generator)
    gap = task.geometry(theta) - task.geometry(snap(task, theta, nodes))
    values = gap.square().sum(dim=1) / (2 * UNIT**2 * noise**2)
    return float(values.mean()), float(values.std() / math.sqrt(n))
