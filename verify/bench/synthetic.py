"""Exact ground-truth scores against generic baselines, measured side by side in one run.

1. GaussianMixture.score (d = 16, M = 256 full covariances, n = 1e5) versus autograd through
   torch.distributions.MixtureSameFamily.log_prob on the same noised mixture (target >= 5x).
2. MarkovChainMixture.score (K = 6, S = 8, p = 2) versus its enumerated 8^6-component mixture
   (target >= 50x in time per point, max abs difference <= 1e-10 on a shared batch); the enumeration
   is timed on the first 20 points of the chain's batch only (it costs about 0.1 s per point).
3. MarkovChainMixture.score for S = 16 and growing K up to 64: time per patch should stay flat.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

from synthetic import GaussianMixture
from synthetic.presets import markov_sequence
from verify.timing import best_time

T = 0.5  # OU time at which every score is evaluated
CHUNK = 4096  # rows per autograd call, keeping the (rows, M, d) intermediates in memory


def _random_mixture(d: int, m: int, generator: torch.Generator) -> GaussianMixture:
    weights = torch.rand(m, dtype=torch.float64, generator=generator) + 0.2
    means = 3.0 * torch.randn(m, d, dtype=torch.float64, generator=generator)
    roots = torch.randn(m, d, d, dtype=torch.float64, generator=generator)
    covariances = roots @ roots.transpose(1, 2) / d + 0.1 * torch.eye(d, dtype=torch.float64)
    return GaussianMixture(weights / weights.sum(), means, covariances)


def _autograd_score(mixture: GaussianMixture, t: float):
    """grad log q_t by autograd through torch.distributions, chunked over rows."""
    a, v = math.exp(-t), -math.expm1(-2 * t)
    eye = torch.eye(mixture.dim, dtype=torch.float64)
    law = MixtureSameFamily(
        Categorical(probs=mixture.weights),
        MultivariateNormal(a * mixture.means, covariance_matrix=a * a * mixture.covariances + v * eye),
    )

    def score(x):
        out = []
        for rows in torch.split(x, CHUNK):
            rows = rows.clone().requires_grad_(True)
            out.append(torch.autograd.grad(law.log_prob(rows).sum(), rows)[0])
        return torch.cat(out)

    return score


def bench_mixture(n: int = 100_000, d: int = 16, m: int = 256) -> None:
    generator = torch.Generator().manual_seed(0)
    mixture = _random_mixture(d, m, generator)
    x = mixture.sample(n, T, generator=generator)
    baseline = _autograd_score(mixture, T)
    diff = (mixture.score(x[:CHUNK], T) - baseline(x[:CHUNK])).abs().max().item()
    exact_s = best_time(lambda: mixture.score(x, T), repeats=1)
    auto_s = best_time(lambda: baseline(x), repeats=1)
    print(f"GMM score d={d} M={m} n={n}: exact {exact_s:.2f} s, autograd MixtureSameFamily {auto_s:.2f} s")
    print(f"  speed-up {auto_s / exact_s:.1f}x (target >= 5x), max abs diff {diff:.1e}")


def bench_chain_vs_enumeration(n: int = 100, n_enumerated: int = 20, K: int = 6, S: int = 8) -> None:
    """Per-point times: the chain on n points, the enumeration on the first n_enumerated of them."""
    chain = markov_sequence(K=K, S=S, p=2, stickiness=0.7)
    mixture = chain.to_mixture()
    x = chain.sample(n, T, generator=torch.Generator().manual_seed(1))
    shared = x[:n_enumerated]
    diff = (chain.score(shared, T) - mixture.score(shared, T)).abs().max().item()
    chain_s = best_time(lambda: chain.score(x, T), repeats=3) / n
    enum_s = best_time(lambda: mixture.score(shared, T), repeats=1) / n_enumerated
    print(
        f"MarkovChainMixture score K={K} S={S}, time per point: forward-backward {chain_s * 1e6:.1f} us "
        f"(n={n}), enumerated {mixture.num_components} components {enum_s * 1e3:.1f} ms (n={n_enumerated})"
    )
    print(
        f"  speed-up {enum_s / chain_s:.0f}x (target >= 50x), max abs diff {diff:.1e} on the "
        f"{n_enumerated} shared points (<= 1e-10)"
    )


def bench_chain_growth(n: int = 2000, S: int = 16, lengths=(8, 16, 32, 64)) -> None:
    print(f"MarkovChainMixture score S={S} p=2 n={n}, time versus K (linear growth = flat per-patch time):")
    for K in lengths:
        chain = markov_sequence(K=K, S=S, p=2, stickiness=0.9)
        x = chain.sample(n, T, generator=torch.Generator().manual_seed(2))
        seconds = best_time(lambda chain=chain, x=x: chain.score(x, T), repeats=3)
        print(f"  K={K:3d}: {seconds * 1e3:8.1f} ms, {seconds / K * 1e3:6.2f} ms per patch")


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, float64, t = {T}")
    bench_mixture()
    bench_chain_vs_enumeration()
    bench_chain_growth()


if __name__ == "__main__":
    main()
