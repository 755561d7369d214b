"""Linear-Gaussian chains over K patches: one Gaussian with Markov structure (docs/math.md section 3).

x^1 ~ N(m, P_0), x^{k+1} = A_k x^k + b_k + eps_k with eps_k ~ N(0, Q) independent. The joint law
is N(mean, covariance) with, from the recursion,
  E x^{k+1} = A_k E x^k + b_k,   Cov(x^{k+1}) = A_k Cov(x^k) A_k^T + Q,
  Cov(x^j, x^{k+1}) = Cov(x^j, x^k) A_k^T  (j <= k).
Everything else is delegated to a single-component GaussianMixture, so scores are affine in x.
"""

from __future__ import annotations

import torch

from synthetic.base import Distribution
from synthetic.gaussian_mixture import GaussianMixture
from synthetic.validation import as_tensor, check_count, check_spd


def _per_step(name: str, value, steps: int, shape: tuple[int, ...]) -> torch.Tensor:
    """Broadcast a shared parameter `shape` to one per step (steps, *shape), checking shapes."""
    value = as_tensor(name, value)
    if value.shape == shape:
        return value.expand((steps, *shape))
    if value.shape == (steps, *shape):
        return value
    raise ValueError(f"{name}: must have shape {shape} or {(steps, *shape)}, got {tuple(value.shape)}")


class LinearGaussianChain(Distribution):
    """x^1 ~ N(initial_mean, initial_cov), x^{k+1} = A_k x^k + b_k + N(0, noise_cov), k < K.

    transition_matrices: (p, p) shared or (K-1, p, p); offsets: (p,) shared or (K-1, p).
    """

    has_hessian = True
    has_moments = True
    has_patch_marginals = True
    is_gaussian = True

    def __init__(
        self,
        num_patches: int,
        initial_mean,
        initial_cov,
        transition_matrices,
        offsets,
        noise_cov,
    ):
        num_patches = check_count("num_patches", num_patches)
        initial_mean = as_tensor("initial_mean", initial_mean, ndim=1)
        p = initial_mean.shape[0]
        if p == 0:
            raise ValueError("initial_mean: must have at least one entry")
        square = (p, p)
        initial_cov = check_spd("initial_cov", _per_step("initial_cov", initial_cov, 1, square)[0])
        noise_cov = check_spd("noise_cov", _per_step("noise_cov", noise_cov, 1, square)[0])
        steps = num_patches - 1
        transitions = _per_step("transition_matrices", transition_matrices, steps, square)
        offsets = _per_step("offsets", offsets, steps, (p,))

        means, blocks = [initial_mean], [[initial_cov]]  # blocks[k][j] = Cov(x^k, x^j), j <= k
        for k in range(steps):
            a = transitions[k]
            means.append(a @ means[-1] + offsets[k])
            row = [a @ blocks[k][j] for j in range(k + 1)]  # Cov(x^{k+1}, x^j) = A_k Cov(x^k, x^j)
            blocks.append(row + [a @ blocks[k][k] @ a.T + noise_cov])
        self._set_patches(num_patches * p, (p,) * num_patches)
        cov = initial_mean.new_zeros(self.dim, self.dim)
        for k, row in enumerate(blocks):
            for j, block in enumerate(row):
                rows, cols = self.patch_slice(k), self.patch_slice(j)
                cov[rows, cols] = block
                cov[cols, rows] = block.T
        self._mean, self._cov = torch.cat(means), 0.5 * (cov + cov.T)  # exactly symmetric
        self.gaussian = GaussianMixture(
            torch.ones(1, dtype=cov.dtype), self._mean[None], cov[None], patch_sizes=self.patch_sizes
        )

    def mean(self) -> torch.Tensor:
        """E x, shape (d,)."""
        return self._mean

    def covariance(self) -> torch.Tensor:
        """Cov x, shape (d, d)."""
        return self._cov

    def second_moment(self) -> float:
        """E||x||^2 = tr Cov x + ||E x||^2."""
        return float(self._cov.trace() + self._mean.square().sum())

    @property
    def component_means(self) -> torch.Tensor:
        return self._mean[None]

    def hessian(self, x, t: float = 0.0) -> torch.Tensor:
        """grad^2 log q_t = -C(t)^{-1} at every x, (n, d, d)."""
        return self.gaussian.hessian(x, t)

    def _patch_marginal(self, start: int, stop: int) -> GaussianMixture:
        """Patches start..stop-1: the Gaussian's sub-block (again one Gaussian)."""
        return self.gaussian.patch_marginal(start, stop)

    def affine_score(self, t: float):
        """(A, c) with grad log q_t(x) = x A^T + c."""
        return self.gaussian.affine_score(t)

    def conditional_affine_score(self, k: int, t: float):
        """(A, B, c) with grad_{x^k} log q_t(x^k | x^{<k}) = x^k A^T + x^{<k} B^T + c."""
        return self.gaussian.conditional_affine_score(k, t)

    def _sample_data(self, n, generator):
        return self.gaussian._sample_data(n, generator)

    def _log_prob(self, x, t):
        return self.gaussian._log_prob(x, t)

    def _score(self, x, t):
        return self.gaussian._score(x, t)

    def _conditional_log_prob(self, k, x_k, prefix, t):
        return self.gaussian._conditional_log_prob(k, x_k, prefix, t)

    def _conditional_score(self, k, x_k, prefix, t):
        return self.gaussian._conditional_score(k, x_k, prefix, t)

    def _conditional_sample_data(self, k, prefix, generator):
        return self.gaussian._conditional_sample_data(k, prefix, generator)
