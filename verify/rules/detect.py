"""Image -> rule geometry, exact on clean renders (verify.rules.render), with failures reported.

Per channel, pixel values are clipped to [0, 1]; the object is the single connected component of
pixels > 1/2 (detection FAILS when there is none or more than one), and its support is that
component's bounding box grown by one pixel (every partially covered pixel of a clean render
touches a pixel covered more than half, since objects span >= 2 pixels). An image with a
non-finite pixel (a diverged sampler) fails. On the support:

- lengths and areas are sums (coverage is exact area): pole height h S = sum (one pixel wide),
  |shadow| S = sum (one pixel high, sign from the side of the pole its centroid lies on),
  square side = sqrt(sum);
- edges come from the profiles p_i (column or row sums): with o_i = p_i / max p (the overlap of
  pixel i, since every object covers a full pixel along each axis) and i0, i1 the first and last
  pixels with o_i > 1/2, the edges are i0 + 1 - sum_{i <= i0} o_i and i1 + sum_{i >= i1} o_i: exact
  on clean renders (at most one partial pixel lies beyond i0 or i1) and moved by pixel noise
  only through a few pixels' values, so small noise (a sampler's residual) keeps detection (the
  calibration against the noise level is tests/test_rules_detect.py); the sun's centre is their mean.

Plausibility (detection also FAILS otherwise; the same rule for every model): every object is
an axis-aligned rectangle the generative process can produce. Its edges (x0, x1, y0, y1), pixels
from the left and the bottom, and its area A must satisfy, each within TOL = 1/2 pixel, with
[lo_j, hi_j] S the range of |g_j| over the process (`ranges`):
- sun-shadow: sun width, height and sqrt(A) = SUN_SIDE S; |centre_x - x_pole| in the |s| range,
  centre_y in the H range; pole x0 = S/2, x1 = S/2 + 1, y0 = 0, y1 in the h range, A = y1 - y0
  (one pixel wide); shadow y0 = 0, y1 = 1, its end nearest the pole at x_pole, x1 - x0 in the
  |L| range, A = x1 - x0 (one pixel high);
- two-squares: centre (S/2, 3S/4) (top) or (S/2, S/4) (bottom), sqrt(A) in the side's range,
  width = height = sqrt(A) (a filled square).
Clean renders pass exactly (every check holds with equality inside its range). The ranges cut
the rule pairs' tails, identically for every model; the failure fraction is always reported.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy import ndimage

from synthetic.rules import SUN_SIDE, RuleTask
from synthetic.validation import DTYPE
from verify.rules.render import pole_x

TOL = 0.5  # pixels


def ranges(task: RuleTask) -> np.ndarray:
    """(dim, 2): min and max of |g_j| over the process. g = f(theta) is monotone in each free
    parameter on each box of intervals, so the extremes are attained at the boxes' corners."""
    ends = [sorted({e for iv in intervals for e in (iv.low, iv.high)}) for intervals in task.free]
    corners = torch.tensor(list(itertools.product(*ends)), dtype=DTYPE)
    g = task.geometry(corners).abs().numpy()
    return np.stack([g.min(axis=0), g.max(axis=0)], axis=1)


def _support(channel: np.ndarray) -> np.ndarray | None:
    """Clipped values on the grown bounding box of the one component > 1/2; None if not one."""
    labels, count = ndimage.label(channel > 0.5)
    if count != 1:
        return None
    rows, cols = np.nonzero(labels)
    out = np.zeros_like(channel)
    box = (
        slice(max(rows.min() - 1, 0), rows.max() + 2),
        slice(max(cols.min() - 1, 0), cols.max() + 2),
    )
    out[box] = np.clip(channel[box], 0.0, 1.0)
    return out


