"""Detector plausibility: clean renders of the process (extremes included) pass; objects of a size
or position the process cannot produce fail, the same rule for every image."""

import itertools

import numpy as np
import pytest
import torch

from synthetic.rules import SUN_SHADOW, SUN_SHADOW_CLIP, TWO_SQUARES, sample_free
from verify.rules.detect import TOL, detect, ranges
from verify.rules.render import render

SIZE = 16
# (task, image side): every object spans >= 2 pixels (the clip variant's shortest shadow,
# 0.075 of the side, needs 32)
RENDERED = [(SUN_SHADOW, 16), (SUN_SHADOW, 32), (SUN_SHADOW_CLIP, 32), (TWO_SQUARES, 16), (TWO_SQUARES, 32)]
IDS = [f"{task.name}-{size}" for task, size in RENDERED]


@pytest.mark.parametrize(
    ("task", "atol"),
    [(SUN_SHADOW, 1e-3), (SUN_SHADOW_CLIP, 5e-3), (TWO_SQUARES, 1e-3)],
    ids=["sun", "clip", "sq"],
)
def test_ranges_match_the_process(task, atol):
    g = task.geometry(sample_free(task, 20000, torch.Generator().manual_seed(1))).abs().numpy()
    bounds = ranges(task)
    assert (g >= bounds[:, 0] - 1e-12).all() and (g <= bounds[:, 1] + 1e-12).all()
    # uniform draws come within 1e-3 of each end w.p. 1 - O(e^{-20000 * 1e-3 * density}); the
    # clip variant's shortest shadow needs two parameters near their ends at once (looser)
    assert np.allclose(g.min(axis=0), bounds[:, 0], atol=atol)
    assert np.allclose(g.max(axis=0), bounds[:, 1], atol=atol)


@pytest.mark.parametrize(("task", "size"), RENDERED, ids=IDS)
def test_extreme_clean_renders_pass(task, size):
    """Every corner of every interval box: the edges of the plausible ranges."""
    ends = [[e for iv in intervals for e in (iv.low, iv.high)] for intervals in task.free]
    theta = torch.tensor(list(itertools.product(*ends)), dtype=torch.float64)
    _, ok = detect(task, render(task, task.geometry(theta), size))
    assert ok.all()


def _sun(s=0.2, pole=0.3, shadow=None):
    """A clean sun-shadow image (H = 2 h); shadow defaults to the rule's -sign(s)|s|."""
    shadow = -np.sign(s) * abs(s) if shadow is None else shadow
    geometry = torch.tensor([[s, 2 * pole, pole, shadow]], dtype=torch.float64)
    return render(SUN_SHADOW, geometry, SIZE)


def _squares(top=0.2, bottom=0.3):
    return render(TWO_SQUARES, torch.tensor([[top, bottom]], dtype=torch.float64), SIZE)


def _widen_pole(image):
    image[:, 1, :, SIZE // 2 + 1] = image[:, 1, :, SIZE // 2]
    return image


def _big_sun(image):
    image[:, 0] = 0.0
    image[:, 0, 2:6, 2:6] = 1.0
    return image


def _stretch_top(image):
    image[:, 0, 1:8] = image[:, 0, 3:4].clone()  # a tall rectangle, not a square
    return image


IMPLAUSIBLE = {
    "all bright": (SUN_SHADOW, lambda: torch.ones(1, 3, SIZE, SIZE)),
    "sun above the pole": (SUN_SHADOW, lambda: _sun(s=0.02, shadow=-0.2)),
    "sun too big": (SUN_SHADOW, lambda: _big_sun(_sun())),
    "pole too tall": (SUN_SHADOW, lambda: _sun(pole=0.5)),
    "pole two pixels wide": (SUN_SHADOW, lambda: _widen_pole(_sun())),
    "pole floating": (SUN_SHADOW, lambda: torch.roll(_sun(), -2, dims=2)),
    "shadow too long": (SUN_SHADOW, lambda: _sun(shadow=-0.5)),
    "squares all bright": (TWO_SQUARES, lambda: torch.ones(1, 3, SIZE, SIZE)),
    "top square too big": (TWO_SQUARES, lambda: _squares(top=0.4)),
    "bottom square too small": (TWO_SQUARES, lambda: _squares(bottom=0.12)),
    "square off centre": (TWO_SQUARES, lambda: torch.roll(_squares(), 2, dims=3)),
    "top is a rectangle": (TWO_SQUARES, lambda: _stretch_top(_squares())),
}


def test_plausible_references_pass():
    assert detect(SUN_SHADOW, _sun())[1].all() and detect(TWO_SQUARES, _squares())[1].all()


@pytest.mark.parametrize("case", sorted(IMPLAUSIBLE))
def test_implausible_objects_fail(case):
    task, make = IMPLAUSIBLE[case]
    geometry, ok = detect(task, make().double())
    assert not ok.any() and geometry.isnan().all()


@pytest.mark.parametrize("sigma", [0.0, 0.005, 0.01, 0.02])
@pytest.mark.parametrize(("task", "size"), RENDERED, ids=IDS)
def test_calibration_against_pixel_noise(task, sigma, size):
    """Renders plus N(0, sigma^2) pixel noise ([0, 1] units; x_delta at delta = 1e-3 has
    sigma ~ 0.022): every image is detected and every coordinate is within the plausibility
    tolerance TOL (pixels) of the truth; the error grows with sigma (0 at sigma = 0)."""
    generator = torch.Generator().manual_seed(11)
    geometry = task.geometry(sample_free(task, 200, generator))
    images = render(task, geometry, size)
    noisy = images + sigma * torch.randn(images.shape, dtype=images.dtype, generator=generator)
    found, ok = detect(task, noisy)
    error = (found - geometry).abs().max().item() * size
    assert ok.all()
    assert error <= (TOL if sigma > 0 else 1e-12)
