"""DDPM and AR-DM samplers (verify.samplers): conventions, one-step laws, exact-score targets."""

import math

import pytest
import torch

from synthetic import LinearGaussianChain
from verify import grids
from verify.samplers import SCHEMES, sample, sample_ar

D = torch.float64
Z = 4.5  # |z| band for every moment (fixed seeds)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def chain():
    """Off-centre, anisotropic, dependent: K = 3 patches of size 2 (d = 6)."""
    return LinearGaussianChain(
        3,
        initial_mean=torch.tensor([2.0, -1.0]),
        initial_cov=torch.tensor([[1.0, 0.3], [0.3, 0.25]]),
        transition_matrices=torch.tensor([[0.9, 0.2], [-0.3, 0.7]]),
        offsets=torch.tensor([0.5, -1.0]),
        noise_cov=torch.tensor([[0.3, 0.1], [0.1, 0.2]]),
    )


def exact_scores(target):
    """The target's exact scores from its closed-form affine coefficients (fast to evaluate)."""

    def score(x, t):
        A, c = target.affine_score(t)
        return x @ A.T + c

    def conditional(k, x_k, prefix, t):
        A, B, c = target.conditional_affine_score(k, t)
        return x_k @ A.T + prefix @ B.T + c

    return score, conditional


def assert_moments(x, mean, cov):
    """Sample mean and E[(x - m)(x - m)^T] (known m) within Z standard errors of (mean, cov)."""
    n = x.shape[0]
    mean_z = (x.mean(0) - mean) / (x.std(0) / math.sqrt(n))
    centred = x - mean
    products = centred[:, :, None] * centred[:, None, :]
    cov_z = (products.mean(0) - cov) / (products.std(0) / math.sqrt(n))
    assert mean_z.abs().max() < Z, f"mean z-scores {mean_z}"
    assert cov_z.abs().max() < Z, f"covariance z-scores {cov_z}"


def affine_score(x, t):
    """A fixed affine field s(y) = y A^T + c (any t)."""
    A = torch.tensor([[-1.5, 0.4], [0.2, -0.8]], dtype=D)
    return x @ A.T + torch.tensor([0.7, -0.3], dtype=D)


def one_step_coefficients(scheme, t_from, t_to):
    """(c_y, c_s, v) written from docs/math.md section 2 (ancestral in Ho et al.'s notation)."""
    h = t_from - t_to
    if scheme == "ei":
        return math.exp(h), 2 * (math.exp(h) - 1), math.exp(2 * h) - 1
    if scheme == "em":
        return 1 + h, 2 * h, 2 * h
    if scheme == "ode":  # dy/dr = y + s with s frozen
        return math.exp(h), math.exp(h) - 1, 0.0
    abar_from, abar_to = math.exp(-2 * t_from), math.exp(-2 * t_to)
    alpha = abar_from / abar_to
    beta = 1 - alpha
    # y' = (y - beta / sqrt(1 - abar) eps) / sqrt(alpha) + sigma z, eps = -sqrt(1 - abar) s
    return 1 / math.sqrt(alpha), beta / math.sqrt(alpha), (1 - abar_to) / (1 - abar_from) * beta


@pytest.mark.parametrize("scheme", SCHEMES)
def test_one_step_law_matches_the_closed_form(scheme):
    t_from, t_to, n = 0.7, 0.4, 40_000
    grid = torch.tensor([t_from, t_to], dtype=D)
    x = sample(affine_score, grid, n, 2, scheme=scheme, generator=gen(1))
    c_y, c_s, v = one_step_coefficients(scheme, t_from, t_to)
    c = affine_score(torch.zeros(1, 2, dtype=D), 0.0)[0]
    A = (affine_score(torch.eye(2, dtype=D), 0.0) - c).T  # row i of the input e_i gives A^T e_i
    M = c_y * torch.eye(2, dtype=D) + c_s * A  # y' = M y + c_s c + sqrt(v) xi, y ~ N(0, I)
    assert_moments(x, c_s * c, M @ M.T + v * torch.eye(2, dtype=D))


def test_ode_on_stationary_data_is_the_identity():
    grid = grids.uniform(3.0, 17, 0.01)  # data N(0, I): score -y, the probability flow is still
    x, path = sample(lambda y, t: -y, grid, 50, 3, scheme="ode", generator=gen(), return_trajectory=True)
    assert (x - path[0]).abs().max() < 1e-12


@pytest.mark.parametrize("scheme", SCHEMES)
def test_shapes_callback_and_trajectory(scheme):
    grid = grids.exponential_linear(4.0, 9, 1e-3)
    records = []
    x, path = sample(
        affine_score, grid, 11, 2, scheme=scheme, generator=gen(), callback=records.append,
        return_trajectory=True,
    )  # fmt: skip
    assert x.shape == (11, 2) and x.dtype == D and path.shape == (10, 11, 2)
    assert torch.equal(path[-1], x)
    assert [r.j for r in records] == list(range(9)) and all(r.stage == 0 for r in records)
    assert [r.t_from for r in records] == grid[:-1].tolist()
    assert [r.t_to for r in records] == grid[1:].tolist()
    for r in records:
        assert torch.equal(r.x, path[r.j]) and torch.equal(r.score, affine_score(r.x, r.t_from))


def test_reproducible_with_a_generator():
    grid = grids.uniform(2.0, 5, 0.01)
    first = sample(affine_score, grid, 7, 2, generator=gen(3))
    assert torch.equal(first, sample(affine_score, grid, 7, 2, generator=gen(3)))
    assert not torch.equal(first, sample(affine_score, grid, 7, 2, generator=gen(4)))


