"""Sampling AR-DM networks whose stage-k conditioning depends on the clean prefix only, and the
size bookkeeping (parameters, multiply-accumulates) used to compare networks at matched cost.

A staged network offers `context(k, prefix, cache) -> (z_k, cache)` and `denoise(k, x_k, z_k, t)`
(`verify.models.patch_context.PatchContextScore`; `verify.models.transformer.CausalTransformerScore`,
whose cache holds the keys and values of the prefix tokens). `StagedScore` turns one into the
conditional score callable of `verify.samplers.sample_ar`, computing z_k once per stage.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from synthetic.ou import ou_variance


class StagedScore:
    """score(k, x_k, prefix, t) = -eps_hat / s_t, s_t^2 = 1 - e^{-2t}, float64 (n, d_k) out, with
    z_k = model.context(k, prefix) computed once per stage: reused while k and the prefix stay the
    same, extended from stage k - 1's cache when the prefix only grew by patch k - 1, else rebuilt."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.contexts = 0  # how many times a stage context was computed
        self._stage, self._prefix, self._z, self._cache = None, None, None, None

    def _same_prefix(self, prefix: torch.Tensor, length: int) -> bool:
        old = self._prefix
        return (
            old is not None
            and old.shape == (prefix.shape[0], length)
            and torch.equal(old, prefix[:, :length])
        )

    def __call__(self, k: int, x_k: torch.Tensor, prefix: torch.Tensor, t: float) -> torch.Tensor:
        if not t > 0:
            raise ValueError(f"t: a network score needs t > 0, got {t}")
        p = next(self.model.parameters())
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                if not (
                    k == self._stage
                    and (prefix is self._prefix or self._same_prefix(prefix, prefix.shape[1]))
                ):
                    grown = self._stage == k - 1 and self._same_prefix(
                        prefix, 0 if self._prefix is None else self._prefix.shape[1]
                    )
                    cache = self._cache if grown else None
                    self._z, self._cache = self.model.context(k, prefix.to(p.device, p.dtype), cache)
                    self._stage, self._prefix = k, prefix
                    self.contexts += 1
                eps = self.model.denoise(k, x_k.to(p.device, p.dtype), self._z, float(t))
        finally:
            self.model.train(was_training)
        return (-eps / math.sqrt(ou_variance(t))).to(x_k.device, torch.float64)


def linear_macs(module: nn.Module) -> int:
    """Multiply-accumulates per sample of the nn.Linear layers in `module` (one call, one token)."""
    return sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))
