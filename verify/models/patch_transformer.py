"""Joint DDPM score network with the AR-DM transformer's shape: a bidirectional transformer over
noisy patch tokens and a per-patch MLP diffusion head (the transformer backbone in the joint role).

Tokens are the noisy patches x^1_t, ..., x^K_t (each zero-padded to max d_k, linearly embedded,
plus a learned position embedding and a projection of e(t)); every token attends to every other,
so the backbone output z_k depends on the whole noisy vector. The head, shared by all patches,
maps [pad(x^k_t), e(t), z_k] to eps_hat^k, exactly as verify.models.transformer's head does for
AR-DM, where z_k depends on the clean prefix x^{<k} only. The two networks therefore differ in
what the backbone conditions on (the factorisation), not in their parts.
"""

from __future__ import annotations

import torch
from torch import nn

from synthetic.patches import Patches
from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor
from verify.models.mlp import mlp


class PatchTransformerScore(nn.Module):
    """eps_hat(x, t) for x in R^d split into `patch_sizes`; forward(x (n, d), t) -> (n, d)."""

    def __init__(
        self,
        patch_sizes,
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        head_hidden: int = 128,
        head_depth: int = 3,
        time_features: int = 32,
    ):
        super().__init__()
        self.layout = Patches(patch_sizes)
        self.patch_sizes = self.layout.sizes
        if width % heads:
            raise ValueError(f"width: must be divisible by heads ({heads}), got {width}")
        self.dim, self.max_patch = self.layout.dim, max(self.patch_sizes)
        self.tokens = nn.Linear(self.max_patch, width)
        self.positions = nn.Parameter(0.02 * torch.randn(len(self.layout), width))
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.time = nn.Linear(time_features, width)
        layer = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = mlp(self.max_patch + time_features + width, head_hidden, head_depth, self.max_patch)

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        """(n, d) -> (n, K, max_patch), each patch zero-padded."""
        parts = self.layout.split(x)
        return torch.stack([nn.functional.pad(p, (0, self.max_patch - p.shape[1])) for p in parts], dim=1)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        n, K = x.shape[0], len(self.patch_sizes)
        e = self.embed(time_tensor(t, n, x))
        noisy = self._pad(x)
        z = self.tokens(noisy) + self.positions + self.time(e)[:, None, :]
        z = self.norm(self.blocks(z))
        head_in = torch.cat([noisy, e[:, None, :].expand(n, K, -1), z], dim=-1)
        eps = self.head(head_in)
        return torch.cat([eps[:, k, :size] for k, size in enumerate(self.patch_sizes)], dim=1)
