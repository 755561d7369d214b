"""Gaussian mixtures: exact density, score, Hessian and conditionals at every OU time (docs/math.md s. 3).

q_0 = sum_i pi_i N(mu_i, Sigma_i) gives q_t = sum_i pi_i N(a_t mu_i, C_i(t)), C_i(t) = a_t^2 Sigma_i
+ s_t^2 I. Each Sigma_i is eigendecomposed once, Sigma_i = U_i L_i U_i^T, so every t is the diagonal
update C_i(t) = U_i (a_t^2 L_i + s_t^2) U_i^T; diagonal and isotropic covariances skip the rotation
(U_i = I) and never form d x d matrices. Full covariances whiten: with W_i = U_i diag(lam_i^{-1/2}),
lam_i = a_t^2 L_i + s_t^2, the whitened residuals y_i = W_i^T (x - a_t mu_i) of all M components are
one matrix product x W_all (W_all = [W_1 ... W_M], d x Md) minus the offsets a_t W_i^T mu_i,
log N_i = -(|y_i|^2 + log det 2 pi C_i) / 2, and the score -sum_i w_i W_i y_i is a second product,
of the weighted block (w_i y_i)_i with W_all^T. The time-t coefficients are formed once per call.
Everything is float64, log-sum-exp, and chunked over the batch into cache-sized blocks, so that
memory stays bounded whatever n, M and d.

Conditionals of patch b = x^k given the clean prefix a = x^{<k} (block Gaussian conditioning):
q(b | a) = sum_i w~_i(a) N(b; m_i(a), S_i^c) with m_i(a) = mu_{i,b} + B_i (a - mu_{i,a}),
B_i = S_{i,ba} S_{i,aa}^{-1}, S_i^c = S_{i,bb} - B_i S_{i,ab} and w~_i(a) ∝ pi_i N(a; mu_{i,a}, S_{i,aa});
noising patch k only keeps w~_i(a) and maps each component to N(a_t m_i(a), a_t^2 S_i^c + s_t^2 I).
"""

from __future__ import annotations

import math

import torch

from synthetic.base import Distribution
from synthetic.chunking import row_slices
from synthetic.ou import ou_scale, ou_variance
from synthetic.random import standard_normal, standard_uniform
from synthetic.validation import (
    DTYPE,
    as_probability_vector,
    as_tensor,
    check_points,
    check_spd,
    check_time,
)

# float64 entries of one (rows, M, width) intermediate: 2 MiB, so that a block stays in cache (32 MiB
# blocks were 3x slower on a 2-core CPU: page faults of fresh allocations and memory traffic).
_LOG_2PI = math.log(2.0 * math.pi)


