"""Products of per-patch distributions: the no-dependence control.

q_0(x) = prod_k q^k(x^k). OU noise acts on each patch separately, so q_t = prod_k q^k_t as well:
log-densities add, scores concatenate, and q_t(x^k | x^{<k}) = q^k_t(x^k) ignores the prefix.
"""

from __future__ import annotations

import torch

from synthetic.base import Distribution


class IndependentPatches(Distribution):
    """Product of `patches`, a sequence of Distributions each with a single patch."""

    has_patch_marginals = True

    def __init__(self, patches):
        patches = tuple(patches)
        if not patches:
            raise ValueError("patches: need at least one distribution")
        for i, part in enumerate(patches):
            if not isinstance(part, Distribution):
                raise ValueError(f"patches: entry {i} is not a Distribution ({type(part).__name__})")
            if part.num_patches != 1:
                raise ValueError(f"patches: entry {i} has {part.num_patches} patches, expected 1")
        self.patches = patches
        self._set_patches(sum(p.dim for p in patches), tuple(p.dim for p in patches))

    def _patch_marginal(self, start, stop):
        """Patches start..stop-1: the product of those factors."""
        return IndependentPatches(self.patches[start:stop])

    def _sample_data(self, n, generator):
        return torch.cat([part._sample_data(n, generator) for part in self.patches], dim=1)

    def _log_prob(self, x, t):
        parts = zip(self.patches, self.split(x), strict=True)
        return torch.stack([part._log_prob(x_k, t) for part, x_k in parts]).sum(0)

    def _score(self, x, t):
        parts = zip(self.patches, self.split(x), strict=True)
        return torch.cat([part._score(x_k, t) for part, x_k in parts], dim=1)

    def _conditional_log_prob(self, k, x_k, prefix, t):
        return self.patches[k]._log_prob(x_k, t)

    def _conditional_score(self, k, x_k, prefix, t):
        return self.patches[k]._score(x_k, t)

    def _conditional_sample_data(self, k, prefix, generator):
        return self.patches[k]._sample_data(prefix.shape[0], generator)
