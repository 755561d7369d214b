"""Rule geometry -> small RGB images (one object per colour channel), and patching into K patches.

Pixel (row j, column i) of an S x S image covers [i, i + 1] x [S - 1 - j, S - j] in pixel units
measured from the left and the bottom edge; an axis-aligned rectangle is drawn with its exact
area coverage (separable: overlap along x times overlap along y), so sums of a channel are exact
lengths and areas, which is what makes the detector exact on clean renders.

- sun-shadow: red = sun, a square of side SUN_SIDE S centred at (x_pole + s S, H S); green = pole,
  the full pixel column [S/2, S/2 + 1] from the ground up to h S; blue = shadow, the bottom pixel
  row from x_pole = S/2 + 1/2 to x_pole + shadow S (signed).
- two-squares: red = top square of side a S centred at (S/2, 3S/4); green = bottom square of
  side b S centred at (S/2, S/4).

Patches: K = g^2 square patches of side S/g in raster order; a patch's vector is its (C, S/g, S/g)
block flattened, and an image's vector is the concatenation of its K patch vectors.
Model data are 2 * image - 1 (pixel values in [-1, 1]).
"""

from __future__ import annotations

import math

import torch

from synthetic.rules import SUN_SIDE, RuleTask, sample_free
from synthetic.validation import DTYPE, check_count

CHANNELS = 3
MIN_SIZE = 16  # every object spans >= 2 pixels from this size on (detector exactness)


def check_size(size: int) -> int:
    size = check_count("size", size)
    if size < MIN_SIZE or size % 2:
        raise ValueError(f"size: must be an even integer >= {MIN_SIZE}, got {size}")
    return size


def coverage(low: torch.Tensor, high: torch.Tensor, size: int) -> torch.Tensor:
    """Overlap length of [low, high] (n,) with each pixel interval [i, i + 1]: (n, size)."""
    edges = torch.arange(size, dtype=DTYPE, device=low.device)
    left = torch.maximum(low[:, None], edges)
    right = torch.minimum(high[:, None], edges + 1)
    return (right - left).clamp_min(0.0)


def _rectangle(x_low, x_high, y_low, y_high, size: int) -> torch.Tensor:
    """(n, S, S) coverage image of [x_low, x_high] x [y_low, y_high] (y measured up from the bottom)."""
    rows = coverage(size - y_high, size - y_low, size)  # row j covers size - 1 - j .. size - j
    return rows[:, :, None] * coverage(x_low, x_high, size)[:, None, :]


def pole_x(size: int) -> float:
    return size / 2 + 0.5


def render(task: RuleTask, geometry: torch.Tensor, size: int) -> torch.Tensor:
    """Images (n, 3, S, S) in [0, 1] of geometries (n, task.dim) in image-side units."""
    size = check_size(size)
    if geometry.ndim != 2 or geometry.shape[1] != task.dim:
        raise ValueError(f"geometry: expected shape (n, {task.dim}), got {tuple(geometry.shape)}")
    g = geometry.to(DTYPE) * size
    zero = torch.zeros_like(g[:, 0])
    if task.kind == "sun-shadow":
        s, sun_height, h, shadow = g.unbind(dim=1)
        half, centre = SUN_SIDE * size / 2, pole_x(size) + s
        sun = _rectangle(centre - half, centre + half, sun_height - half, sun_height + half, size)
        column = zero + size / 2
        pole = _rectangle(column, column + 1, zero, h, size)
        x0 = zero + pole_x(size)
        ground = _rectangle(
            torch.minimum(x0, x0 + shadow), torch.maximum(x0, x0 + shadow), zero, zero + 1, size
        )
        return torch.stack([sun, pole, ground], dim=1)
    top, bottom = g.unbind(dim=1)
    squares = [
        _rectangle(size / 2 - side / 2, size / 2 + side / 2, y - side / 2, y + side / 2, size)
        for side, y in ((top, zero + 0.75 * size), (bottom, zero + 0.25 * size))
    ]
    return torch.stack([*squares, torch.zeros_like(squares[0])], dim=1)


def patch_order(size: int, num_patches: int) -> torch.Tensor:
    """Index vector: entry m of an image's patch vector is entry order[m] of image.reshape(-1)."""
    size, grid = check_size(size), math.isqrt(check_count("num_patches", num_patches))
    if grid * grid != num_patches or size % grid:
        raise ValueError(f"num_patches: must be a square g^2 with g dividing {size}, got {num_patches}")
    side = size // grid
    index = torch.arange(CHANNELS * size * size).view(CHANNELS, grid, side, grid, side)
    return index.permute(1, 3, 0, 2, 4).reshape(-1)


def patchify(images: torch.Tensor, num_patches: int) -> torch.Tensor:
    """(n, C, S, S) -> (n, C S^2) in patch order."""
    return images.reshape(images.shape[0], -1)[:, patch_order(images.shape[-1], num_patches)]


def unpatchify(x: torch.Tensor, num_patches: int, size: int) -> torch.Tensor:
    """(n, C S^2) in patch order -> (n, C, S, S), the inverse of patchify."""
    out = torch.empty_like(x)
    out[:, patch_order(size, num_patches)] = x
    return out.view(x.shape[0], CHANNELS, size, size)


class RenderedRules:
    """The image form as a data source for verify.train: `sample(n, t=0, generator)` renders
    fresh draws of the generative process and returns 2 * image - 1 in patch order (t must be 0)."""

    def __init__(self, task: RuleTask, size: int, num_patches: int):
        self.task, self.size, self.num_patches = task, check_size(size), num_patches
        self.dim = CHANNELS * size * size
        self.patch_sizes = (self.dim // num_patches,) * num_patches
        patch_order(size, num_patches)  # validates num_patches

    def sample(self, n: int, t: float = 0.0, generator=None) -> torch.Tensor:
        if t != 0.0:
            raise ValueError(f"t: rendered images are clean data only (t = 0), got {t}")
        images = render(self.task, self.task.geometry(sample_free(self.task, n, generator)), self.size)
        return 2 * patchify(images, self.num_patches) - 1