class _Block:
    """M Gaussian components of a patch b, optionally conditioned on a clean prefix a.

    Component i noised to time t is N(a_t m_i(a), U_i diag(lam_i) U_i^T), lam_i = a_t^2 L_i + s_t^2,
    with weights pi_i without a prefix and w~_i(a) from `prefix` (the mixture of a alone, at t = 0)
    with one. Subclasses hold U_i and m_i(a): `_AxisBlock` (U_i = I, m_i constant) and
    `_RotatedBlock` (general U_i, m_i(a) affine in a).
    """

    def __init__(self, log_weights, vals, prefix):
        self.log_weights = log_weights  # (M,) log pi_i
        self.vals = vals  # (M, d) eigenvalues L_i
        self.prefix = prefix  # _Block of the prefix marginal, or None
        self.num_components, self.dim = vals.shape
        self.prefix_dim = 0 if prefix is None else prefix.dim
        self._last = None  # (t, coefficients of time t): shared by all chunks of one call

    def chunks(self, n: int, per_row: int = 0):
        """Row slices keeping every (rows, M, width) intermediate, and any other one of `per_row`
        entries a row, under CHUNK_ELEMENTS entries."""
        per_row = max(self.num_components * max(self.dim, self.prefix_dim, 1), per_row)
        return row_slices(n, per_row)

    def variances(self, t: float):
        """lam_i = a_t^2 L_i + s_t^2, the eigenvalues of C_i(t), (M, d)."""
        return ou_scale(t) ** 2 * self.vals + ou_variance(t)

    def log_weights_given(self, prefix):
        """log pi_i (M,) without a prefix, else log w~_i(a) (n, M)."""
        if self.prefix is None:
            return self.log_weights
        return self.prefix.terms(prefix, None, 0.0)[1]

    def coefficients(self, t: float):
        """The time-t coefficients of `_log_densities`, computed once for all chunks of a call."""
        if self._last is None or self._last[0] != t:
            lam = self.variances(t)
            log_det = lam.log().sum(-1) + self.dim * _LOG_2PI
            self._last = (t, self._coefficients(t, lam, log_det))
        return self._last[1]

    def terms(self, x, prefix, t: float):
        """log q_t(x [| a]) (n,), log posterior weights log w_i(x) (n, M) and the state that
        `mean_gradient` and `gradients` read."""
        log_density, state = self._log_densities(x, prefix, self.coefficients(t))
        logits = self.log_weights_given(prefix) + log_density
        log_norm = torch.logsumexp(logits, dim=-1)
        return log_norm, logits - log_norm.unsqueeze(-1), state

    def sample(self, n: int, prefix, generator):
        """n clean draws (t = 0): component by inverse CDF of one uniform, then the Gaussian."""
        device = self.vals.device
        uniform = standard_uniform(n, generator, device)
        noise = standard_normal((n, self.dim), generator, device)
        out = []
        for rows in self.chunks(n, per_row=self.dim * max(self.dim, self.prefix_dim)):
            a = None if prefix is None else prefix[rows]
            cdf = torch.softmax(self.log_weights_given(a), dim=-1).cumsum(-1)
            u = uniform[rows] if cdf.ndim == 1 else uniform[rows].unsqueeze(-1)
            idx = torch.searchsorted(cdf, u, right=True).reshape(-1)
            out.append(self._place(idx.clamp_(max=self.num_components - 1), noise[rows], a))
        return torch.cat(out)

    def affine(self, t: float):
        """M = 1, score = x A^T + a B^T + c: A = -C^{-1}, B = a_t C^{-1} B_1, c = a_t C^{-1} m_1(0)."""
        vecs, reg, center = self._single()
        scaled = vecs / self.variances(t)[0]  # U diag(1 / lam)
        a_t = ou_scale(t)
        return -scaled @ vecs.T, a_t * scaled @ reg, a_t * scaled @ center


class _AxisBlock(_Block):
    """U_i = I and constant means mu_i (diagonal or isotropic covariances): everything is an
    (n, M) matrix product, expanding |x - a_t mu_i|^2_{P_i} (P_i = diag(1 / lam_i)) after shifting x
    and mu_i by a common reference point; no (n, M, d) or d x d array is formed."""

    def __init__(self, log_weights, vals, means, prefix=None):
        super().__init__(log_weights, vals, prefix)
        self.means = means  # (M, d)
        self.reference = means.mean(0)  # shift against cancellation in the expanded square

    def _coefficients(self, t, lam, log_det):
        """log N(x; a_t mu_i, diag(lam_i)) = [x^2, x, 1] . [-P_i / 2, a_t mu_i P_i, c_i] (shifted)."""
        shift, prec = ou_scale(t) * self.reference, lam.reciprocal()
        mu = ou_scale(t) * self.means - shift
        const = -0.5 * ((mu.square() * prec).sum(-1, keepdim=True) + log_det.unsqueeze(-1))
        return shift, mu, prec, torch.cat([-0.5 * prec, mu * prec, const], dim=1).T

    @staticmethod
    def _log_densities(x, prefix, coefficients):
        shift, mu, prec, coef = coefficients
        x = x - shift
        features = torch.cat([x.square(), x, x.new_ones(x.shape[0], 1)], dim=1)
        return features @ coef, (x, mu, prec)

    @staticmethod
    def mean_gradient(w, state):
        """sum_i w_i g_i = -(x sum_i w_i P_i - sum_i w_i P_i a_t mu_i), P_i = diag(1 / lam_i)."""
        x, mu, prec = state
        return w @ (mu * prec) - x * (w @ prec)

    @staticmethod
    def gradients(state):
        """g_i = -P_i (x - a_t mu_i), (n, M, d)."""
        x, mu, prec = state
        return (mu - x.unsqueeze(1)) * prec

    def precision_sum(self, w, t):
        """sum_i w_i C_i(t)^{-1}, (n, d, d)."""
        return torch.diag_embed(w @ self.variances(t).reciprocal())

    def _place(self, idx, noise, prefix):
        return self.means[idx] + self.vals[idx].sqrt() * noise

    def _single(self):
        eye = torch.eye(self.dim, dtype=DTYPE, device=self.vals.device)
        return eye, self.vals.new_zeros(self.dim, self.prefix_dim), self.means[0]


