"""The patch layout value: offsets, the columns of patch k and of the prefix x^{<k}, validation."""

import pytest
import torch

from synthetic import GaussianMixture
from synthetic.patches import Patches


def test_offsets_slices_and_prefixes():
    layout = Patches((1, 2, 3))
    assert layout.offsets == (0, 1, 3, 6) and layout.dim == 6 and len(layout) == 3
    x = torch.arange(12.0).reshape(2, 6)
    assert layout.slice(1) == slice(1, 3) and layout.span(1, 3) == slice(1, 6)
    torch.testing.assert_close(layout.patch(x, 1), x[:, 1:3])
    torch.testing.assert_close(layout.prefix(x, 2), x[:, :3])
    assert layout.prefix(x, 0).shape == (2, 0)
    assert [p.shape[1] for p in layout.split(x)] == [1, 2, 3]
    torch.testing.assert_close(torch.cat(layout.split(x), dim=1), x)


def test_of_a_dimension_and_equality():
    assert Patches.of(4) == Patches((4,))
    assert Patches.of(3, [1, 2]) == Patches((1, 2)) and hash(Patches([1, 2])) == hash(Patches((1, 2)))
    assert Patches((1, 2)) != Patches((2, 1))
    with pytest.raises(AttributeError):
        Patches((1,)).sizes = (2,)


def test_distributions_share_the_layout():
    mix = GaussianMixture([1.0], [[0.0, 1.0, 2.0]], [1.0], patch_sizes=(2, 1))
    assert mix.layout == Patches((2, 1))
    assert mix.patch_sizes == (2, 1) and mix.patch_bounds == (0, 2, 3) and mix.patch_slice(1) == slice(2, 3)


@pytest.mark.parametrize("sizes", [(), (0, 2), (1, -1), (1.5, 2), "ab", None])
def test_bad_sizes_name_the_parameter(sizes):
    with pytest.raises(ValueError, match="^patch_sizes:"):
        Patches(sizes)


def test_sizes_must_sum_to_the_dimension():
    with pytest.raises(ValueError, match="^patch_sizes: must sum to the dimension 4"):
        Patches.of(4, (1, 2))
