"""AR-DM score network as deployed for speed: a context encoder run once per stage and
patch-sized denoisers run once per step.

Stage k's conditioning c_k = E([pad(x^{<k}), stage_k]) depends on the clean prefix only, so a
sampler computes it once per stage (`context`); the denoiser of stage k, an MLP on
[x^k_t, e(t), c_k] -> R^{d_k} of its own (one per stage, sized for its patch), runs at every step
(`denoise`). forward(k, x_k, prefix, t) = denoise(k, x_k, context(k, prefix), t), the
`PatchScoreModel` interface of the other AR-DM networks.
"""

from __future__ import annotations

import torch
from torch import nn

from verify.models.conditional import PatchScoreModel
from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor
from verify.models.mlp import mlp


class PatchContextScore(PatchScoreModel):
    """Context encoder E (hidden `context_hidden`, output `context_features`) + K denoisers D_k
    (hidden `hidden`), each `depth` hidden layers."""

    def __init__(
        self,
        patch_sizes,
        hidden: int = 64,
        depth: int = 3,
        context_hidden: int | None = None,
        context_features: int = 32,
        time_features: int = 32,
    ):
        super().__init__(patch_sizes)
        context_hidden = hidden if context_hidden is None else context_hidden
        self.stage = nn.Embedding(self.num_patches, 16)
        self.encoder = mlp(self.dim + 16, context_hidden, depth, context_features)
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.denoisers = nn.ModuleList(
            mlp(size + time_features + context_features, hidden, depth, size) for size in self.patch_sizes
        )

    def context(self, k: int, prefix: torch.Tensor, cache=None) -> tuple[torch.Tensor, None]:
        """c_k (n, context_features) from the clean prefix (n, sum_{j<k} d_j); nothing to cache
        across stages (the second value is None)."""
        if not 0 <= k < self.num_patches:
            raise ValueError(f"k: must be in [0, {self.num_patches}), got {k}")
        if prefix.ndim != 2 or prefix.shape[1] != self.patch_bounds[k]:
            raise ValueError(f"prefix: expected shape (n, {self.patch_bounds[k]}), got {tuple(prefix.shape)}")
        n = prefix.shape[0]
        stage = self.stage(torch.full((n,), k, dtype=torch.long, device=prefix.device)).to(prefix.dtype)
        full = nn.functional.pad(prefix, (0, self.dim - prefix.shape[1]))
        return self.encoder(torch.cat([full, stage], dim=-1)), None

    def denoise(self, k: int, x_k: torch.Tensor, c: torch.Tensor, t) -> torch.Tensor:
        """eps_hat of stage k from its context c_k: (n, d_k)."""
        t = time_tensor(t, x_k.shape[0], x_k)
        return self.denoisers[k](torch.cat([x_k, self.embed(t), c], dim=-1))

    def forward(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor, t) -> torch.Tensor:
        """eps_hat of stage k: (n, d_k) noisy patch, (n, sum_{j<k} d_j) clean prefix -> (n, d_k)."""
        self.check_stage(k, x_k, prefix)
        return self.denoise(k, x_k, self.context(k, prefix)[0], t)

    def forward_teacher(self, x_clean, x_noisy, t: torch.Tensor) -> torch.Tensor:
        """All stages: (n, d), (n, d), t (n, K) -> (n, d), stage by stage."""
        layout = self.layout
        return torch.cat(
            [
                self(k, layout.patch(x_noisy, k), layout.prefix(x_clean, k), t[:, k])
                for k in range(len(layout))
            ],
            dim=1,
        )
