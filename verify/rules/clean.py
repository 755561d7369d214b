"""Clean-image parameterization of an epsilon network, used for every model on the image form.

A network D predicts the clean data x_0 and the wrapper returns the epsilon prediction it implies,

    eps_hat(x_t, t) = (x_t - a_t D(x_t, t)) / s_t,   a_t = e^{-t}, s_t^2 = 1 - e^{-2t},

so training (the epsilon loss of verify.train.dsm) and sampling (score -eps_hat / s_t) are
unchanged. Why: on images the epsilon target is a full-rank 3 S^2-vector (at large t, eps ~ x_t),
which an MLP whose hidden width is below 3 S^2 (the parameter-matched DDPM MLP, AR-DM's per-patch
head) cannot represent; the clean image lies near a low-dimensional set that it can.
"""

from __future__ import annotations

import torch
from torch import nn

from verify.models import PatchScoreModel
from verify.models.embedding import time_tensor


def implied_eps(x: torch.Tensor, clean: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """(x - a_t clean) / s_t with t broadcast against x's columns."""
    return (x - torch.exp(-t) * clean) / torch.sqrt(-torch.expm1(-2.0 * t))


class CleanJoint(nn.Module):
    """eps_hat(x, t) of a joint network that predicts x_0; forward(x (n, d), t) -> (n, d)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.dim = net, net.dim

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        return implied_eps(x, self.net(x, t), time_tensor(t, x.shape[0], x)[:, None])


class CleanPatches(PatchScoreModel):
    """eps_hat of every AR-DM stage from a PatchScoreModel that predicts the clean patch."""

    def __init__(self, net: PatchScoreModel):
        super().__init__(net.patch_sizes)
        self.net = net

    def forward(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor, t) -> torch.Tensor:
        t = time_tensor(t, x_k.shape[0], x_k)[:, None]
        return implied_eps(x_k, self.net(k, x_k, prefix, t[:, 0]), t)

    def forward_teacher(self, x_clean, x_noisy, t: torch.Tensor) -> torch.Tensor:
        sizes = torch.tensor(self.patch_sizes, device=t.device)
        columns = torch.repeat_interleave(t, sizes, dim=1)
        return implied_eps(x_noisy, self.net.forward_teacher(x_clean, x_noisy, t), columns)
