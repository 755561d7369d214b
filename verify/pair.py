"""The DDPM / AR-DM pair: one `Side` per model with its twin functions, networks of matched
capacity, paired training, and the conditional endpoints of the 2-D grid experiments measured
exactly on a grid (docs/math.md sections 4 and 7). An experiment asks `SIDES[model]`; it does not
branch on the model.

Matching: AR-DM's network ("conditional-mlp", one network for all stages) has `width` units per
layer; DDPM's ("mlp", the joint) the width whose parameter count is closest to it. Both train
with one `DiffusionSpec` horizon and the same data: the batch of step i is drawn from the
generator of (seed, i), so the DDPM and AR-DM of one seed see the same data in the same order.
Their EMA weights are measured.

Measurement: the sampler's law on a grid of `nodes` per axis, then `conditional_endpoints`
against the exact law of the output measured: q_0 for the Tweedie-denoised output, q_delta for
the early-stopped x_delta (its conditional is q_delta(x1, x2) / q_delta(x1), noisy prefix).
The grid experiments measure x_delta (the Tweedie step on a grid is a deposit without diffusion,
which aliases). A refinement pair (n, 3n/2 nodes) gives each endpoint its grid-error estimate
1.8 |F(3n/2) - F(n)| (exact for an O(dx^2) error), reported with F(n).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from verify.exact import conditional_endpoints, grid_ar_sampler_law, grid_sampler_law
from verify.experiments import check_instance, check_positive_int
from verify.models import as_conditional_score, as_score, build_model, count_parameters, width_for_parameters
from verify.records import check, metric
from verify.samplers import sample, sample_ar
from verify.spec import DiffusionSpec, TrainSpec
from verify.train import integrated_patch_errors, integrated_score_error, train
from verify.verdicts import Comparison, mean_interval


@dataclass(frozen=True)
class Side:
    """One side of the pair: its network (verify.models name); how a trained network becomes the
    side's score callable; the exact score in the same form (`truth(distribution)`); whether that
    form is conditional, s(k, x^k, x^{<k}, t); its sampler, sample(score, patch_sizes, grid, n,
    **kw); the grid law of that sampler on R^2, grid_law(score, grid, **kw); and the integrated
    score error of each patch, sum_j h_j E||s - grad log q||^2 restricted to patch k (the stage-k
    conditional error on true prefixes for AR-DM, patch k's coordinates of the joint error for
    DDPM), patch_errors(score, distribution, grid, n, generator) -> one Estimate per patch."""

    network: str
    score: Callable
    truth: Callable
    conditional: bool
    sample: Callable
    grid_law: Callable
    patch_errors: Callable


SIDES = {
    "ddpm": Side(
        "mlp",
        as_score,
        lambda d: d.score,
        False,
        lambda score, sizes, grid, n, **kw: sample(score, grid, n, sum(sizes), **kw),
        lambda score, grid, **kw: grid_sampler_law(score, grid, 2, **kw),
        integrated_patch_errors,
    ),
    "ar": Side(
        "conditional-mlp",
        as_conditional_score,
        lambda d: d.conditional_score,
        True,
        sample_ar,
        grid_ar_sampler_law,
        lambda score, d, grid, n, generator: [
            integrated_score_error(score, d, grid, n, generator, k) for k in range(d.num_patches)
        ],
    ),
}
MODELS = tuple(SIDES)
GRID_TOL = 1e-6  # quadrature slack of the chain rule and of q's mass on the box
MASS_TOL = 1e-9  # FFT round-off clipped at 0 may add this much mass, never more


def check_model(model: str) -> str:
    if model not in SIDES:
        raise ValueError(f"model: must be one of {MODELS}, got {model!r}")
    return model


@dataclass(frozen=True)
class PairSpec:
    """Networks and training shared by both models: AR-DM's `width` and `depth` (DDPM matched to
    its parameter count), `train` the training settings, `diffusion` the horizon both train on and
    the sampler both are measured with. `checkpoints`: fractions of training at which the EMA
    weights are also kept (for endpoint-versus-training curves)."""

    width: int = 64
    depth: int = 3
    train: TrainSpec = TrainSpec(steps=1200, lr=2e-3)
    diffusion: DiffusionSpec = field(default_factory=DiffusionSpec)
    checkpoints: tuple = ()

    def __post_init__(self):
        for name in ("width", "depth"):
            check_positive_int(name, getattr(self, name))
        check_instance("train", self.train, TrainSpec)
        check_instance("diffusion", self.diffusion, DiffusionSpec)
        if any(not 0 < c < 1 for c in self.checkpoints):
            raise ValueError(f"checkpoints: must be fractions in (0, 1), got {self.checkpoints}")


def check_paired_design(config) -> None:
    """Config fields shared by the paired grid experiments: seeds (>= 2 for a paired test), spec
    (a PairSpec), box (must hold the start law N(0, I)), margin and equivalence_margin (log ratios)."""
    if config.seeds < 2:
        raise ValueError(f"seeds: paired tests need at least 2, got {config.seeds}")
    check_instance("spec", config.spec, PairSpec)
    if not config.box >= 6.5:
        raise ValueError(f"box: must be >= 6.5 to hold the start law N(0, I), got {config.box}")
    for name in ("margin", "equivalence_margin"):
        value = getattr(config, name)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: must be a finite positive log ratio, got {value}")


def matched_width(model: str, spec: PairSpec, distribution) -> int:
    """AR-DM: spec.width; DDPM: the width matching AR-DM's parameter count on this data."""
    if check_model(model) == "ar":
        return spec.width
    dim, sizes = distribution.dim, distribution.patch_sizes
    target = count_parameters(build_model("conditional-mlp", dim, sizes, hidden=spec.width, depth=spec.depth))
    return width_for_parameters("mlp", target, dim, depth=spec.depth)


