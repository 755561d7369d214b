"""The joint transformer (bidirectional over noisy patches) and parameter matching."""

import pytest
import torch

from verify.models import count_parameters
from verify.models.matching import match_width
from verify.models.mlp import ScoreMLP
from verify.models.patch_transformer import PatchTransformerScore


def test_shapes_with_unequal_patches():
    net = PatchTransformerScore((3, 1, 2), width=8, head_hidden=16)
    x = torch.randn(5, 6)
    assert net(x, 0.3).shape == (5, 6)
    assert net(x, torch.full((5,), 0.3)).shape == (5, 6)


def test_every_output_patch_sees_every_input_patch():
    """Bidirectional attention: the Jacobian block d eps^j / d x^k is non-zero for all j, k
    (the AR transformer's stage k sees only x^{<k})."""
    torch.manual_seed(0)
    net = PatchTransformerScore((2, 2, 2), width=8, head_hidden=16)
    x = torch.randn(1, 6)
    jacobian = torch.autograd.functional.jacobian(lambda y: net(y, 0.5), x)[0, :, 0, :]
    blocks = jacobian.abs().reshape(3, 2, 3, 2).sum(dim=(1, 3))
    assert (blocks > 0).all()


def test_rows_are_independent():
    net = PatchTransformerScore((2, 2), width=8, head_hidden=16)
    x = torch.randn(4, 4)
    torch.testing.assert_close(net(x, 0.2)[1:2], net(x[1:2], 0.2))


def test_matched_size_is_nearest_by_brute_force():
    target = 5000
    units = match_width(lambda u: ScoreMLP(4, hidden=u), count_parameters, target)
    counts = {u: count_parameters(ScoreMLP(4, hidden=u)) for u in range(1, 201)}
    assert abs(counts[units] - target) == min(abs(c - target) for c in counts.values())


def test_bad_width_names_the_parameter():
    with pytest.raises(ValueError, match="width"):
        PatchTransformerScore((2, 2), width=10, heads=4)
