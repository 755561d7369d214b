"""Renderer and detector: exact round trip on clean renders, patching, reported failures."""

import pytest
import torch

from synthetic.rules import SUN_SHADOW, TWO_SQUARES, sample_free
from verify.rules.detect import detect
from verify.rules.render import RenderedRules, patchify, render, unpatchify


@pytest.mark.parametrize("task,patches", [(SUN_SHADOW, 4), (TWO_SQUARES, 16)], ids=["sun", "squares"])
@pytest.mark.parametrize("size", [16, 32])
def test_round_trip_exact(task, patches, size):
    geometry = task.geometry(sample_free(task, 300, torch.Generator().manual_seed(size)))
    images = render(task, geometry, size)
    found, ok = detect(task, images)
    assert ok.all()
    assert torch.allclose(found, geometry, atol=1e-12, rtol=0)
    assert torch.equal(unpatchify(patchify(images, patches), patches, size), images)


def test_coverage_sums_are_lengths():
    geometry = torch.tensor([[0.2, 0.3]], dtype=torch.float64)  # squares of side 0.2, 0.3
    image = render(TWO_SQUARES, geometry, 20)
    assert image[0, 0].sum().item() == pytest.approx(16.0)  # (0.2 * 20)^2
    assert image[0, 1].sum().item() == pytest.approx(36.0)


def test_patch_is_a_square_block():
    image = torch.arange(3 * 16 * 16, dtype=torch.float64).view(1, 3, 16, 16)
    x = patchify(image, 4)
    first = image[0, :, :8, :8].reshape(-1)
    assert torch.equal(x[0, : first.numel()], first)


def test_failures_reported():
    images = torch.zeros(2, 3, 16, 16, dtype=torch.float64)
    images[1, :, 2, 2] = images[1, :, 9, 9] = 1.0  # two components in every channel
    geometry, ok = detect(SUN_SHADOW, images)
    assert not ok.any() and geometry.isnan().all()


def test_rendered_data_source():
    data = RenderedRules(TWO_SQUARES, 16, 16)
    x = data.sample(5, 0.0, torch.Generator().manual_seed(0))
    assert x.shape == (5, data.dim) and sum(data.patch_sizes) == data.dim
    assert x.min() >= -1 and x.max() <= 1
    with pytest.raises(ValueError, match="size"):
        render(TWO_SQUARES, torch.zeros(1, 2), 8)


def test_non_finite_image_fails_detection():
    task = TWO_SQUARES
    images = render(task, task.geometry(sample_free(task, 2, torch.Generator().manual_seed(0))), 16)
    images[1, 0, 3, 3] = float("nan")
    geometry, ok = detect(task, images)
    assert ok.tolist() == [True, False] and geometry[1].isnan().all()
