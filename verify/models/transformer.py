"""AR-DM score network in the seed paper's shape: a causal transformer over clean patch tokens
and a per-patch MLP diffusion head.

Tokens are (BOS, x^1, ..., x^{K-1}) (each clean patch zero-padded, linearly embedded, plus a
learned position embedding). With causal attention the backbone output z_k at position k depends
only on x^{<k}; the head, shared by all patches, maps [pad(x^k_t), e(t), z_k] to eps_hat of
stage k. One causal pass over the clean sequence therefore gives every stage's conditioning at
once (teacher forcing); a single stage runs the backbone on its prefix alone.

Sampling caches keys and values (`context`): z_k needs the tokens 0..k, of which 0..k-1 were
already processed for stage k - 1, and causal attention never lets an earlier token see a later
one, so each stage pushes only its one new token through the blocks (attending to the cached keys
and values) instead of recomputing the prefix; the head then runs once per step (`denoise`).
"""

from __future__ import annotations

from typing import NamedTuple

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
        return self.attend(x)[0]

    def attend(self, x: torch.Tensor, past=None) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The block on new tokens x (n, l, width) that follow `past` = cached (keys, values) of
        the earlier tokens (n, heads, L, width / heads), or None; returns (output, keys and
        values of all L + l tokens). New token i attends to the L cached tokens and to new tokens
        j <= i."""
        n, length, width = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        cached = k.shape[2] - length
        if cached == 0:
            attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = torch.ones(length, k.shape[2], dtype=torch.bool, device=x.device).tril(cached)
            attended = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(attended.transpose(1, 2).reshape(n, length, width))
        return x + self.ff(self.norm2(x)), (k, v)


class KVCache(NamedTuple):
    """Keys and values of the first `length` tokens in every block, and z at the last of them."""

    length: int
    keys_values: list
    z: torch.Tensor


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

    def context(
        self, k: int, prefix: torch.Tensor, cache: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """z_k (n, width) of stage k from the clean prefix (n, sum_{j<k} d_j), pushing through
        the blocks only the tokens that `cache` (from an earlier stage of the same prefix) lacks;
        returns z_k and the cache of tokens 0..k."""
        n, start = prefix.shape[0], 0 if cache is None else cache.length
        if not 0 <= k < self.num_patches:
            raise ValueError(f"k: must be in [0, {self.num_patches}), got {k}")
        if prefix.ndim != 2 or prefix.shape[1] != self.patch_bounds[k]:
            raise ValueError(f"prefix: expected shape (n, {self.patch_bounds[k]}), got {tuple(prefix.shape)}")
        if start > k + 1:
            raise ValueError(f"cache: holds {start} tokens, more than stage {k} needs ({k + 1})")
        if start == k + 1:
            return cache.z, cache
        padded = self.pad_patches(nn.functional.pad(prefix, (0, self.dim - prefix.shape[1])))
        tokens = self.tokens(padded[:, max(start, 1) - 1 : k])  # token j >= 1 is patch j - 1
        if start == 0:
            tokens = torch.cat([self.bos.expand(n, 1, -1), tokens], dim=1)
        z, keys_values = tokens + self.positions[start : k + 1], []
        for i, block in enumerate(self.blocks):
            z, past = block.attend(z, None if cache is None else cache.keys_values[i])
            keys_values.append(past)
        z = self.norm(z[:, -1])
        return z, KVCache(k + 1, keys_values, z)

    def denoise(self, k: int, x_k: torch.Tensor, z: torch.Tensor, t) -> torch.Tensor:
        """eps_hat of stage k from its conditioning z_k (`context`): (n, d_k)."""
        eps = self._head(self.pad_patch(k, x_k), time_tensor(t, x_k.shape[0], x_k), z)
        return eps[:, : self.patch_sizes[k]]

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
