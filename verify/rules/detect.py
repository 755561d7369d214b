"""Image -> rule geometry, exact on clean renders (verify.rules.render), with failures reported.

Per channel, pixel values are clipped to [0, 1]; the object is the single connected component of
pixels > 1/2 (detection FAILS when there is none or more than one), and its support is that
component's bounding box grown by one pixel (every partially covered pixel of a clean render
touches a pixel covered more than half, since objects span >= 2 pixels). An image with a
non-finite pixel (a diverged sampler) fails. On the support:

- lengths and areas are sums (coverage is exact area): pole height h S = sum (one pixel wide),
  |shadow| S = sum (one pixel high, sign from the side of the pole its centroid lies on),
  square side = sqrt(sum);
- the sun's edges come from its profiles p_i (column or row sums): with o_i = p_i / max p (the
  overlap of pixel i, since the sun covers a full pixel along each axis), the first and last
  non-zero pixels i0, i1 give the edges i0 + 1 - o_{i0} and i1 + o_{i1}, the centre their mean.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from synthetic.rules import RuleTask
from synthetic.validation import DTYPE
from verify.rules.render import pole_x


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
    overlap = profile / profile.max()
    nonzero = np.nonzero(overlap > 0)[0]
    i0, i1 = nonzero[0], nonzero[-1]
    return i0 + 1 - overlap[i0], i1 + overlap[i1]


def _sun_shadow(sun, pole, shadow, size: int) -> list[float]:
    x_low, x_high = _edges(sun.sum(axis=0))
    row_low, row_high = _edges(sun.sum(axis=1))  # rows counted from the top
    centre_x, centre_y = (x_low + x_high) / 2, size - (row_low + row_high) / 2
    columns = np.arange(size) + 0.5
    side = np.sign((shadow.sum(axis=0) * (columns - pole_x(size))).sum())
    return [
        (centre_x - pole_x(size)) / size,
        centre_y / size,
        pole.sum() / size,
        side * shadow.sum() / size,
    ]


def detect(task: RuleTask, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(geometry (n, task.dim) float64, ok (n,) bool) from images (n, 3, S, S); rows where
    detection fails are NaN with ok False."""
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2] != images.shape[3]:
        raise ValueError(f"images: expected shape (n, 3, S, S), got {tuple(images.shape)}")
    array = images.detach().to("cpu", DTYPE).numpy()
    size = array.shape[-1]
    used = 3 if task.name == "sun-shadow" else 2
    out = np.full((array.shape[0], task.dim), np.nan)
    for row, image in enumerate(array):
        if not np.isfinite(image).all():
            continue
        channels = [_support(image[c]) for c in range(used)]
        if any(c is None for c in channels):
            continue
        if task.name == "sun-shadow":
            out[row] = _sun_shadow(*channels, size)
        else:
            out[row] = [np.sqrt(c.sum()) / size for c in channels]
    geometry = torch.from_numpy(out)
    return geometry, ~geometry.isnan().any(dim=1)