class _RotatedBlock(_Block):
    """General U_i with U_i^T m_i(a) = center_i + R_i a (R_i = U_i^T B_i). With W_i = U_i lam_i^{-1/2},
    y_i = W_i^T (x - a_t m_i(a)) is one matrix product for all i: the quadratic form is |y_i|^2 and
    g_i = -W_i y_i."""

    def __init__(self, log_weights, vals, vecs, center, regression=None, prefix=None):
        super().__init__(log_weights, vals, prefix)
        m, d = vals.shape
        # rot[j, (i, e)] = U_i[j, e]: x @ rot = (U_i^T x)_i and v @ rot^T = sum_i U_i v_i.
        self.rot = vecs.permute(1, 0, 2).reshape(d, m * d)
        self.vecs = self.rot.view(d, m, d).permute(1, 0, 2)  # (M, d, d), a view of rot
        self.center = center  # (M, d)
        self.regression = regression  # (M, d, p), or None
        self.reg = None if regression is None else regression.permute(2, 0, 1).reshape(-1, m * d)

    def _coefficients(self, t, lam, log_det):
        """W_all = [W_1 ... W_M] (d, Md) and the offsets: y_i = x W_i + h_i * (center_i + R_i a) with
        h_i = -a_t lam_i^{-1/2}, flattened to Md columns."""
        root = lam.rsqrt()  # (M, d)
        shift = -ou_scale(t) * root.reshape(-1)
        reg = None if self.reg is None else self.reg * shift
        return self.rot * root.reshape(-1), shift * self.center.reshape(-1), reg, root, log_det

    @staticmethod
    def _log_densities(x, prefix, coefficients):
        """log N(x; a_t m_i(a), C_i(t)) = -(|y_i|^2 + log det(2 pi C_i)) / 2."""
        scaled_rot, center, reg, root, log_det = coefficients
        if reg is not None:
            center = torch.addmm(center, prefix, reg)
        y = torch.addmm(center, x, scaled_rot).view(-1, *root.shape)
        return -0.5 * (torch.einsum("nmd,nmd->nm", y, y) + log_det), (y, scaled_rot, root)

    @staticmethod
    def mean_gradient(w, state):
        """sum_i w_i g_i = -W_all (w_i y_i)_i, the second matrix product."""
        y, scaled_rot, _ = state
        return -(w.unsqueeze(-1) * y).reshape(y.shape[0], -1) @ scaled_rot.T

    def gradients(self, state):
        y, _, root = state
        return -torch.einsum("mde,nme->nmd", self.vecs, y * root)

    def precision_sum(self, w, t):
        d = self.dim
        precision = (self.vecs / self.variances(t).unsqueeze(1)) @ self.vecs.transpose(1, 2)
        return (w @ precision.reshape(-1, d * d)).view(-1, d, d)

    def _place(self, idx, noise, prefix):
        y = self.center[idx] + self.vals[idx].sqrt() * noise
        if self.regression is not None:
            y = y + (self.regression[idx] @ prefix.unsqueeze(-1)).squeeze(-1)
        return (self.vecs[idx] @ y.unsqueeze(-1)).squeeze(-1)

    def _single(self):
        if self.regression is None:
            reg = self.vals.new_zeros(self.dim, self.prefix_dim)
        else:
            reg = self.regression[0]
        return self.vecs[0], reg, self.center[0]


