"""The DDPM / AR-DM pair on a 2-D target with 1-D patches: matched networks, paired training, and
their conditional endpoints measured exactly on a grid (MATH.md sections 4 and 7).

Matching: AR-DM's network ("conditional-mlp", one network for both stages) has `ar_hidden` units
per layer; DDPM's ("mlp", the joint) the width whose parameter count is closest to it. Both train
with one `DiffusionSpec` horizon and the same data: the batch of step i is drawn from the
generator of (seed, i), so the DDPM and AR-DM of one seed see the same data in the same order.
Their EMA weights are measured.

Measurement: the sampler's law on a grid of `nodes` per axis, then `conditional_endpoints`
against the exact law of the output measured: q_0 for the Tweedie-denoised output, q_delta for
the early-stopped x_delta (its conditional is q_delta(x1, x2) / q_delta(x1), noisy prefix).
A refinement pair (nodes, 2 nodes) gives each endpoint its own grid-error estimate
|F(2n) - F(n)|, reported with the fine value.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

from verify.exact import conditional_endpoints, grid_ar_sampler_law, grid_sampler_law
from verify.models import as_conditional_score, as_score, build_model, count_parameters, width_for_parameters
from verify.spec import DiffusionSpec
from verify.train import train

MODELS = ("ddpm", "ar")
NETWORKS = {"ddpm": "mlp", "ar": "conditional-mlp"}


def check_model(model: str) -> str:
    if model not in NETWORKS:
        raise ValueError(f"model: must be one of {MODELS}, got {model!r}")
    return model


@dataclass(frozen=True)
class PairSpec:
    """Networks and training shared by both models; `diffusion` is the horizon both train on and
    the sampler both are measured with. `checkpoints`: fractions of training at which the EMA
    weights are also kept (for endpoint-versus-training curves)."""

    ar_hidden: int = 64
    depth: int = 3
    steps: int = 1200
    batch: int = 256
    lr: float = 2e-3
    diffusion: DiffusionSpec = field(default_factory=lambda: DiffusionSpec(denoise=True))
    checkpoints: tuple = ()

    def __post_init__(self):
        for name in ("ar_hidden", "depth", "steps", "batch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name}: must be a positive integer, got {value!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: must be a finite positive number, got {self.lr}")
        if not isinstance(self.diffusion, DiffusionSpec):
            raise ValueError(f"diffusion: must be a DiffusionSpec, got {type(self.diffusion).__name__}")
        if any(not 0 < c < 1 for c in self.checkpoints):
            raise ValueError(f"checkpoints: must be fractions in (0, 1), got {self.checkpoints}")


def hidden_width(model: str, spec: PairSpec, distribution) -> int:
    """AR-DM: spec.ar_hidden; DDPM: the width matching AR-DM's parameter count on this data."""
    if check_model(model) == "ar":
        return spec.ar_hidden
    dim, sizes = distribution.dim, distribution.patch_sizes
    target = count_parameters(
        build_model("conditional-mlp", dim, sizes, hidden=spec.ar_hidden, depth=spec.depth)
    )
    return width_for_parameters("mlp", target, dim, depth=spec.depth)


def train_model(model: str, distribution, spec: PairSpec, seed: int, device: str = "cpu"):
    """Train `model` on `distribution`: (EMA network, parameter count, {step: EMA copy} at the
    checkpoints)."""
    hidden = hidden_width(model, spec, distribution)
    network = build_model(
        NETWORKS[model],
        distribution.dim,
        distribution.patch_sizes,
        seed=seed,
        hidden=hidden,
        depth=spec.depth,
    )
    config = spec.diffusion.train_config(
        steps=spec.steps, batch=spec.batch, lr=spec.lr, seed=seed, device=device
    )
    keep = {max(1, round(c * spec.steps)) for c in spec.checkpoints}
    snapshots = {}

    def snapshot(info):
        if info.step in keep:
            snapshots[info.step] = copy.deepcopy(info.ema)

    result = train(network, distribution, config, callback=snapshot if keep else None)
    return result.ema, count_parameters(network), snapshots


def score_function(model: str, network):
    """The network as a score callable: score(x, t) for DDPM, score(k, x_k, prefix, t) for AR-DM."""
    return as_score(network) if check_model(model) == "ddpm" else as_conditional_score(network)


def target_log_densities(distribution, t: float):
    """(log q_t(x1, x2), log q_t(x1)) of the OU-noised target at time t (t = 0: the data)."""
    return (
        lambda x: distribution.log_prob(x, t),
        lambda x1: distribution.conditional_log_prob(0, x1, x1[:, :0], t),
    )


def measure(model: str, score, distribution, spec: DiffusionSpec, nodes: int, box: float):
    """`conditional_endpoints` of the sampler of `spec` driven by `score`, against the law of the
    output it returns (q_0 when denoised, q_delta otherwise)."""
    grid = spec.time_grid()
    if check_model(model) == "ddpm":
        law = grid_sampler_law(score, grid, 2, box=box, n=nodes, scheme=spec.scheme, denoise=spec.denoise)
    else:
        law = grid_ar_sampler_law(score, grid, box=box, n=nodes, scheme=spec.scheme, denoise=spec.denoise)
    log_prob, prefix_log_prob = target_log_densities(distribution, 0.0 if spec.denoise else spec.delta)
    return law, conditional_endpoints(law, log_prob, prefix_log_prob)


def refined(coarse: dict, fine: dict) -> dict:
    """{name: (fine value, |fine - coarse|)} for every endpoint both resolutions define."""
    return {
        name: (fine[name], abs(fine[name] - coarse[name]))
        for name in fine
        if fine[name] is not None and coarse.get(name) is not None
    }
