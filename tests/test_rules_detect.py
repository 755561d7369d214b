"""Detector plausibility: clean renders of the process (extremes included) pass; objects of a size
or position the process cannot produce fail, the same rule for every image."""

import itertools

import numpy as np
import pytest
import torch

from synthetic.rules import SUN_SHADOW, TWO_SQUARES, sample_free
from verify.rules.detect import detect, ranges
from verify.rules.render import render

SIZE = 16


@pytest.mark.parametrize("task", [SUN_SHADOW, TWO_SQUARES], ids=["sun", "squares"])
def test_ranges_match_the_process(task):
    g = task.geometry(sample_free(task, 20000, torch.Generator().manual_seed(1))).abs().numpy()
    bounds = ranges(task)
    assert (g >= bounds[:, 0] - 1e-12).all() and (g <= bounds[:, 1] + 1e-12).all()
    # uniform draws come within 1e-3 of each end w.p. 1 - O(e^{-20000 * 1e-3 * density})
    assert np.allclose(g.min(axis=0), bounds[:, 0], atol=1e-3)
    assert np.allclose(g.max(axis=0), bounds[:, 1], atol=1e-3)


@pytest.mark.parametrize("task", [SUN_SHADOW, TWO_SQUARES], ids=["sun", "squares"])
@pytest.mark.parametrize("size", [16, 32])
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