def train_model(model: str, distribution, spec: PairSpec, seed: int, device: str = "cpu"):
    """Train `model` on `distribution`: (training result with the EMA network, parameter count,
    {step: EMA copy} at the checkpoints)."""
    network = build_model(
        SIDES[model].network,
        distribution.dim,
        distribution.patch_sizes,
        seed=seed,
        hidden=matched_width(model, spec, distribution),
        depth=spec.depth,
    )
    config = spec.diffusion.train_config(spec.train, seed=seed, device=device)
    keep = {max(1, round(c * spec.train.steps)) for c in spec.checkpoints}
    snapshots = {}

    def snapshot(info):
        if info.step in keep:
            snapshots[info.step] = copy.deepcopy(info.ema)

    result = train(network, distribution, config, callback=snapshot if keep else None)
    return result, count_parameters(network), snapshots


def target_log_densities(distribution, t: float):
    """(log q_t(x1, x2), log q_t(x1)) of the OU-noised target at time t (t = 0: the data)."""
    return (
        lambda x: distribution.log_prob(x, t),
        lambda x1: distribution.conditional_log_prob(0, x1, x1[:, :0], t),
    )


def measure(model: str, score, distribution, spec: DiffusionSpec, nodes: int, box: float):
    """`conditional_endpoints` of the sampler of `spec` driven by `score`, against the law of the
    output it returns (q_0 when denoised, q_delta otherwise)."""
    law = SIDES[check_model(model)].grid_law(
        score, spec.time_grid(), box=box, n=nodes, scheme=spec.scheme, denoise=spec.denoise
    )
    log_prob, prefix_log_prob = target_log_densities(distribution, 0.0 if spec.denoise else spec.delta)
    return law, conditional_endpoints(law, log_prob, prefix_log_prob)


CURVES = ("prefix", "prefix_density", "kl", "reverse_kl", "resolved")


def evaluate(
    model: str, score, distribution, spec: DiffusionSpec, nodes: int, box: float
) -> tuple[dict, dict]:
    """`measure` of `score` (a trained network's, or the exact one in the side's form) as plain
    data: (every scalar endpoint and the masses the checks need, the per-prefix curves CURVES)."""
    law, ends = measure(model, score, distribution, spec, nodes, box)
    scalars = {
        **ends.scalars(),
        "sampler_mass": float(law.density.sum()) * law.cell,
        "target_mass": float(ends.prefix_density.sum()) * law.dx,
        "mass_lost": law.mass_lost,
    }
    curves = {
        "prefix": ends.curves.prefix.tolist(),
        "prefix_density": ends.prefix_density.tolist(),
        "kl": ends.curves.kl.tolist(),
        "reverse_kl": ends.curves.reverse_kl.tolist(),
        "resolved": ends.resolved.tolist(),
    }
    return scalars, curves