def test_ar_with_one_patch_is_ddpm():
    grid = grids.uniform(2.0, 8, 0.01)
    plain = sample(affine_score, grid, 13, 2, scheme="em", generator=gen(5))

    def conditional(k, x_k, prefix, t):
        assert k == 0 and prefix.shape == (13, 0)
        return affine_score(x_k, t)

    ar = sample_ar(conditional, (2,), grid, 13, scheme="em", generator=gen(5))
    assert torch.equal(plain, ar)


def test_ar_patch_shapes_prefixes_and_nfe():
    sizes, n = (2, 1, 3), 5
    stage_grids = [grids.uniform(2.0, N, 0.01) for N in (4, 7, 3)]
    seen, records = [], []

    def conditional(k, x_k, prefix, t):
        seen.append((k, tuple(x_k.shape), prefix.clone()))
        return -x_k + prefix.sum(1, keepdim=True)

    x, info = sample_ar(
        conditional,
        sizes,
        stage_grids,
        n,
        generator=gen(),
        callback=records.append,
        return_info=True,
    )
    assert x.shape == (n, 6)
    assert info == {"nfe_per_stage": [4, 7, 3], "nfe_total": 14}
    assert [s[:2] for s in seen] == [(0, (n, 2))] * 4 + [(1, (n, 1))] * 7 + [(2, (n, 3))] * 3
    bounds = (0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3)
    for (_, _, prefix), width in zip(seen, bounds, strict=True):
        assert torch.equal(prefix, x[:, :width])  # the generated prefix, clean
    assert [(r.stage, r.j) for r in records] == [(k, j) for k, N in enumerate((4, 7, 3)) for j in range(N)]


def test_ar_reproducible_and_one_grid_for_all_stages():
    grid = grids.uniform(2.0, 6, 0.01)
    score = lambda k, x_k, prefix, t: -x_k  # noqa: E731
    a, info = sample_ar(score, (1, 2), grid, 4, scheme="ancestral", generator=gen(9), return_info=True)
    assert torch.equal(a, sample_ar(score, (1, 2), grid, 4, scheme="ancestral", generator=gen(9)))
    assert info["nfe_per_stage"] == [6, 6]


@pytest.mark.parametrize(
    "n, N",
    [(5000, 1000), pytest.param(20_000, 2000, marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("ar", [False, True], ids=["ddpm", "ar"])
def test_exact_score_and_many_steps_reach_the_target(ar, n, N):
    """EI, exact scores: the output law is q_delta (DDPM) or p_AR,delta (AR-DM), both within
    O(delta) = 1e-4 of the data law; the EI discretisation bias on these grids, computed exactly
    by the affine recursion, is at most about half a standard error for every moment."""
    target = chain()
    score, conditional = exact_scores(target)
    grid = grids.exponential_linear(10.0, N, 1e-4)
    if ar:
        x = sample_ar(conditional, target.patch_sizes, grid, n, generator=gen(12))
    else:
        x = sample(score, grid, n, 6, generator=gen(11))
    assert_moments(x, target.mean(), target.covariance())


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: sample(affine_score, [0.0, 1.0], 5, 2), "grid"),
        (lambda: sample(affine_score, grids.uniform(1.0, 3), 0, 2), "n"),
        (lambda: sample(affine_score, grids.uniform(1.0, 3), 5, 2.5), "dim"),
        (lambda: sample(affine_score, grids.uniform(1.0, 3), 5, 2, scheme="heun"), "scheme"),
        (lambda: sample("score", grids.uniform(1.0, 3), 5, 2), "score"),
        (lambda: sample(affine_score, grids.uniform(1.0, 3), 5, 2, callback=3), "callback"),
        (lambda: sample(lambda x, t: x[:, :1], grids.uniform(1.0, 3), 5, 2), "score"),
        (lambda: sample_ar(lambda *a: a[1], (1, 0), grids.uniform(1.0, 3), 5), "patch_sizes"),
        (lambda: sample_ar(lambda *a: a[1], 3, grids.uniform(1.0, 3), 5), "patch_sizes"),
        (lambda: sample_ar(lambda *a: a[1], (), grids.uniform(1.0, 3), 5), "patch_sizes"),
        (lambda: sample_ar(lambda *a: a[1], (1, 1), [grids.uniform(1.0, 3)], 5), "grids"),
        (lambda: sample_ar(lambda *a: a[1], (1,), [[0.0, 1.0]], 5), "grid"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize("t_from, t_to", [(1.0, -0.5), (float("nan"), 0.1), (float("inf"), 0.0), (0.5, 0.5)])
def test_step_kernel_rejects_impossible_times(t_from, t_to):
    from verify.samplers.kernels import step_kernel

    with pytest.raises(ValueError, match="t_"):
        step_kernel("ancestral", t_from, t_to)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_score_stops_the_sampler_naming_step_time_and_stage(bad):
    def score(x, t):
        return torch.full_like(x, bad) if t < 1.0 else -x

    with pytest.raises(ValueError, match=r"score: .*non-finite.* at step \d+ \(t = .*\) of stage 0"):
        sample(score, grids.uniform(2.0, 8, 0.01), 4, 2)
    with pytest.raises(ValueError, match=r"score: .*non-finite.* of stage 1"):
        sample_ar(
            lambda k, x, prefix, t: torch.full_like(x, bad) if k == 1 else -x,
            (1, 1),
            grids.uniform(2.0, 8, 0.01),
            4,
        )


def test_the_grid_law_refuses_a_non_finite_score():
    from verify.exact import grid_sampler_law

    with pytest.raises(ValueError, match=r"score: returned non-finite"):
        grid_sampler_law(lambda x, t: torch.full_like(x, float("nan")), grids.uniform(2.0, 4, 0.01), 1, n=32)
