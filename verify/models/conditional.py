"""AR-DM score networks: one network for every stage k, eps_hat(k, x^k_t, x^{<k}, t).

The conditional score estimate of stage k is s_theta(k, x^k, x^{<k}, t) = -eps_hat / s_t, with
OU noise on patch k only and the prefix x^{<k} clean (docs/math.md section 5, AR-DM).

`PatchScoreModel` is the shared interface: `forward(k, x_k, prefix, t)` for one stage, and
`forward_teacher(x_clean, x_noisy, t)` computing every stage at once for teacher forcing:
output patch k is eps_hat(k, x_noisy^k, x_clean^{<k}, t[:, k]).
`ConditionalScoreMLP` is the MLP member: it sees the noisy patch zero-padded to max d_k, e(t),
the clean prefix zero-padded to d with a 0/1 mask of the entries it may see (the whole prefix, or
a window of the last patches), and a stage embedding.
"""

from __future__ import annotations

import torch
from torch import nn

from synthetic.patches import Patches
from verify.models.embedding import SinusoidalTimeEmbedding, time_tensor
from verify.models.mlp import mlp


class PatchScoreModel(nn.Module):
    """Patch bookkeeping shared by the conditional networks; subclasses implement the two paths."""

    def __init__(self, patch_sizes):
        super().__init__()
        self.layout = Patches(patch_sizes)
        self.patch_sizes, self.patch_bounds = self.layout.sizes, self.layout.offsets
        self.dim, self.num_patches = self.layout.dim, len(self.layout)
        self.max_patch = max(self.patch_sizes)
        # entry j of patch k sits at slot k * max_patch + j of the padded (K, max_patch) grid
        width = self.max_patch
        slots = [k * width + j for k, size in enumerate(self.patch_sizes) for j in range(size)]
        self.register_buffer("slots", torch.tensor(slots), persistent=False)

    def pad_patches(self, x: torch.Tensor) -> torch.Tensor:
        """(n, d) -> (n, K, max_patch), each patch zero-padded."""
        out = x.new_zeros(x.shape[0], self.num_patches * self.max_patch)
        out[:, self.slots] = x
        return out.view(x.shape[0], self.num_patches, self.max_patch)

    def unpad_patches(self, y: torch.Tensor) -> torch.Tensor:
        """(n, K, max_patch) -> (n, d), the inverse of pad_patches."""
        return y.reshape(y.shape[0], -1)[:, self.slots]

    def pad_patch(self, k: int, x_k: torch.Tensor) -> torch.Tensor:
        """(n, d_k) -> (n, max_patch)."""
        return nn.functional.pad(x_k, (0, self.max_patch - self.patch_sizes[k]))

    def check_stage(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor) -> None:
        if not 0 <= k < self.num_patches:
            raise ValueError(f"k: must be in [0, {self.num_patches}), got {k}")
        if x_k.ndim != 2 or x_k.shape[1] != self.patch_sizes[k]:
            raise ValueError(f"x_k: expected shape (n, {self.patch_sizes[k]}), got {x_k.shape}")
        expected = (x_k.shape[0], self.patch_bounds[k])
        if prefix.shape != expected:
            raise ValueError(f"prefix: expected shape {expected}, got {tuple(prefix.shape)}")


def prefix_masks(patch_bounds, window: int | None = None) -> torch.Tensor:
    """(K, d) 0/1 masks: entry j is visible to stage k iff it lies in the last min(window, k)
    patches before k (all of x^{<k} when window is None)."""
    bounds = torch.tensor(patch_bounds)
    ends = bounds[:-1]
    stages = torch.arange(len(ends))
    starts = torch.zeros_like(ends) if window is None else bounds[(stages - window).clamp(min=0)]
    j = torch.arange(int(bounds[-1]))[None, :]
    return ((j >= starts[:, None]) & (j < ends[:, None])).float()


class ConditionalScoreMLP(PatchScoreModel):
    """One MLP shared across stages: [pad(x^k_t), e(t), pad(x^{<k}), mask_k, stage_k] -> eps.

    `window`: stage k sees only the last `window` patches x^{k-window..k-1} of its prefix (the
    others are masked to 0); None sees the whole prefix."""

    def __init__(
        self,
        patch_sizes,
        hidden: int = 128,
        depth: int = 3,
        time_features: int = 32,
        stage_features: int = 16,
        window: int | None = None,
    ):
        super().__init__(patch_sizes)
        if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 0):
            raise ValueError(f"window: must be None or a non-negative integer, got {window!r}")
        self.window = window
        self.register_buffer("prefix_masks", prefix_masks(self.patch_bounds, window), persistent=False)
        self.embed = SinusoidalTimeEmbedding(time_features)
        self.stage = nn.Embedding(self.num_patches, stage_features)
        inputs = self.max_patch + time_features + 2 * self.dim + stage_features
        self.net = mlp(inputs, hidden, depth, self.max_patch)

    def _eps(self, noisy, t, prefix, stage):
        """Rows (m, max_patch), (m,), (m, d) masked prefixes, (m,) stage ids -> (m, max_patch)."""
        mask = self.prefix_masks[stage].to(noisy.dtype)
        inputs = [noisy, self.embed(t), prefix * mask, mask, self.stage(stage).to(noisy.dtype)]
        return self.net(torch.cat(inputs, dim=-1))

    def forward(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor, t) -> torch.Tensor:
        """eps_hat of stage k: (n, d_k) noisy patch, (n, sum_{j<k} d_j) clean prefix -> (n, d_k)."""
        self.check_stage(k, x_k, prefix)
        n = x_k.shape[0]
        full = nn.functional.pad(prefix, (0, self.dim - prefix.shape[1]))
        stage = torch.full((n,), k, dtype=torch.long, device=x_k.device)
        eps = self._eps(self.pad_patch(k, x_k), time_tensor(t, n, x_k), full, stage)
        return eps[:, : self.patch_sizes[k]]

    def forward_teacher(self, x_clean, x_noisy, t: torch.Tensor) -> torch.Tensor:
        """All stages at once: (n, d), (n, d), t (n, K) -> (n, d)."""
        n, K = x_clean.shape[0], self.num_patches
        noisy = self.pad_patches(x_noisy).reshape(n * K, self.max_patch)
        prefix = x_clean[:, None, :].expand(n, K, self.dim).reshape(n * K, self.dim)
        stage = torch.arange(K, device=x_clean.device).repeat(n)
        eps = self._eps(noisy, t.reshape(n * K), prefix, stage)
        return self.unpad_patches(eps.view(n, K, self.max_patch))
