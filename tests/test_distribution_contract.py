"""The Distribution protocol (docs/design.md, "Public API"), checked the same way on every family and
preset: what the mathematics guarantees of any exact ground truth, whatever its family.

- chain rule: log q_0(x) = sum_k log q_0(x^k | x^{<k});
- conditionals against the joint: q_0(x^k | a) = q_{<=k}(a, x^k) / int q_{<=k}(a, y) dy, the joint
  of the first k + 1 patches from `patch_marginal` (the full joint for the last patch), the
  integral by quadrature on a grid (d_k <= 2) or by importance sampling (d_k > 2); noised
  conditionals integrate to one; a window's marginal integrates the joint over patch 0;
- reproducibility: a seeded generator fixes every draw;
- scores: score = grad_x log q_t and conditional_score = grad_{x^k} log q_t(x^k | a), by autograd,
  at t = 0 and t > 0;
- declared capabilities hold (Hessian = Jacobian of the score, affine scores, closed-form moments);
- bad input raises ValueError naming the parameter.
Family-specific oracles (scipy, enumeration of Markov paths, block constructions) stay in the
per-family files.
"""

from __future__ import annotations

import math

import pytest
import torch

from synthetic import GaussianMixture, IndependentPatches, LinearGaussianChain, MarkovChainMixture, presets
from synthetic.base import Distribution

pytestmark = pytest.mark.property

F64 = torch.float64
TIMES = (0.0, 0.4)
QUADRATURE_NODES = {1: 2001, 2: 201}  # nodes per axis of the grid over patch k
QUADRATURE_ATOL = 1e-7  # on log-densities: trapezoid error of smooth, fast-decaying integrands
IMPORTANCE_DRAWS = 200_000
STUDENT_DOF = 5  # importance proposal: heavier tails than any Gaussian mixture, so the weights are bounded
BANDS = 5.0  # Monte Carlo checks: within 5 standard errors


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _mixture(kind: str, sizes: tuple[int, ...], seed: int) -> GaussianMixture:
    """Three off-centre, anisotropic, unequally weighted components."""
    g, d = _generator(seed), sum(sizes)
    weights = torch.softmax(torch.randn(3, generator=g, dtype=F64), 0)
    means = 1.0 + 1.5 * torch.randn(3, d, generator=g, dtype=F64)
    if kind == "full":
        root = torch.randn(3, d, d, generator=g, dtype=F64) * torch.linspace(0.3, 0.9, d, dtype=F64)
        cov = root @ root.transpose(1, 2) + 0.1 * torch.eye(d, dtype=F64)
    elif kind == "diagonal":
        cov = 0.1 + torch.rand(3, d, generator=g, dtype=F64)
    else:
        cov = 0.1 + torch.rand(3, generator=g, dtype=F64)
    return GaussianMixture(weights, means, cov, patch_sizes=sizes)


def _markov_chain() -> MarkovChainMixture:
    """S = 3 states, K = 3 patches of p = 2, zeros in P, unequal initial law."""
    g = _generator(5)
    transition = torch.rand(3, 3, generator=g, dtype=F64) + 0.05
    transition[0, 1] = 0.0
    transition = transition / transition.sum(1, keepdim=True)
    means = 0.5 + 1.5 * torch.randn(3, 2, generator=g, dtype=F64)
    roots = torch.randn(3, 2, 2, generator=g, dtype=F64)
    covariances = 0.3 * roots @ roots.transpose(1, 2) + 0.05 * torch.eye(2, dtype=F64)
    return MarkovChainMixture([0.2, 0.5, 0.3], transition, means, covariances, 3)


def _linear_gaussian_chain() -> LinearGaussianChain:
    g = _generator(6)
    root, noise = torch.randn(2, 2, generator=g, dtype=F64), torch.randn(2, 2, generator=g, dtype=F64)
    return LinearGaussianChain(
        3,
        [1.2, -0.6],
        root @ root.T + 0.2 * torch.eye(2, dtype=F64),
        0.7 * torch.randn(2, 2, 2, generator=g, dtype=F64),
        torch.randn(2, 2, generator=g, dtype=F64),
        0.3 * noise @ noise.T + 0.05 * torch.eye(2, dtype=F64),
    )


