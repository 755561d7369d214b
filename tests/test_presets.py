"""Presets: every one constructs and is a valid distribution; the parameterised families have the
structure their definitions guarantee (independence at 0, stationarity, the embedding)."""

import pytest
import torch

from synthetic import Distribution, presets


@pytest.mark.parametrize("name", presets.names())
def test_every_preset_constructs_and_is_valid(name):
    preset = presets.PRESETS[name]
    assert preset.description and "\n" not in preset.description
    dist = presets.make(name)
    assert isinstance(dist, Distribution) and sum(dist.patch_sizes) == dist.dim
    x = dist.sample(64, 0.1, generator=torch.Generator().manual_seed(0))
    assert x.shape == (64, dist.dim) and torch.isfinite(x).all()
    assert torch.isfinite(dist.log_prob(x, 0.1)).all()
    # the score is the gradient of the log-density (central differences, step 1e-5)
    step, eye = 1e-5, torch.eye(dist.dim, dtype=torch.float64)
    rows = x[:4]
    fd = torch.stack(
        [
            (dist.log_prob(rows + step * e, 0.1) - dist.log_prob(rows - step * e, 0.1)) / (2 * step)
            for e in eye
        ],
        dim=1,
    )
    torch.testing.assert_close(dist.score(rows, 0.1), fd, atol=1e-5, rtol=1e-6)


def test_the_named_families_are_present():
    expected = {"gaussian_1d", "dependent_pair", "independent_pair", "anisotropic_2d", "markov_sequence"}
    assert expected <= set(presets.names())
    assert any(n.startswith("chain_dependent") for n in presets.names())
    assert any(n.startswith("chain_independent") for n in presets.names())


def test_sanity_gaussian_is_n_2_quarter():
    dist = presets.make("gaussian_1d")
    torch.testing.assert_close(dist.mean(), torch.tensor([2.0], dtype=torch.float64))
    torch.testing.assert_close(dist.covariance(), torch.tensor([[0.25]], dtype=torch.float64))


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="^name:.*dependent_pair"):
        presets.make("no_such_preset")


def test_bad_override_raises_value_error():
    with pytest.raises(ValueError, match="^overrides:"):
        presets.make("gaussian_1d", strength=0.3)
    assert presets.make("dependent_pair", strength=0.2).dim == 2


def _dependence_gap(mixture, x):
    """log q(x1, x2) - log q(x1) - log q(x2): identically zero iff the patches are independent."""
    marginals = [mixture.marginal(k) for k in range(2)]
    return mixture.log_prob(x) - marginals[0].log_prob(x[:, :1]) - marginals[1].log_prob(x[:, 1:])


def test_dependent_pair_is_independent_exactly_at_zero_strength():
    x = torch.randn(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    zero = presets.dependent_pair(0.0)
    torch.testing.assert_close(
        _dependence_gap(zero, x), torch.zeros(200, dtype=torch.float64), atol=1e-12, rtol=0
    )
    assert _dependence_gap(presets.dependent_pair(0.9), x).abs().max() > 0.1


def test_independent_pair_is_product_of_dependent_marginals():
    dependent, control = presets.make("dependent_pair"), presets.make("independent_pair")
    x = dependent.sample(50, generator=torch.Generator().manual_seed(2))
    expected = dependent.marginal(0).log_prob(x[:, :1]) + dependent.marginal(1).log_prob(x[:, 1:])
    torch.testing.assert_close(control.log_prob(x), expected, atol=1e-12, rtol=0)


def test_embedded_pair_is_signed_latent_plus_noise_for_p_1():
    """With p = 1 the embedding is e_k = +-1, so Cov x = D Cov z D + noise^2 I, D = diag(+-1)."""
    latent, noise = presets.dependent_pair(0.8), 0.3
    embedded = presets.embedded_pair(0.8, p=1, noise=noise, seed=4)
    assert embedded.patch_sizes == (1, 1)
    cov_z, cov_x = latent.covariance(), embedded.covariance()
    torch.testing.assert_close(cov_x.diagonal(), cov_z.diagonal() + noise**2)
    torch.testing.assert_close(cov_x[0, 1].abs(), cov_z[0, 1].abs())
    torch.testing.assert_close(embedded.mean().abs(), latent.mean().abs())


def test_embedded_pair_shapes():
    dist = presets.embedded_pair(0.5, p=3, noise=0.1, seed=0)
    assert dist.patch_sizes == (3, 3) and dist.num_components == 4


@pytest.mark.parametrize("rho", (0.0, 0.6))
def test_gaussian_chain_is_stationary_with_rho_cross_covariance(rho):
    K, p = 5, 3
    chain = presets.gaussian_chain(K, p, rho)
    cov, mean = chain.covariance(), chain.mean().reshape(K, p)

    def block(i, j):
        return cov[i * p : (i + 1) * p, j * p : (j + 1) * p]

    for k in range(K):
        torch.testing.assert_close(mean[k], mean[0])
        torch.testing.assert_close(block(k, k), block(0, 0))
        for j in range(k):
            torch.testing.assert_close(block(k, j), rho ** (k - j) * block(0, 0), atol=1e-12, rtol=0)


def test_markov_sequence_is_sticky_and_stationary():
    dist = presets.markov_sequence(K=6, S=5, p=3, stickiness=0.8)
    assert dist.patch_sizes == (3,) * 6 and dist.num_states == 5
    torch.testing.assert_close(
        dist.transition.diagonal(), torch.full((5,), 0.8 + 0.2 / 5, dtype=torch.float64)
    )
    torch.testing.assert_close(dist.stationary(), dist.initial)


@pytest.mark.parametrize(
    "factory,kwargs,name",
    [
        (presets.dependent_pair, dict(strength=1.0), "strength"),
        (presets.dependent_pair, dict(strength=-0.1), "strength"),
        (presets.dependent_pair, dict(strength=0.5, num_components=0), "num_components"),
        (presets.embedded_pair, dict(noise=0.0), "noise"),
        (presets.embedded_pair, dict(p=0), "p"),
        (presets.gaussian_chain, dict(rho=1.0), "rho"),
        (presets.gaussian_chain, dict(K=0), "num_patches"),
        (presets.markov_sequence, dict(stickiness=1.5), "stickiness"),
        (presets.markov_sequence, dict(S=0), "S"),
        (presets.markov_sequence, dict(K=0), "num_patches"),
    ],
)
def test_bad_parameters_name_the_parameter(factory, kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}:"):
        factory(**kwargs)