def _edges(profile: np.ndarray) -> tuple[float, float]:
    """(low, high) edges: with i0, i1 the first and last pixels whose overlap exceeds 1/2,
    low = i0 + 1 - sum_{i <= i0} o_i and high = i1 + sum_{i >= i1} o_i (exact on clean renders,
    where at most one partial pixel lies beyond i0 or i1; Lipschitz in pixel noise)."""
    overlap = profile / profile.max()
    above = np.nonzero(overlap > 0.5)[0]
    i0, i1 = above[0], above[-1]
    return i0 + 1 - overlap[: i0 + 1].sum(), i1 + overlap[i1:].sum()


def _box(support: np.ndarray) -> tuple[float, float, float, float, float]:
    """(x0, x1, y0, y1, A): edges in pixels from the left and the bottom, and the area."""
    x0, x1 = _edges(support.sum(axis=0))
    row0, row1 = _edges(support.sum(axis=1))  # rows counted from the top
    size = support.shape[0]
    return x0, x1, size - row1, size - row0, support.sum()


def _sun_shadow(task: RuleTask, sun, pole, shadow, size: int):
    """(geometry, checks): checks are (value, low, high) in pixels."""
    (sx0, sx1, sy0, sy1, s_area), (px0, px1, py0, py1, p_area), (hx0, hx1, hy0, hy1, h_area) = (
        _box(c) for c in (sun, pole, shadow)
    )
    x_pole, side = pole_x(size), SUN_SIDE * size
    offset, height, pole_h, shadow_l = ranges(task) * size
    columns = np.arange(size) + 0.5
    sign = np.sign((shadow.sum(axis=0) * (columns - x_pole)).sum())
    centre_x, centre_y = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    geometry = [(centre_x - x_pole) / size, centre_y / size, p_area / size, sign * h_area / size]
    checks = [
        (sx1 - sx0, side, side),
        (sy1 - sy0, side, side),
        (np.sqrt(s_area), side, side),
        (abs(centre_x - x_pole), *offset),
        (centre_y, *height),
        (px0, size / 2, size / 2),
        (px1, size / 2 + 1, size / 2 + 1),
        (py0, 0.0, 0.0),
        (py1, *pole_h),
        (p_area - (py1 - py0), 0.0, 0.0),
        (hy0, 0.0, 0.0),
        (hy1, 1.0, 1.0),
        (min(abs(hx0 - x_pole), abs(hx1 - x_pole)), 0.0, 0.0),
        (hx1 - hx0, *shadow_l),
        (h_area - (hx1 - hx0), 0.0, 0.0),
    ]
    return geometry, checks


def _two_squares(task: RuleTask, top, bottom, size: int):
    geometry, checks = [], []
    centres = (0.75 * size, 0.25 * size)
    for square, centre_y, (low, high) in zip((top, bottom), centres, ranges(task) * size, strict=True):
        x0, x1, y0, y1, area = _box(square)
        side = np.sqrt(area)
        geometry.append(side / size)
        checks += [
            ((x0 + x1) / 2, size / 2, size / 2),
            ((y0 + y1) / 2, centre_y, centre_y),
            (side, low, high),
            (x1 - x0 - side, 0.0, 0.0),
            (y1 - y0 - side, 0.0, 0.0),
        ]
    return geometry, checks


def detect(task: RuleTask, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(geometry (n, task.dim) float64, ok (n,) bool) from images (n, 3, S, S); rows where
    detection fails (no single object per channel, or an implausible one) are NaN with ok False."""
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images: expected shape (n, 3, S, S), got {tuple(images.shape)}")
    array = images.detach().to("cpu", DTYPE).numpy()
    size = array.shape[-1]
    sun_shadow = task.kind == "sun-shadow"
    read = _sun_shadow if sun_shadow else _two_squares
    out = np.full((array.shape[0], task.dim), np.nan)
    for row, image in enumerate(array):
        if not np.isfinite(image).all():
            continue
        channels = [_support(image[c]) for c in range(3 if sun_shadow else 2)]
        if any(c is None for c in channels):
            continue
        geometry, checks = read(task, *channels, size)
        if all(low - TOL <= value <= high + TOL for value, low, high in checks):
            out[row] = geometry
    result = torch.from_numpy(out)
    return result, ~result.isnan().any(dim=1)
