"""Clean-image parameterization: a network that returns the true x_0 implies the true noise."""

import torch
from torch import nn

from verify.models import build_model
from verify.rules.clean import CleanJoint, CleanPatches
from verify.train.dsm import noised


class Oracle(nn.Module):
    """Returns the clean data it was given (the perfect x_0 prediction)."""

    def __init__(self, x0):
        super().__init__()
        self.x0, self.dim = x0, x0.shape[1]

    def forward(self, x, t):
        return self.x0


def test_perfect_clean_prediction_gives_the_noise():
    g = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(5, 6, generator=g, dtype=torch.float64), torch.randn(5, 6, generator=g)
    t = torch.rand(5, generator=g, dtype=torch.float64) * 3 + 1e-3
    x_t = noised(x0, t[:, None], eps.double())
    torch.testing.assert_close(CleanJoint(Oracle(x0))(x_t, t), eps.double())


def test_teacher_path_matches_stage_path():
    g = torch.Generator().manual_seed(1)
    net = CleanPatches(build_model("causal-transformer", 6, (2, 4), seed=0, width=8).double())
    clean, noisy = torch.randn(3, 6, generator=g, dtype=torch.float64), torch.randn(3, 6, generator=g)
    t = torch.rand(3, 2, generator=g, dtype=torch.float64) + 0.1
    teacher = net.forward_teacher(clean, noisy.double(), t)
    for k, (lo, hi) in enumerate(((0, 2), (2, 6))):
        stage = net(k, noisy.double()[:, lo:hi], clean[:, :lo], t[:, k])
        torch.testing.assert_close(teacher[:, lo:hi], stage)