class GaussianMixture(Distribution):
    """q_0 = sum_i pi_i N(mu_i, Sigma_i) in R^d, exact at every OU time t.

    weights (M,) pi; means (M, d) mu; covariances full (M, d, d), diagonal (M, d) or isotropic
    (M,) (variances); patch_sizes split x into patches x^1..x^K (default one patch).
    """

    has_hessian = True
    has_moments = True
    has_patch_marginals = True

    @property
    def is_gaussian(self) -> bool:
        return self.num_components == 1

    @property
    def component_means(self) -> torch.Tensor:
        return self.means

    def __init__(self, weights, means, covariances, patch_sizes=None):
        weights = as_probability_vector("weights", weights)
        means = as_tensor("means", means, ndim=2)
        m = weights.shape[0]
        if means.shape[0] != m or means.shape[1] == 0:
            raise ValueError(
                f"means: expected shape ({m}, d) with d >= 1 (one row per weight), got {tuple(means.shape)}"
            )
        d = means.shape[1]
        cov = as_tensor("covariances", covariances)
        expected = {3: (m, d, d), 2: (m, d), 1: (m,)}
        if cov.ndim not in expected or tuple(cov.shape) != expected[cov.ndim]:
            raise ValueError(
                f"covariances: expected full ({m}, {d}, {d}), diagonal ({m}, {d}) or isotropic "
                f"({m},), got {tuple(cov.shape)}"
            )
        if cov.ndim == 3:
            check_spd("covariances", cov)
        elif (cov <= 0).any():
            raise ValueError("covariances: variances must be positive")
        self._set_patches(d, patch_sizes)
        self.weights, self.means, self.num_components = weights, means, m
        self._cov = cov
        self._cache: dict = {}

    # ----- parameters and moments ------------------------------------------------------------

    @property
    def covariances(self) -> torch.Tensor:
        """Sigma_i as full (M, d, d) matrices (materialised on first access)."""
        if self._cov.ndim == 3:
            return self._cov
        if "covariances" not in self._cache:
            self._cache["covariances"] = torch.diag_embed(self._axis_variances())
        return self._cache["covariances"]

    def _axis_variances(self) -> torch.Tensor:
        """Diagonal/isotropic variances as (M, d) (a view for the isotropic case)."""
        cov = self._cov
        return cov.unsqueeze(-1).expand(-1, self.dim) if cov.ndim == 1 else cov

    def to(self, device) -> GaussianMixture:
        clone = super().to(device)
        clone._cache = {}
        return clone

    def mean(self) -> torch.Tensor:
        """E[X_0] = sum_i pi_i mu_i, shape (d,)."""
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        """Cov[X_0] = sum_i pi_i (Sigma_i + (mu_i - m)(mu_i - m)^T), shape (d, d)."""
        if self._cov.ndim == 3:
            within = torch.einsum("m,mab->ab", self.weights, self._cov)
        else:
            within = torch.diag(self.weights @ self._axis_variances())
        centred = self.means - self.mean()
        return within + (centred.T * self.weights) @ centred

    def second_moment(self) -> float:
        """E||X_0||^2 = sum_i pi_i (tr Sigma_i + ||mu_i||^2)."""
        traces = self._cov.diagonal(dim1=-2, dim2=-1) if self._cov.ndim == 3 else self._axis_variances()
        return float(self.weights @ (traces.sum(-1) + self.means.square().sum(-1)))

    def marginal(self, k: int) -> GaussianMixture:
        """The mixture of patch k alone: sum_i pi_i N(mu_{i,k}, Sigma_{i,kk}) (one patch)."""
        k = self._check_patch_index(k)
        return self._patch_marginal(k, k + 1)

    def _patch_marginal(self, start: int, stop: int) -> GaussianMixture:
        """Block marginalisation: sum_i pi_i N(mu_{i,w}, Sigma_{i,ww}), w the columns of the patches."""
        cols = self.layout.span(start, stop)
        cov = self._cov
        if cov.ndim == 3:
            cov = cov[:, cols, cols]
        elif cov.ndim == 2:
            cov = cov[:, cols]
        return GaussianMixture(self.weights, self.means[:, cols], cov, self.patch_sizes[start:stop])

    # ----- blocks: eigendecompositions and regressions, computed once and cached ---------------

    def _marginal_block(self, cols: slice) -> _Block:
        """Components of x[cols] alone (Sigma_i = U_i L_i U_i^T eigendecomposed once)."""
        key = ("marginal", cols.start, cols.stop)
        if key not in self._cache:
            log_weights, mu = self.weights.log(), self.means[:, cols]
            if self._cov.ndim == 3:
                vals, vecs = torch.linalg.eigh(self._cov[:, cols, cols])
                center = torch.einsum("mde,md->me", vecs, mu)
                block = _RotatedBlock(log_weights, vals, vecs, center)
            else:
                block = _AxisBlock(log_weights, self._axis_variances()[:, cols], mu)
            self._cache[key] = block
        return self._cache[key]

    def _conditional_block(self, k: int) -> _Block:
        """Components of x^k given x^{<k}: w~_i(a), m_i(a) = mu_b + B_i (a - mu_a), S_i^c."""
        cols = self.patch_slice(k)
        if k == 0:
            return self._marginal_block(cols)
        key = ("conditional", k)
        if key not in self._cache:
            p = cols.start
            prefix = self._marginal_block(slice(0, p))
            mu_a, mu_b = self.means[:, :p], self.means[:, cols]
            if self._cov.ndim == 3:
                s_aa, s_ab = self._cov[:, :p, :p], self._cov[:, :p, cols]
                gain = torch.cholesky_solve(s_ab, torch.linalg.cholesky(s_aa)).transpose(1, 2)
                s_c = self._cov[:, cols, cols] - gain @ s_ab
                vals, vecs = torch.linalg.eigh(0.5 * (s_c + s_c.transpose(1, 2)))
                shift = mu_b - (gain @ mu_a.unsqueeze(-1)).squeeze(-1)
                center = torch.einsum("mde,md->me", vecs, shift)
                regression = vecs.transpose(1, 2) @ gain
                block = _RotatedBlock(prefix.log_weights, vals, vecs, center, regression, prefix)
            else:
                vals = self._axis_variances()[:, cols]
                block = _AxisBlock(prefix.log_weights, vals, mu_b, prefix)
            self._cache[key] = block
        return self._cache[key]

    def _joint_block(self) -> _Block:
        return self._marginal_block(slice(0, self.dim))

    @staticmethod
    def _map(block: _Block, x, prefix, t: float, reduce, per_row: int = 0) -> torch.Tensor:
        """Apply reduce(block, log_norm, log_w, state) chunk by chunk and concatenate."""
        out = []
        for rows in block.chunks(x.shape[0], per_row):
            a = None if prefix is None else prefix[rows]
            out.append(reduce(block, *block.terms(x[rows], a, t)))
        return torch.cat(out)

    @staticmethod
    def _log_norm(block, log_norm, log_w, state):
        return log_norm

    @staticmethod
    def _mean_gradient(block, log_norm, log_w, state):
        """grad log q = sum_i w_i g_i."""
        return block.mean_gradient(log_w.exp(), state)

    # ----- protocol --------------------------------------------------------------------------

    def _sample_data(self, n, generator):
        return self._joint_block().sample(n, None, generator)

    def _log_prob(self, x, t):
        return self._map(self._joint_block(), x, None, t, self._log_norm)

    def _score(self, x, t):
        return self._map(self._joint_block(), x, None, t, self._mean_gradient)

    def _conditional_log_prob(self, k, x_k, prefix, t):
        return self._map(self._conditional_block(k), x_k, prefix, t, self._log_norm)

    def _conditional_score(self, k, x_k, prefix, t):
        return self._map(self._conditional_block(k), x_k, prefix, t, self._mean_gradient)

    def _conditional_sample_data(self, k, prefix, generator):
        return self._conditional_block(k).sample(prefix.shape[0], prefix, generator)

    # ----- extras ----------------------------------------------------------------------------

    def hessian(self, x, t: float = 0.0) -> torch.Tensor:
        """Hessian of log q_t, (n, d, d): -sum_i w_i C_i^{-1} + sum_i w_i (g_i - g)(g_i - g)^T
        with g = sum_i w_i g_i (equal to docs/math.md's sum_i w_i g_i g_i^T - g g^T)."""
        x, t = check_points("x", x, self.dim), check_time(t)

        def reduce(block, log_norm, log_w, state):
            w = log_w.exp()
            g = block.gradients(state)
            g = g - (w.unsqueeze(-1) * g).sum(1, keepdim=True)
            return (w.unsqueeze(-1) * g).transpose(1, 2) @ g - block.precision_sum(w, t)

        return self._map(self._joint_block(), x, None, t, reduce, per_row=self.dim**2)

    def posterior_mean(self, x, t: float = 0.0) -> torch.Tensor:
        """Tweedie: E[X_0 | X_t = x] = e^t (x + s_t^2 grad log q_t(x)), shape (n, d)."""
        x, t = check_points("x", x, self.dim), check_time(t)
        return math.exp(t) * (x + ou_variance(t) * self._score(x, t))

    def _require_single(self, method: str) -> None:
        if self.num_components != 1:
            raise ValueError(
                f"weights: {method} needs a single Gaussian (M == 1), got M = {self.num_components}"
            )

    def affine_score(self, t: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """M = 1: (A, c) with score(x, t) = x A^T + c, A = -C(t)^{-1}, c = a_t C(t)^{-1} mu."""
        self._require_single("affine_score")
        a_mat, _, c = self._joint_block().affine(check_time(t))
        return a_mat, c

    def conditional_affine_score(
        self, k: int, t: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """M = 1: (A, B, c) with conditional_score(k, x_k, prefix, t) = x_k A^T + prefix B^T + c:
        A = -C_c^{-1}, B = a_t C_c^{-1} B_k, c = a_t C_c^{-1} (mu_b - B_k mu_a), C_c = a_t^2 S^c + s_t^2 I.
        """
        self._require_single("conditional_affine_score")
        k = self._check_patch_index(k)
        return self._conditional_block(k).affine(check_time(t))
