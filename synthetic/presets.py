"""Named ground-truth presets and the parameterised families the experiments sweep.

`make(name, **overrides)` builds a preset (overrides go to its factory), `names()` lists them and
`PRESETS[name].description` says in one line what each one is. The factories below are public so
that sweeps (dependence strength, K, p, stickiness) build the same families as the presets.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch

from synthetic.base import Distribution
from synthetic.gaussian_mixture import GaussianMixture
from synthetic.independent_patches import IndependentPatches
from synthetic.linear_gaussian_chain import LinearGaussianChain
from synthetic.markov_chain import MarkovChainMixture
from synthetic.validation import DTYPE, check_count


def _check_unit_interval(name: str, value, upper_open: bool) -> float:
    value = float(value)
    ok = 0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0
    if not (math.isfinite(value) and ok):
        interval = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(f"{name}: must lie in {interval}, got {value}")
    return value


def _pair_parameters(strength: float, num_components: int):
    """Weights (M,), means (M, 2), covariances (M, 2, 2) of the dependent 2-D pair.

    Component i: x1 ~ N(m_i, v_i) and x2 = c + r (h(m_i) + h'(m_i)(x1 - m_i)) + N(0, tau^2 (1 - r^2)),
    with h(u) = 1.5 sin(1.2 u) and r = strength. At r = 0 every component has the same x2 law, so
    x1 and x2 are independent; as r -> 1, x2 is a near-deterministic piecewise-linear curve of x1.
    """
    r = _check_unit_interval("strength", strength, upper_open=True)
    m_count = check_count("num_components", num_components)
    index = torch.arange(m_count, dtype=DTYPE)
    centres = torch.linspace(-1.5, 2.1, m_count, dtype=DTYPE) if m_count > 1 else index + 0.3
    variances = 0.04 * (1.0 + (index % 3))
    weights = 1.0 + (index * 5 % 7)
    c, tau = 0.7, 0.6
    height, slope = 1.5 * torch.sin(1.2 * centres), 1.8 * torch.cos(1.2 * centres)
    means = torch.stack([centres, c + r * height], dim=1)
    cross = r * slope * variances
    covariances = torch.stack(
        [
            torch.stack([variances, cross], dim=1),
            torch.stack([cross, r**2 * slope**2 * variances + tau**2 * (1 - r**2)], dim=1),
        ],
        dim=1,
    )
    return weights / weights.sum(), means, covariances


def dependent_pair(strength: float = 0.95, num_components: int = 4) -> GaussianMixture:
    """2-D mixture with 1-D patches where x2 follows a curve of x1; strength 0 = independent."""
    weights, means, covariances = _pair_parameters(strength, num_components)
    return GaussianMixture(weights, means, covariances, patch_sizes=(1, 1))


def embedded_pair(strength: float = 0.95, p: int = 4, noise: float = 0.1, seed: int = 0) -> GaussianMixture:
    """The dependent pair's latent (z1, z2) mapped to x^k = e_k z_k + noise N(0, I_p) in R^p each.

    e_1, e_2 are fixed random unit vectors (from `seed`); the result is still an exact mixture,
    with covariances E Sigma_i E^T + noise^2 I, E = blockdiag(e_1, e_2), and patch_sizes (p, p).
    """
    p = check_count("p", p)
    noise = float(noise)
    if not (math.isfinite(noise) and noise > 0):
        raise ValueError(f"noise: must be a finite positive standard deviation, got {noise}")
    weights, means, covariances = _pair_parameters(strength, 4)
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(2, p, dtype=DTYPE, generator=generator)
    directions = directions / directions.norm(dim=1, keepdim=True)
    embed = torch.block_diag(directions[0, :, None], directions[1, :, None])  # (2p, 2)
    noise_cov = noise**2 * torch.eye(2 * p, dtype=DTYPE)
    return GaussianMixture(
        weights, means @ embed.T, embed @ covariances @ embed.T + noise_cov, patch_sizes=(p, p)
    )


RARE_COMPONENT = (2.4, 0.09)  # mean and variance of x1 in the rare component of `rare_prefix`


def rare_prefix(weight: float = 0.03) -> GaussianMixture:
    """2-D mixture (1-D patches) whose rare prefix component carries its own conditional law.

    Common part, weight 1 - `weight`: two components with x1 near -1 and 0.6 and x2 rising with
    x1 (x2 = 0.2 + 0.8 x1 + noise). Rare part, weight `weight`: x1 ~ N(2.4, 0.09) with x2 falling
    steeply (x2 = -1.2 - 1.5 (x1 - 2.4) + N(0, 0.04)), a conditional law unlike the common one.
    """
    w = _check_unit_interval("weight", weight, upper_open=True)
    if w <= 0:
        raise ValueError(f"weight: must be > 0, got {weight}")
    mean, var = RARE_COMPONENT
    common = [(-1.0, 0.25), (0.6, 0.16)]
    means = [[m, 0.2 + 0.8 * m] for m, _ in common] + [[mean, -1.2]]
    covariances = [[[v, 0.8 * v], [0.8 * v, 0.64 * v + 0.09]] for _, v in common]
    covariances.append([[var, -1.5 * var], [-1.5 * var, 2.25 * var + 0.04]])
    weights = [0.55 * (1 - w), 0.45 * (1 - w), w]
    return GaussianMixture(
        torch.tensor(weights, dtype=DTYPE),
        torch.tensor(means, dtype=DTYPE),
        torch.tensor(covariances, dtype=DTYPE),
        patch_sizes=(1, 1),
    )


def independent_control(mixture: GaussianMixture) -> IndependentPatches:
    """Product of the per-patch marginals of `mixture`: same marginals, no dependence."""
    return IndependentPatches([mixture.marginal(k) for k in range(mixture.num_patches)])


def _random_spd(p: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    """R diag(linspace(low, high, p)) R^T with R a random rotation: anisotropic and off-axis."""
    rotation, _ = torch.linalg.qr(torch.randn(p, p, dtype=DTYPE, generator=generator))
    return rotation @ torch.diag(torch.linspace(low, high, p, dtype=DTYPE)) @ rotation.T


def gaussian_chain(K: int = 4, p: int = 2, rho: float = 0.95, seed: int = 0) -> LinearGaussianChain:
    """Stationary chain x^{k+1} = rho x^k + (1 - rho) m + N(0, (1 - rho^2) Sigma), x^1 ~ N(m, Sigma).

    Every patch is N(m, Sigma) (off-centre m, anisotropic Sigma from `seed`); rho = 0 gives
    independent patches (A = 0), rho -> 1 near-deterministic copies.
    """
    rho = _check_unit_interval("rho", rho, upper_open=True)
    p = check_count("p", p)
    generator = torch.Generator().manual_seed(seed)
    sigma = _random_spd(p, 0.3, 1.5, generator)
    m = torch.linspace(0.8, -0.4, p, dtype=DTYPE)
    return LinearGaussianChain(
        K, m, sigma, rho * torch.eye(p, dtype=DTYPE), (1 - rho) * m, (1 - rho**2) * sigma
    )


def markov_sequence(
    K: int = 8, S: int = 4, p: int = 2, stickiness: float = 0.9, seed: int = 0
) -> MarkovChainMixture:
    """Hidden-state chain with P = stickiness I + (1 - stickiness) 11^T / S, uniform start.

    P is doubly stochastic, so the uniform start is stationary; emission means and anisotropic
    covariances are drawn once from `seed`.
    """
    stickiness = _check_unit_interval("stickiness", stickiness, upper_open=False)
    S, p = check_count("S", S), check_count("p", p)
    generator = torch.Generator().manual_seed(seed)
    means = 0.5 + 2.0 * torch.randn(S, p, dtype=DTYPE, generator=generator)
    covariances = torch.stack([_random_spd(p, 0.05, 0.4, generator) for _ in range(S)])
    transition = stickiness * torch.eye(S, dtype=DTYPE) + (1 - stickiness) / S
    return MarkovChainMixture(torch.full((S,), 1.0 / S, dtype=DTYPE), transition, means, covariances, K)


def gaussian_1d() -> GaussianMixture:
    """N(2, 0.25) in d = 1: the sanity case of docs/math.md section 5."""
    return GaussianMixture(torch.ones(1, dtype=DTYPE), [[2.0]], [[[0.25]]])


def anisotropic_2d() -> GaussianMixture:
    """Three off-centre, anisotropic, unequally weighted components in 2-D (1-D patches)."""
    return GaussianMixture(
        [0.5, 0.3, 0.2],
        [[1.0, 0.5], [-1.5, 1.8], [2.2, -1.4]],
        [[[0.6, 0.35], [0.35, 0.3]], [[0.15, -0.05], [-0.05, 0.5]], [[0.3, 0.0], [0.0, 0.08]]],
        patch_sizes=(1, 1),
    )


@dataclass(frozen=True)
class Preset:
    """A named ground truth: one-line description and a factory taking keyword overrides."""

    description: str
    factory: Callable[..., Distribution]


PRESETS: dict[str, Preset] = {
    "gaussian_1d": Preset("N(2, 0.25) in d = 1, the docs/math.md section 5 sanity case", gaussian_1d),
    "anisotropic_2d": Preset(
        "off-centre anisotropic 3-component 2-D mixture, unequal weights", anisotropic_2d
    ),
    "dependent_pair": Preset(
        "2-D mixture, 1-D patches, x2 a near-deterministic curve of x1 (strength 0.95)",
        partial(dependent_pair, strength=0.95),
    ),
    "independent_pair": Preset(
        "product of the dependent_pair marginals: same patches, no dependence",
        lambda strength=0.95: independent_control(dependent_pair(strength)),
    ),
    "embedded_pair": Preset(
        "dependent_pair latent embedded in R^4 per patch plus noise 0.1 (d = 8)",
        partial(embedded_pair, strength=0.95, p=4, noise=0.1),
    ),
    "rare_prefix": Preset(
        "2-D mixture whose low-weight x1 component (weight 0.03) carries a different conditional of x2",
        rare_prefix,
    ),
    "markov_sequence": Preset(
        "hidden-state chain, S = 4 sticky states (0.9), K = 8 patches of p = 2 (d = 16)",
        partial(markov_sequence, K=8, S=4, p=2, stickiness=0.9),
    ),
}
PRESETS.update(
    {
        f"chain_{label}_d{K * p}": Preset(
            f"linear-Gaussian chain, rho = {rho}, K = {K} patches of p = {p} (d = {K * p})",
            partial(gaussian_chain, K=K, p=p, rho=rho),
        )
        for K, p in ((2, 1), (4, 2), (16, 2))
        for label, rho in (("dependent", 0.95), ("independent", 0.0))
    }
)


def names() -> list[str]:
    """Every preset name, sorted."""
    return sorted(PRESETS)


def make(name: str, **overrides) -> Distribution:
    """Build preset `name`, passing `overrides` (e.g. strength=0.5) to its factory."""
    if name not in PRESETS:
        raise ValueError(f"name: unknown preset {name!r}; known presets: {', '.join(names())}")
    factory = PRESETS[name].factory
    try:
        inspect.signature(factory).bind(**overrides)
    except TypeError as err:
        raise ValueError(f"overrides: preset {name!r} does not accept {overrides} ({err})") from None
    return factory(**overrides)