def finer(nodes: int) -> int:
    """The refinement partner of a grid of `nodes` nodes per axis: 3 nodes / 2."""
    return 3 * nodes // 2


# an O(dx^2) error: F(n) - F(inf) = (F(n) - F(3n/2)) / (1 - (2/3)^2)
REFINEMENT = 1.0 / (1.0 - (2.0 / 3.0) ** 2)


def grid_error(value: float, finer_value: float) -> float:
    """The grid-error estimate of F(n) from the refinement pair (n, 3n/2), for an error O(dx^2):
    1.8 |F(3n/2) - F(n)|."""
    return REFINEMENT * abs(finer_value - value)


def refined(values: dict, finer_values: dict) -> dict:
    """{name: (F(n), its grid-error estimate)} for every endpoint both resolutions define."""
    return {
        name: (values[name], grid_error(values[name], finer_values[name]))
        for name in values
        if values[name] is not None and finer_values.get(name) is not None
    }


def ratio_grid_error(ddpm: dict, ar: dict, key: str) -> float:
    """Grid error of the paired log ratio log E_DDPM - log E_AR of one seed, from the cell results'
    values and their "finer" ones (the refinement pair applied to the ratio itself)."""
    ratio = math.log(ddpm[key]) - math.log(ar[key])
    return grid_error(ratio, math.log(ddpm["finer"][key]) - math.log(ar["finer"][key]))


def paired_rows(results, **match) -> tuple[list[dict], list[dict]]:
    """(DDPM rows, AR-DM rows) of the cell results matching `match`, each sorted by seed index,
    so that row i of both comes from the same seed."""

    def rows(model):
        chosen = [r for r in results if r["model"] == model and all(r[k] == v for k, v in match.items())]
        return sorted(chosen, key=lambda r: r["index"])

    ddpm, ar = rows("ddpm"), rows("ar")
    if len(ddpm) != len(ar) or not ddpm:
        raise ValueError(
            f"results: need paired DDPM and AR-DM rows for {match}, got {len(ddpm)} and {len(ar)}"
        )
    return ddpm, ar


def log_ratios(ddpm: list[dict], ar: list[dict], get) -> list[float]:
    """log E_DDPM,i - log E_AR,i per seed, E = get(row): the paired effect on a log scale."""
    return [math.log(get(d)) - math.log(get(a)) for d, a in zip(ddpm, ar, strict=True)]


def comparisons(
    claim: str, kind: str, values, margin: float, endpoints, primary: bool = True, errors=None
) -> list:
    """One log-scale `Comparison` per endpoint, values(endpoint) giving its paired differences and
    errors[endpoint] (default 0) the numerical error of their mean (a grid refinement pair)."""
    errors = errors or {}
    return [
        Comparison(claim, e, kind, tuple(values(e)), margin, primary, "log", errors.get(e, 0.0))
        for e in endpoints
    ]


def seed_metric(values, unit: str, estimator: str) -> dict:
    """Mean over seeds with its standard error."""
    mean, se, interval = mean_interval(values)
    return metric(mean, unit, estimator + ", 95% t-interval", stderr=se, ci=interval)


def grid_checks(label: str, rows: list[dict]) -> list[dict]:
    """Guaranteed relations of `evaluate` results over seeds: the chain rule (average conditional
    KL <= joint KL), q's mass on the box, no mass created by the grid."""
    return [
        check(
            f"{label}: prefix-averaged conditional KL - joint KL <= 0 (chain rule, worst seed)",
            max(r["average_kl"] - r["joint_kl"] for r in rows),
            0.0,
            "<=",
            GRID_TOL,
        ),
        check(
            f"{label}: quadrature mass of q(x1) on the box == 1",
            max(abs(1 - r["target_mass"]) for r in rows),
            0.0,
            "==",
            GRID_TOL,
        ),
        check(
            f"{label}: grid sampler mass <= 1 (no mass created)",
            max(r["sampler_mass"] for r in rows),
            1.0,
            "<=",
            MASS_TOL,
        ),
    ]
