"""AR-DM score network in the seed paper's shape: a causal transformer over clean patch tokens
and a per-patch MLP diffusion head.

Tokens are (BOS, x^1, ..., x^{K-1}) (each clean patch zero-padded, linearly embedded, plus a
learned position embedding). With causal attention the backbone output z_k at position k depends
only on x^{<k}; the head, shared by all patches, maps [pad(x^k_t), e(t), z_k] to eps_hat of
stage k. One causal pass over the clean sequence therefore gives every stage's conditioning at
once (teacher forcing); a single stage runs the backbone on its prefix alone.
"""

from __future__ import annotations

import torch
from torch import nn

from verify.models.conditional import PatchScoreModel
from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor
from verify.models.mlp import mlp


class CausalBlock(nn.Module):
    """Pre-norm transformer block: x + attn(LN x) (causal), then x + MLP(LN x)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads:
            raise ValueError(f"width: must be divisible by heads ({heads}), got {width}")
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ff = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(attended.transpose(1, 2).reshape(n, length, width))
        return x + self.ff(self.norm2(x))


class CausalTransformerScore(PatchScoreModel):
    """Causal transformer backbone over clean patches + shared per-patch MLP diffusion head."""

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
        super().__init__(patch_sizes)
        self.bos = nn.Parameter(torch.zeros(width))
        self.tokens = nn.Linear(self.max_patch, width)
        self.positions = nn.Parameter(0.02 * torch.randn(self.num_patches, width))
        self.blocks = nn.ModuleList(CausalBlock(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.embed = SinusoidalTimeEmbedding(time_features)
        inputs = self.max_patch + time_features + width
        self.head = mlp(inputs, head_hidden, head_depth, self.max_patch)

    def backbone(self, patches: torch.Tensor) -> torch.Tensor:
        """Clean padded patches (n, L, max_patch), L < K -> conditioning z (n, L + 1, width)."""
        n, length = patches.shape[:2]
        bos = self.bos.expand(n, 1, -1)
        z = torch.cat([bos, self.tokens(patches)], dim=1) + self.positions[: length + 1]
        for block in self.blocks:
            z = block(z)
        return self.norm(z)

    def _head(self, noisy, t, z):
        return self.head(torch.cat([noisy, self.embed(t), z], dim=-1))

    def forward(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor, t) -> torch.Tensor:
        """eps_hat of stage k: (n, d_k) noisy patch, (n, sum_{j<k} d_j) clean prefix -> (n, d_k)."""
        self.check_stage(k, x_k, prefix)
        n = x_k.shape[0]
        patches = self.pad_patches(nn.functional.pad(prefix, (0, self.dim - prefix.shape[1])))
        z = self.backbone(patches[:, :k])[:, k]
        eps = self._head(self.pad_patch(k, x_k), time_tensor(t, n, x_k), z)
        return eps[:, : self.patch_sizes[k]]

    def forward_teacher(self, x_clean, x_noisy, t: torch.Tensor) -> torch.Tensor:
        """All stages in one causal pass: (n, d), (n, d), t (n, K) -> (n, d)."""
        n, K = x_clean.shape[0], self.num_patches
        z = self.backbone(self.pad_patches(x_clean)[:, : K - 1])
        noisy = self.pad_patches(x_noisy)
        eps = self._head(noisy.reshape(n * K, -1), t.reshape(n * K), z.reshape(n * K, -1))
        return self.unpad_patches(eps.view(n, K, self.max_patch))
