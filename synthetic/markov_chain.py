"""Hidden-state Markov-chain mixtures over K patches (docs/math.md section 3, "Markov-chain mixtures").

States s_1..s_K follow a homogeneous chain: s_1 ~ pi, s_{k+1} | s_k ~ P[s_k]; patch k is emitted
as x^k | s_k ~ N(mu_{s_k}, Sigma_{s_k}) in R^p, so d = K p. This is a Gaussian mixture with S^K
components, but OU noise acts on each patch separately, so q_t is the same chain with noised
emissions N(a_t mu_s, C_s(t)), C_s(t) = a_t^2 Sigma_s + s_t^2 I. Every quantity below comes from the
forward(-backward) recursion in log space, O(K S^2) per point, never enumerating S^K paths.
"""

from __future__ import annotations

import math

import torch

from synthetic.base import Distribution
from synthetic.chunking import row_slices
from synthetic.gaussian_mixture import GaussianMixture
from synthetic.ou import ou_scale, ou_variance
from synthetic.validation import (
    as_probability_vector,
    as_stochastic_matrix,
    as_tensor,
    check_count,
    check_points,
    check_spd,
    check_time,
)

MAX_ENUMERATED_COMPONENTS = 10**6


def _categorical(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One index per row of `probs` (..., S) by inverting the CDF at a uniform draw."""
    cdf = probs.cumsum(-1)
    cdf = cdf / cdf[..., -1:]
    u = torch.rand(cdf.shape[:-1] + (1,), dtype=cdf.dtype, device=cdf.device, generator=generator)
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_max(probs.shape[-1] - 1)


class MarkovChainMixture(Distribution):
    """q_0(x) = sum_{s_1..s_K} pi(s_1) prod_k P(s_k, s_{k+1}) prod_k N(x^k; mu_{s_k}, Sigma_{s_k}).

    initial (S,) = pi, transition (S, S) = P (rows stochastic), means (S, p), covariances
    (S, p, p), num_patches = K; patch_sizes = (p,) * K.
    """

    has_patch_marginals = True

    def __init__(self, initial, transition, means, covariances, num_patches: int):
        initial = as_probability_vector("initial", initial)
        transition = as_stochastic_matrix("transition", transition)
        num_states = initial.shape[0]
        if transition.shape[0] != num_states:
            raise ValueError(
                f"transition: must be ({num_states}, {num_states}) to match initial, "
                f"got {tuple(transition.shape)}"
            )
        means = as_tensor("means", means, ndim=2)
        if means.shape[0] != num_states or means.shape[1] == 0:
            raise ValueError(f"means: must be ({num_states}, p) with p >= 1, got {tuple(means.shape)}")
        p = means.shape[1]
        covariances = as_tensor("covariances", covariances, ndim=3)
        if covariances.shape != (num_states, p, p):
            raise ValueError(f"covariances: must be ({num_states}, {p}, {p}), got {tuple(covariances.shape)}")
        check_spd("covariances", covariances)
        num_patches = check_count("num_patches", num_patches)

        self._set_patches(num_patches * p, (p,) * num_patches)
        self.num_states, self.patch_dim = num_states, p
        self.initial, self.transition = initial, transition
        self.means, self.covariances = means, covariances
        self.log_initial, self.log_transition = initial.log(), transition.log()
        # Sigma_s = U diag(lam) U^T, so C_s(t) = U diag(a_t^2 lam + s_t^2) U^T at every t.
        self.eigvals, self.eigvecs = torch.linalg.eigh(covariances)
        self.root = self.eigvecs * self.eigvals.sqrt()[:, None, :]

    # ----- recursions ------------------------------------------------------------------------

    def _emission(self, x: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Noised emission log-densities e (n, K', S) and scores g (n, K', S, p) of x (n, K', p)."""
        a, var = ou_scale(t), self.eigvals * ou_scale(t) ** 2 + ou_variance(t)  # var: (S, p)
        centred = x[:, :, None, :] - a * self.means  # (n, K', S, p)
        z = torch.einsum("nksp,spq->nksq", centred, self.eigvecs) / var  # C^{-1}(x - a mu), eigenbasis
        quad = (z * z * var).sum(-1)
        log_det = var.log().sum(-1)
        e = -0.5 * (quad + log_det + self.patch_dim * math.log(2 * math.pi))
        g = -torch.einsum("nksq,spq->nksp", z, self.eigvecs)
        return e, g

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1, self.patch_dim)

    def _forward(self, e: torch.Tensor) -> torch.Tensor:
        """log alpha_k(s) = log p(x^{<=k}, s_k = s), shape (n, K', S)."""
        log_alpha = [self.log_initial + e[:, 0]]
        for k in range(1, e.shape[1]):
            step = torch.logsumexp(log_alpha[-1][:, :, None] + self.log_transition, dim=1)
            log_alpha.append(e[:, k] + step)
        return torch.stack(log_alpha, dim=1)

    def _backward(self, e: torch.Tensor) -> torch.Tensor:
        """log beta_k(s) = log p(x^{>k} | s_k = s), shape (n, K, S)."""
        log_beta = [torch.zeros_like(e[:, -1])]
        for k in range(e.shape[1] - 1, 0, -1):
            ahead = (e[:, k] + log_beta[-1])[:, None, :]
            log_beta.append(torch.logsumexp(self.log_transition + ahead, dim=2))
        return torch.stack(log_beta[::-1], dim=1)

    def _log_predictive(self, k: int, prefix: torch.Tensor) -> torch.Tensor:
        """log P(s_k = s | clean x^{<k}), shape (n, S)."""
        if k == 0:
            return self.log_initial.expand(prefix.shape[0], -1)
        e, _ = self._emission(self._patches(prefix), 0.0)
        last = self._forward(e)[:, -1]
        last = last - torch.logsumexp(last, dim=1, keepdim=True)
        return torch.logsumexp(last[:, :, None] + self.log_transition, dim=1)

    def _log_state_posteriors(self, x: torch.Tensor, t: float):
        e, g = self._emission(self._patches(x), t)
        joint = self._forward(e) + self._backward(e)
        return joint - torch.logsumexp(joint, dim=2, keepdim=True), g

    # ----- protocol --------------------------------------------------------------------------

    def _by_rows(self, fn, *rows: torch.Tensor) -> torch.Tensor:
        """fn applied to row chunks of `rows` so that the (n, K, S, p) and (n, S, S) intermediates
        stay under CHUNK_ELEMENTS entries whatever n; results concatenated."""
        per_row = self.num_patches * self.num_states * (self.patch_dim + 3) + self.num_states**2
        return torch.cat([fn(*(r[chunk] for r in rows)) for chunk in row_slices(rows[0].shape[0], per_row)])

    def _log_prob(self, x, t):
        def rows(x):
            e, _ = self._emission(self._patches(x), t)
            return torch.logsumexp(self._forward(e)[:, -1], dim=1)

        return self._by_rows(rows, x)

    def _score(self, x, t):
        def rows(x):
            log_post, g = self._log_state_posteriors(x, t)
            return (log_post.exp()[..., None] * g).sum(2).reshape(x.shape)

        return self._by_rows(rows, x)

    def _conditional_terms(self, k, x_k, prefix, t):
        """log P(s_k = s | x^{<k}) + log N(x^k; a_t mu_s, C_s(t)) (n, S) and g_s(x^k) (n, S, p)."""
        e, g = self._emission(x_k[:, None, :], t)
        return self._log_predictive(k, prefix) + e[:, 0], g[:, 0]

    def _conditional_log_prob(self, k, x_k, prefix, t):
        def rows(x_k, prefix):
            log_joint, _ = self._conditional_terms(k, x_k, prefix, t)
            return torch.logsumexp(log_joint, dim=1)

        return self._by_rows(rows, x_k, prefix)

    def _conditional_score(self, k, x_k, prefix, t):
        def rows(x_k, prefix):
            log_joint, g = self._conditional_terms(k, x_k, prefix, t)
            return (torch.softmax(log_joint, dim=1)[..., None] * g).sum(1)

        return self._by_rows(rows, x_k, prefix)

    def _emit(self, states: torch.Tensor, generator) -> torch.Tensor:
        """Clean emissions mu_s + Sigma_s^{1/2} z for a (n, K') state array, shape (n, K' p)."""
        z = torch.randn(
            states.shape + (self.patch_dim,),
            dtype=self.means.dtype,
            device=states.device,
            generator=generator,
        )
        x = self.means[states] + (self.root[states] @ z[..., None]).squeeze(-1)
        return x.reshape(states.shape[0], -1)

    def _sample_data(self, n, generator):
        states = [_categorical(self.initial.expand(n, -1), generator)]
        for _ in range(1, self.num_patches):
            states.append(_categorical(self.transition[states[-1]], generator))
        return self._emit(torch.stack(states, dim=1), generator)

    def _conditional_sample_data(self, k, prefix, generator):
        states = _categorical(self._log_predictive(k, prefix).exp(), generator)
        return self._emit(states[:, None], generator)

    # ----- extras ----------------------------------------------------------------------------

    def state_posteriors(self, x, t: float = 0.0) -> torch.Tensor:
        """P(s_k = s | X_t = x) by forward-backward, shape (n, K, S)."""
        x, t = check_points("x", x, self.dim), check_time(t)
        return self._by_rows(lambda x: self._log_state_posteriors(x, t)[0].exp(), x)

    def _patch_marginal(self, start: int, stop: int) -> MarkovChainMixture:
        """Patches start..stop-1 of a homogeneous chain: the same chain over stop - start patches,
        started from the state law at `start`, pi P^start."""
        law = (self.initial @ torch.linalg.matrix_power(self.transition, start)).clamp_min(0.0)
        num_patches = stop - start
        return MarkovChainMixture(law / law.sum(), self.transition, self.means, self.covariances, num_patches)

    def stationary(self) -> torch.Tensor:
        """A stationary law pi P = pi of the hidden chain (unique when P is irreducible), (S,)."""
        eye = torch.eye(self.num_states, dtype=self.transition.dtype, device=self.transition.device)
        system = torch.cat([self.transition.T - eye, torch.ones_like(eye[:1])])
        rhs = torch.zeros(self.num_states + 1, 1, dtype=eye.dtype, device=eye.device)
        rhs[-1] = 1.0
        return torch.linalg.lstsq(system, rhs).solution[:, 0].clamp_min(0.0)

    def to_mixture(self) -> GaussianMixture:
        """The same law as an explicit S^K-component GaussianMixture (test oracle, small K only)."""
        count = self.num_states**self.num_patches
        if count > MAX_ENUMERATED_COMPONENTS:
            raise ValueError(
                f"num_patches: enumerating S^K = {self.num_states}^{self.num_patches} = {count} "
                f"components exceeds {MAX_ENUMERATED_COMPONENTS}"
            )
        grids = torch.meshgrid(
            *[torch.arange(self.num_states, device=self.means.device)] * self.num_patches,
            indexing="ij",
        )
        paths = torch.stack(grids, dim=-1).reshape(count, self.num_patches)
        log_w = self.log_initial[paths[:, 0]]
        for k in range(self.num_patches - 1):
            log_w = log_w + self.log_transition[paths[:, k], paths[:, k + 1]]
        weights = log_w.exp()
        covariances = self.means.new_zeros(count, self.dim, self.dim)
        for k in range(self.num_patches):
            cols = self.patch_slice(k)
            covariances[:, cols, cols] = self.covariances[paths[:, k]]
        return GaussianMixture(
            weights / weights.sum(),
            self.means[paths].reshape(count, self.dim),
            covariances,
            patch_sizes=self.patch_sizes,
        )