def _independent_patches() -> IndependentPatches:
    one_state = MarkovChainMixture(
        [0.4, 0.6], [[0.5, 0.5], [0.1, 0.9]], [[1.0], [-2.0]], [[[0.3]], [[0.6]]], 1
    )
    return IndependentPatches([_mixture("isotropic", (1,), 7), _mixture("full", (2,), 8), one_state])


FAMILIES: dict[str, Distribution] = {
    "mixture-full": _mixture("full", (1, 2, 1), 1),
    "mixture-diagonal": _mixture("diagonal", (2, 1), 2),
    "mixture-isotropic": _mixture("isotropic", (1, 1), 3),
    "markov-chain": _markov_chain(),
    "linear-gaussian-chain": _linear_gaussian_chain(),
    "independent-patches": _independent_patches(),
    **{f"preset-{name}": presets.make(name) for name in presets.names()},
}


def families(capability: str | None = None) -> list:
    """pytest params over the families (those declaring `capability`, if given)."""
    return [
        pytest.param(dist, id=name)
        for name, dist in FAMILIES.items()
        if capability is None or getattr(dist, capability)
    ]


def checked_patches(dist: Distribution) -> list[int]:
    """Every patch for short sequences; first, second, middle and last for long ones."""
    K = dist.num_patches
    return list(range(K)) if K <= 4 else sorted({0, 1, K // 2, K - 1})


def clean_points(dist: Distribution, n: int = 24, seed: int = 11) -> torch.Tensor:
    return dist.sample(n, 0.0, generator=_generator(seed))


# ----- integrals over patch k ------------------------------------------------------------------


def _grid(draws: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Grid nodes over a box holding the draws and 6 standard deviations beyond them, and the
    log-volume of one cell."""
    dim = draws.shape[1]
    spread = 6.0 * draws.std(0)
    lows, highs = draws.min(0).values - spread, draws.max(0).values + spread
    axes = [
        torch.linspace(lo, hi, QUADRATURE_NODES[dim], dtype=F64) for lo, hi in zip(lows, highs, strict=True)
    ]
    nodes = torch.cartesian_prod(*axes).reshape(-1, dim)
    return nodes, sum(math.log(float(axis[1] - axis[0])) for axis in axes)


def log_integral(log_density, draws: torch.Tensor, reach: torch.Tensor) -> tuple[float, float]:
    """(log int exp(log_density(y)) dy, its absolute error allowance), the density's mass near
    `draws`: trapezoid rule on a grid for d <= 2 over a box also holding `reach` (the integrand is
    negligible at its edge), else importance sampling from a Student t (5 degrees of freedom) with the
    mean and covariance of `draws` as location and scale, BANDS delta-method errors."""
    dim = draws.shape[1]
    if dim in QUADRATURE_NODES:
        nodes, log_cell = _grid(torch.cat([draws, reach]))
        return float(torch.logsumexp(log_density(nodes), 0)) + log_cell, QUADRATURE_ATOL
    mean, root = draws.mean(0), torch.linalg.cholesky(torch.cov(draws.T))
    g, nu = _generator(9), STUDENT_DOF
    z = torch.randn(IMPORTANCE_DRAWS, dim, generator=g, dtype=F64)
    chi2 = torch.randn(IMPORTANCE_DRAWS, nu, generator=g, dtype=F64).square().sum(1)
    z = z / (chi2 / nu).sqrt()[:, None]
    y = mean + z @ root.T
    log_proposal = (
        math.lgamma((nu + dim) / 2)
        - math.lgamma(nu / 2)
        - 0.5 * dim * math.log(nu * math.pi)
        - root.diagonal().log().sum()
        - 0.5 * (nu + dim) * torch.log1p(z.square().sum(1) / nu)
    )
    log_w = log_density(y) - log_proposal
    w = (log_w - log_w.max()).exp()
    relative_se = float(w.std() / w.mean()) / math.sqrt(IMPORTANCE_DRAWS)
    return float(log_w.max() + w.mean().log()), BANDS * relative_se


def conditional_draws(dist: Distribution, k: int, a: torch.Tensor, t: float, n: int = 4000):
    """Draws of patch k given a, and of patch k alone: together they reach every component, even
    those of the conditional too light to be drawn."""
    given = dist.conditional_sample(k, a.expand(n, -1), t, generator=_generator(3))
    return given, dist.layout.patch(dist.sample(n, t, generator=_generator(4)), k)


def posterior_draws(dist: Distribution, b: torch.Tensor, n: int = 4000):
    """Draws of patch 0 given the later patches b (by self-normalised resampling of draws of
    patch 0, weights q(x^0, b) / q(x^0)), and of patch 0 alone."""
    layout = dist.layout
    alone = layout.patch(dist.sample(n, generator=_generator(4)), 0)
    x = torch.cat([alone, b.expand(n, -1)], dim=1)
    log_w = dist.log_prob(x) - dist.patch_marginal(0, 1).log_prob(alone)
    index = torch.multinomial(torch.softmax(log_w, 0), n, replacement=True, generator=_generator(5))
    return alone[index], alone


# ----- the contract ----------------------------------------------------------------------------


@pytest.mark.parametrize("dist", families())
def test_log_prob_is_the_sum_of_the_conditionals(dist):
    x = clean_points(dist)
    layout = dist.layout
    total = sum(
        dist.conditional_log_prob(k, layout.patch(x, k), layout.prefix(x, k)) for k in range(dist.num_patches)
    )
    torch.testing.assert_close(total, dist.log_prob(x), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dist", families())
def test_conditional_is_joint_over_marginal(dist):
    """log q(x^k | a) = log q_{<=k}(a, x^k) - log int q_{<=k}(a, y) dy for two prefixes a."""
    layout, K = dist.layout, dist.num_patches
    x = clean_points(dist, n=2)
    for k in checked_patches(dist):
        if k < K - 1 and not dist.has_patch_marginals:
            continue
        joint = dist if k == K - 1 else dist.patch_marginal(0, k + 1)
        for a, x_k in zip(layout.prefix(x, k), layout.patch(x, k), strict=True):

            def log_joint(y, a=a, joint=joint):
                return joint.log_prob(torch.cat([a.expand(y.shape[0], -1), y], dim=1))

            draws, reach = conditional_draws(dist, k, a[None], 0.0)
            log_marginal, tol = log_integral(log_joint, draws, reach)
            y = torch.cat([x_k[None], draws[:5]])
            expected = log_joint(y) - log_marginal
            got = dist.conditional_log_prob(k, y, a.expand(y.shape[0], -1))
            torch.testing.assert_close(got, expected, rtol=0, atol=tol)


@pytest.mark.parametrize("dist", families())
def test_noised_conditionals_integrate_to_one(dist):
    layout, t = dist.layout, TIMES[1]
    a_all = clean_points(dist, n=1)
    for k in checked_patches(dist):
        a = layout.prefix(a_all, k)

        def log_density(y, k=k, a=a):
            return dist.conditional_log_prob(k, y, a.expand(y.shape[0], -1), t)

        log_total, tol = log_integral(log_density, *conditional_draws(dist, k, a, t))
        assert abs(log_total) <= tol


def _log_mean_kernel(y: torch.Tensor, clean: torch.Tensor, t: float) -> tuple[torch.Tensor, torch.Tensor]:
    """log of the Monte Carlo mean over clean draws x0 of N(y; a_t x0, s_t^2 I), and BANDS
    delta-method errors, for each row of y."""
    a, var = math.exp(-t), -math.expm1(-2 * t)
    log_kernel = -0.5 * (torch.cdist(y, a * clean).square() / var + y.shape[1] * math.log(2 * math.pi * var))
    w = (log_kernel - log_kernel.amax(1, keepdim=True)).exp()
    relative_se = w.std(1) / w.mean(1) / math.sqrt(clean.shape[0])
    return log_kernel.amax(1) + w.mean(1).log(), BANDS * relative_se


@pytest.mark.parametrize("dist", families())
def test_noised_densities_are_the_ou_convolution_of_the_clean_law(dist):
    """q_t(x) = E_{x0 ~ q_0} N(x; a_t x0, s_t^2 I), and q_t(x^k | a) the same over x0 ~ q_0(. | a)."""
    t, n, layout = 1.0, 20_000, dist.layout
    y = dist.sample(6, t, generator=_generator(12))
    expected, tol = _log_mean_kernel(y, dist.sample(n, generator=_generator(13)), t)
    assert ((dist.log_prob(y, t) - expected).abs() <= tol).all()
    a = layout.prefix(clean_points(dist, n=1), dist.num_patches - 1)
    k = dist.num_patches - 1
    y_k = layout.patch(y, k)
    clean = dist.conditional_sample(k, a.expand(n, -1), generator=_generator(14))
    expected, tol = _log_mean_kernel(y_k, clean, t)
    assert ((dist.conditional_log_prob(k, y_k, a.expand(6, -1), t) - expected).abs() <= tol).all()


@pytest.mark.parametrize("dist", [p for p in families("has_patch_marginals") if p.values[0].num_patches > 1])
def test_window_marginal_integrates_out_the_first_patch(dist):
    """q_{1..K-1}(b) = int q(y, b) dy over patch 0, at two points b."""
    layout = dist.layout
    window = dist.patch_marginal(1, dist.num_patches)
    assert window.patch_sizes == dist.patch_sizes[1:]
    x = clean_points(dist, n=2)
    for b in x[:, layout.offsets[1] :]:

        def log_joint(y, b=b):
            return dist.log_prob(torch.cat([y, b.expand(y.shape[0], -1)], dim=1))

        log_marginal, tol = log_integral(log_joint, *posterior_draws(dist, b))
        assert float(window.log_prob(b[None])) == pytest.approx(log_marginal, abs=tol)


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("dist", families())
def test_seeded_draws_are_reproducible(dist, t):
    prefix = dist.layout.prefix(clean_points(dist, n=6), dist.num_patches - 1)
    for draw in (
        lambda g: dist.sample(50, t, generator=g),
        lambda g: dist.conditional_sample(dist.num_patches - 1, prefix, t, generator=g),
    ):
        first = draw(_generator(3))
        assert first.dtype == F64
        torch.testing.assert_close(first, draw(_generator(3)), rtol=0, atol=0)
        assert not torch.equal(first, draw(_generator(4)))


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("dist", families())
def test_score_is_the_gradient_of_log_prob(dist, t):
    x = dist.sample(16, t, generator=_generator(5)).requires_grad_(True)
    (auto,) = torch.autograd.grad(dist.log_prob(x, t).sum(), x)
    torch.testing.assert_close(dist.score(x.detach(), t), auto, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("dist", families())
def test_conditional_score_is_the_gradient_of_conditional_log_prob(dist, t):
    layout = dist.layout
    clean, noised = clean_points(dist, n=16), dist.sample(16, t, generator=_generator(6))
    for k in checked_patches(dist):
        x_k, prefix = layout.patch(noised, k).clone().requires_grad_(True), layout.prefix(clean, k)
        (auto,) = torch.autograd.grad(dist.conditional_log_prob(k, x_k, prefix, t).sum(), x_k)
        got = dist.conditional_score(k, x_k.detach(), prefix, t)
        torch.testing.assert_close(got, auto, rtol=1e-9, atol=1e-9)


# ----- declared capabilities -------------------------------------------------------------------


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("dist", families("has_hessian"))
def test_declared_hessian_is_the_jacobian_of_the_score(dist, t):
    x = dist.sample(6, t, generator=_generator(7))
    auto = torch.stack(
        [torch.autograd.functional.jacobian(lambda z: dist.score(z[None], t)[0], row) for row in x]
    )
    torch.testing.assert_close(dist.hessian(x, t), auto, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("t", TIMES)
@pytest.mark.parametrize("dist", families("is_gaussian"))
def test_declared_gaussian_has_affine_scores(dist, t):
    layout, x = dist.layout, clean_points(dist, n=10)
    a_mat, c = dist.affine_score(t)
    torch.testing.assert_close(x @ a_mat.T + c, dist.score(x, t), rtol=1e-10, atol=1e-10)
    for k in checked_patches(dist):
        x_k, prefix = layout.patch(x, k), layout.prefix(x, k)
        a_mat, b_mat, c = dist.conditional_affine_score(k, t)
        assert b_mat.shape == (layout.sizes[k], layout.offsets[k])
        expected = dist.conditional_score(k, x_k, prefix, t)
        torch.testing.assert_close(x_k @ a_mat.T + prefix @ b_mat.T + c, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dist", families("has_moments"))
def test_declared_moments_match_draws(dist):
    n = 40_000
    x = dist.sample(n, generator=_generator(8))
    mean, second = dist.mean(), dist.second_moment()
    assert second == pytest.approx(float(dist.covariance().trace() + mean.square().sum()), rel=1e-12)
    assert ((x.mean(0) - mean).abs() <= BANDS * x.std(0) / math.sqrt(n)).all()
    squares = x.square().sum(1)
    assert abs(float(squares.mean()) - second) <= BANDS * float(squares.std()) / math.sqrt(n)


@pytest.mark.parametrize("dist", families())
def test_component_means_are_points_of_the_space(dist):
    means = dist.component_means
    assert means is None or (means.ndim == 2 and means.shape[1] == dist.dim)


# ----- bad input ---------------------------------------------------------------------------------


def _zeros(*shape) -> torch.Tensor:
    return torch.zeros(*shape, dtype=F64)


def _last(d: Distribution) -> tuple[int, int, int]:
    """(k, d_k, prefix width) of the last patch."""
    k = d.num_patches - 1
    return k, d.patch_sizes[k], d.patch_bounds[k]


BAD_CALLS = {
    "x-shape": ("x", lambda d: d.log_prob(_zeros(3, d.dim + 1))),
    "x-nan": ("x", lambda d: d.score(torch.full((2, d.dim), math.nan, dtype=F64))),
    "x-vector": ("x", lambda d: d.score(_zeros(d.dim))),
    "t-negative": ("t", lambda d: d.log_prob(_zeros(2, d.dim), t=-0.1)),
    "t-inf": ("t", lambda d: d.score(_zeros(2, d.dim), t=math.inf)),
    "t-nan-sample": ("t", lambda d: d.sample(3, t=math.nan)),
    "n-zero": ("n", lambda d: d.sample(0)),
    "n-fraction": ("n", lambda d: d.sample(2.5)),
    "k-too-large": ("k", lambda d: d.conditional_log_prob(d.num_patches, _zeros(2, 1), _zeros(2, d.dim))),
    "k-negative": ("k", lambda d: d.conditional_sample(-1, _zeros(2, 0))),
    "k-fraction": ("k", lambda d: d.conditional_score(0.5, _zeros(2, d.patch_sizes[0]), _zeros(2, 0))),
    "x_k-width": ("x_k", lambda d: d.conditional_score(0, _zeros(2, d.patch_sizes[0] + 1), _zeros(2, 0))),
    "x_k-nan": (
        "x_k",
        lambda d: d.conditional_log_prob(0, torch.full((2, d.patch_sizes[0]), math.nan), _zeros(2, 0)),
    ),
    "prefix-width": (
        "prefix",
        lambda d: d.conditional_log_prob(_last(d)[0], _zeros(2, _last(d)[1]), _zeros(2, _last(d)[2] + 1)),
    ),
    "prefix-rows": (
        "prefix",
        lambda d: d.conditional_score(_last(d)[0], _zeros(2, _last(d)[1]), _zeros(3, _last(d)[2])),
    ),
    "prefix-nan": (
        "prefix",
        lambda d: d.conditional_sample(_last(d)[0], torch.full((2, _last(d)[2]), math.nan)),
    ),
    "t-conditional": (
        "t",
        lambda d: d.conditional_score(0, _zeros(2, d.patch_sizes[0]), _zeros(2, 0), t=-1.0),
    ),
}


@pytest.mark.parametrize("dist", families())
def test_bad_input_names_the_parameter(dist):
    for case, (name, call) in BAD_CALLS.items():
        if case == "prefix-nan" and dist.num_patches == 1:
            continue  # an empty prefix holds no NaN
        with pytest.raises(ValueError, match=f"^{name}:"):
            call(dist)


@pytest.mark.parametrize("dist", families("has_patch_marginals"))
def test_bad_patch_marginal_names_the_parameter(dist):
    K = dist.num_patches
    for start, stop, name in (
        (-1, K, "start"),
        (K, K, "start"),
        (0, K + 1, "stop"),
        (0, 0, "stop"),
        (0.5, K, "start"),
    ):
        with pytest.raises(ValueError, match=f"^{name}:"):
            dist.patch_marginal(start, stop)
