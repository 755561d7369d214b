"""Claim 9: an AR-DM whose stage k sees only the last w patches W pays the conditional mutual
information I(x^k ; x^{<k} \\ W | W) (docs/math.md section 4, "Limited context").

For any stage model p(. | W) depending on the prefix only through W, exactly (Pythagoras for KL):

    E_{x^{<k}} KL(q(. | x^{<k}) || p(. | W)) = I(x^k ; x^{<k} \\ W | W) + E_W KL(q(. | W) || p(. | W)).

Data: a LinearGaussianChain with a damped-rotation transition in a 2-D latent z^k, read through
its first coordinate, x^k = z^k_1 (1-D patches): a Gaussian sequence with a hidden state, so no
finite window makes the CMI vanish. Exact part: the best windowed model uses the exact
window-conditional score grad log q_t(x^k | W) (affine, from the window marginal); the AR sampler's
law is then exactly Gaussian (verify.exact.gaussian_ar_sampler_law), so both KLs and the CMI are
closed form. Checks: KL >= CMI and the identity above, to float64 round-off (1e-9 relative), and
the Monte Carlo CMI (verify.metrics.mutual_info) against the exact one (5 standard errors).
Learned part: a ConditionalScoreMLP whose prefix mask is cut to the window (it never sees older
patches). Its score error to the FULL conditional score splits the same way,
E||s - g_full||^2 = E||s - g_W||^2 + E||g_W - g_full||^2 (g_W is E[g_full | x^k_t, W]), so it is at
least the exact windowed score's error: checked per stage and time on shared draws (5 standard
errors). Its integrated score error is reported next to the CMI (the Girsanov term it must pay).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from synthetic import GaussianMixture, LinearGaussianChain
from synthetic.validation import DTYPE
from verify.exact import gaussian_ar_sampler_law
from verify.experiments import Cell, Experiment, Outcome, check_instance, check_positive_int
from verify.metrics.gaussian import gaussian_conditional, gaussian_expected_conditional_kl
from verify.metrics.montecarlo import mean_and_stderr
from verify.metrics.mutual_info import conditional_mutual_information, window_marginal
from verify.models import as_conditional_score, build_model
from verify.records import MARGIN_SE, check, metric
from verify.spec import DiffusionSpec, TrainSpec
from verify.train import noised, train

NAME = "limited_context"
CLAIM = (
    "An AR-DM stage that sees only the last w patches pays at least the conditional mutual "
    "information I(x^k; x^{<k} \\ W | W) in average conditional KL, exactly."
)
ROUNDOFF = 1e-9


@dataclass(frozen=True)
class Config:
    """K patches; latent transition radius * rotation(angle); windows w (a window >= k means the
    full prefix); `diffusion`: the sampler of the exact part and the horizon the learned network
    trains on and is evaluated on; `draws` for the Monte Carlo CMI; learned: a conditional MLP of
    `width` seeing window `learned_window`, trained with `train` (None: no learned model), score
    errors at `times` and integrated on an `eval_steps`-step grid (same T, delta) from
    `eval_draws` draws, `seeds`."""

    K: int = 6
    radius: float = 0.95
    angle: float = 0.6
    windows: tuple = (0, 1, 2, 3)
    diffusion: DiffusionSpec = DiffusionSpec(T=6.0, delta=1e-3, steps=200)
    draws: int = 20000
    learned_window: int = 1
    train: TrainSpec | None = TrainSpec(steps=300, batch=256)
    width: int = 64
    times: tuple = (0.05, 0.3, 1.0)
    eval_steps: int = 20
    eval_draws: int = 2048
    seeds: int = 1

    def __post_init__(self):
        for name in ("K", "draws", "width", "eval_steps", "eval_draws", "seeds"):
            check_positive_int(name, getattr(self, name))
        if self.K < 2:
            raise ValueError(f"K: need at least 2 patches, got {self.K}")
        if not 0 < self.radius < 1:
            raise ValueError(f"radius: must lie in (0, 1) for a stable chain, got {self.radius}")
        if not self.windows or any(not isinstance(w, int) or w < 0 for w in self.windows):
            raise ValueError(f"windows: need non-negative integers, got {self.windows}")
        check_instance("diffusion", self.diffusion, DiffusionSpec)
        if self.train is not None:
            check_instance("train", self.train, TrainSpec)
        if not isinstance(self.learned_window, int) or self.learned_window < 0:
            raise ValueError(f"learned_window: must be a non-negative integer, got {self.learned_window!r}")
        if not self.times or not all(math.isfinite(t) and t > 0 for t in self.times):
            raise ValueError(f"times: need finite times t > 0, got {self.times}")


@dataclass(frozen=True)
class Params:
    config: Config
    part: str  # "exact" or "learned"
    seed: int


def observed_chain(K: int, radius: float, angle: float) -> GaussianMixture:
    """x^k = z^k_1 for the chain z^{k+1} = radius R(angle) z^k + b + N(0, Q), z^1 ~ N(m, P_0)."""
    c, s = math.cos(angle), math.sin(angle)
    transition = radius * torch.tensor([[c, -s], [s, c]], dtype=DTYPE)
    latent = LinearGaussianChain(
        K,
        torch.tensor([0.8, -0.5], dtype=DTYPE),
        torch.tensor([[1.0, 0.3], [0.3, 0.6]], dtype=DTYPE),
        transition,
        torch.tensor([0.1, 0.05], dtype=DTYPE),
        torch.tensor([[0.2, 0.05], [0.05, 0.3]], dtype=DTYPE),
    )
    first = torch.arange(0, 2 * K, 2)
    mean, cov = latent.mean()[first], latent.covariance()[first][:, first]
    return GaussianMixture(torch.ones(1, dtype=DTYPE), mean[None], cov[None], patch_sizes=(1,) * K)


def _window(k: int, w: int) -> int:
    return min(w, k)


def windowed_affine_score(dist: GaussianMixture, window: int):
    """Stage k's exact window-conditional score grad log q_t(x^k | W) as (A, B, c) on the full
    prefix (B zero outside the last min(window, k) patches)."""

    def affine(k: int, t: float):
        w = _window(k, window)
        a, b_w, c = window_marginal(dist, k, w).conditional_affine_score(w, t)
        b = torch.zeros(dist.patch_sizes[k], dist.patch_bounds[k], dtype=DTYPE)
        b[:, dist.patch_bounds[k - w] : dist.patch_bounds[k]] = b_w
        return a, b, c

    return affine


def _exact(config: Config, seed: int) -> dict:
    dist = observed_chain(config.K, config.radius, config.angle)
    mean, cov = dist.means[0], dist.covariances[0]
    spec = config.diffusion
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for window in config.windows:
        law = gaussian_ar_sampler_law(
            windowed_affine_score(dist, window),
            dist.patch_sizes,
            spec.time_grid(),
            spec.scheme,
            denoise=spec.denoise,
        )
        for k in range(1, config.K):
            w, end, lo = (
                _window(k, window),
                dist.patch_bounds[k + 1],
                dist.patch_bounds[k - _window(k, window)],
            )
            start, d_k = dist.patch_bounds[k], dist.patch_sizes[k]
            full = gaussian_conditional(mean, cov, start, d_k)
            kept = torch.cat([torch.arange(lo, start), torch.arange(start, end)])
            local = gaussian_conditional(mean[kept], cov[kept][:, kept], start - lo, d_k)
            cmi = 0.5 * float(torch.logdet(local.cov) - torch.logdet(full.cov))
            kl_full = gaussian_expected_conditional_kl(
                mean[:end], cov[:end, :end], law.mean[:end], law.cov[:end, :end], start, d_k
            )
            # the model's stage law on W alone: W ~ q, x^k = P_W W + offset + N(0, S)
            gain = law.stages[k].gain[:, lo:start]
            s_ww, m_w = cov[lo:start, lo:start], mean[lo:start]
            model_mean = torch.cat([m_w, gain @ m_w + law.stages[k].offset])
            model_cov = torch.cat(
                [
                    torch.cat([s_ww, s_ww @ gain.T], dim=1),
                    torch.cat([gain @ s_ww, gain @ s_ww @ gain.T + law.stages[k].cov], dim=1),
                ]
            )
            kl_window = gaussian_expected_conditional_kl(
                mean[kept], cov[kept][:, kept], model_mean, model_cov, start - lo, d_k
            )
            mc = conditional_mutual_information(dist, k, w, config.draws, generator)
            rows.append(
                {
                    "window": window,
                    "k": k,
                    "w": w,
                    "cmi": cmi,
                    "kl_full": kl_full,
                    "kl_window": kl_window,
                    "cmi_mc": mc.value,
                    "cmi_mc_se": mc.stderr,
                }
            )
    return {"seed": seed, "part": "exact", "rows": rows}


def _learned(config: Config, seed: int, device: str) -> dict:
    dist = observed_chain(config.K, config.radius, config.angle)
    model = build_model(
        "conditional-mlp",
        dist.dim,
        dist.patch_sizes,
        seed=seed,
        hidden=config.width,
        window=config.learned_window,
    )
    train(
        model,
        dist,
        config.diffusion.train_config(config.train, seed=seed, device=device),
    )
    network = as_conditional_score(model)
    exact = windowed_affine_score(dist, config.learned_window)
    generator = torch.Generator().manual_seed(seed + 1)
    eval_grid = config.diffusion.time_grid(config.eval_steps)
    steps = (eval_grid[:-1] - eval_grid[1:]).tolist()
    rows = []
    for k in range(1, config.K):
        profile = []
        for t in list(config.times) + eval_grid[:-1].tolist():
            x0 = dist.sample(config.eval_draws, 0.0, generator)
            prefix = x0[:, : dist.patch_bounds[k]]
            eps = torch.randn(config.eval_draws, dist.patch_sizes[k], dtype=DTYPE, generator=generator)
            x_t = noised(x0[:, dist.patch_slice(k)], torch.tensor(t, dtype=DTYPE), eps)
            truth = dist.conditional_score(k, x_t, prefix, t)
            a, b, c = exact(k, t)
            best = x_t @ a.T + prefix @ b.T + c
            net = (network(k, x_t, prefix, t) - truth).square().sum(-1)
            floor = (best - truth).square().sum(-1)
            profile.append((mean_and_stderr(net), mean_and_stderr(floor), mean_and_stderr(net - floor)))
        at_times, on_grid = profile[: len(config.times)], profile[len(config.times) :]
        integral = [_integrate(steps, [e[i] for e in on_grid]) for i in range(2)]
        rows.append(
            {
                "k": k,
                "w": _window(k, config.learned_window),
                "times": list(config.times),
                "net": [e[0].value for e in at_times],
                "net_se": [e[0].stderr for e in at_times],
                "floor": [e[1].value for e in at_times],
                "floor_se": [e[1].stderr for e in at_times],
                "excess": [e[2].value for e in at_times],
                "excess_se": [e[2].stderr for e in at_times],
                "net_integral": integral[0][0],
                "net_integral_se": integral[0][1],
                "floor_integral": integral[1][0],
                "floor_integral_se": integral[1][1],
            }
        )
    return {"seed": seed, "part": "learned", "rows": rows}


def _integrate(steps: list[float], estimates) -> tuple[float, float]:
    """sum_j h_j E_j and its standard error (independent draws at every grid time)."""
    value = sum(h * e.value for h, e in zip(steps, estimates, strict=True))
    return value, math.sqrt(sum((h * e.stderr) ** 2 for h, e in zip(steps, estimates, strict=True)))


def cells(config: Config, seed: int) -> list[Cell]:
    out = [Cell(NAME, "exact", Params(config, "exact", seed * 1000))]
    if config.train is not None:
        out += [
            Cell(NAME, f"learned-s{i}", Params(config, "learned", seed * 1000 + 1 + i))
            for i in range(config.seeds)
        ]
    return out


def run_cell(params: Params, device: str) -> dict:
    if params.part == "exact":
        return _exact(params.config, params.seed)
    return _learned(params.config, params.seed, device)


def aggregate(config: Config, results: list[dict]) -> Outcome:
    exact = next(r for r in results if r["part"] == "exact")["rows"]
    learned = [r for r in results if r["part"] == "learned"]
    checks, metrics = [], {}
    for row in exact:
        label = f"window {row['window']} stage {row['k']}"
        scale = ROUNDOFF * max(1.0, abs(row["kl_full"]))
        checks.append(
            check(f"{label}: E KL(full || windowed) >= CMI", row["kl_full"], row["cmi"], ">=", scale)
        )
        checks.append(
            check(
                f"{label}: E KL(full || windowed) == CMI + E KL(window cond. || windowed)",
                row["kl_full"],
                row["cmi"] + row["kl_window"],
                "==",
                scale,
            )
        )
        checks.append(
            check(
                f"{label}: Monte Carlo CMI == exact CMI",
                row["cmi_mc"],
                row["cmi"],
                "==",
                MARGIN_SE * row["cmi_mc_se"],
            )
        )
    for window in config.windows:
        rows = [r for r in exact if r["window"] == window]
        kl, cmi = sum(r["kl_full"] for r in rows), sum(r["cmi"] for r in rows)
        metrics[f"total_kl_window{window}"] = metric(
            kl, "nats", "exact Gaussian sampler law, sum over stages"
        )
        metrics[f"total_cmi_window{window}"] = metric(cmi, "nats", "exact Gaussian CMI, sum over stages")
    for result in learned:
        for row in result["rows"]:
            for t, excess, se in zip(row["times"], row["excess"], row["excess_se"], strict=True):
                checks.append(
                    check(
                        f"learned seed {result['seed']} stage {row['k']} t={t:g}: network score error >= "
                        "exact windowed score error",
                        excess,
                        0.0,
                        ">=",
                        MARGIN_SE * se,
                    )
                )
    if learned:
        n = len(learned)
        net = [sum(r["net_integral"] for r in res["rows"]) for res in learned]
        floor = [sum(r["floor_integral"] for r in res["rows"]) for res in learned]
        spread = torch.tensor(net, dtype=DTYPE).std().item() / math.sqrt(n) if n > 1 else None
        mc_se = math.sqrt(sum(sum(r["net_integral_se"] ** 2 for r in res["rows"]) for res in learned)) / n
        metrics["learned_integrated_score_error"] = metric(
            sum(net) / n,
            "nats",
            f"sum_k sum_j h_j E||s - g_full||^2, mean of {n} seeds (se: seeds or MC)",
            stderr=spread if spread is not None else mc_se,
        )
        metrics["exact_window_integrated_score_error"] = metric(
            sum(floor) / n, "nats", "same for the exact windowed score (its floor)"
        )
    window = config.learned_window
    total_cmi = metrics[f"total_cmi_window{window}"]["value"] if window in config.windows else float("nan")
    held = sum(c["holds"] for c in checks)
    value = {name: item["value"] for name, item in metrics.items()}
    parts = ", ".join(
        f"w={w}: KL {value[f'total_kl_window{w}']:.3g} vs CMI {value[f'total_cmi_window{w}']:.3g}"
        for w in config.windows
    )
    learned_text = (
        f"; learned w={window}: sum_j h_j E||s - g_full||^2 {value['learned_integrated_score_error']:.3g} "
        f"(exact windowed score's {value['exact_window_integrated_score_error']:.3g}; "
        f"a {config.eval_steps}-step sum, not the Girsanov bound) vs CMI {total_cmi:.3g} nats"
        if learned
        else ""
    )
    return Outcome(
        metrics=metrics,
        checks=checks,
        series={"exact": exact, "learned": learned},
        summary={
            "measured": (
                f"{held}/{len(checks)} checks hold; sampler output {config.diffusion.output}; "
                f"summed over stages, {parts}{learned_text}"
            ),
            "bound": "E KL(q(x^k|x^{<k}) || p(x^k|W)) >= I(x^k; x^{<k} \\ W | W), exact",
        },
    )


PROFILES = {
    "quick": Config(
        K=5,
        windows=(0, 1, 2),
        diffusion=DiffusionSpec(T=6.0, delta=1e-3, steps=100),
        draws=10000,
        train=TrainSpec(steps=200, batch=256),
        eval_steps=12,
        eval_draws=1024,
    ),
    "default": Config(
        K=8, windows=(0, 1, 2, 4), draws=40000, train=TrainSpec(steps=2000, batch=256), width=96, seeds=3
    ),
    "full": Config(
        K=16,
        windows=(0, 1, 2, 4, 8),
        diffusion=DiffusionSpec(T=6.0, delta=1e-3, steps=400),
        draws=200000,
        train=TrainSpec(steps=20000, batch=1024),
        width=256,
        eval_steps=40,
        eval_draws=16384,
        seeds=4,
    ),
}


EXPERIMENT = Experiment(
    name=NAME,
    claim=CLAIM,
    profiles=PROFILES,
    cells=cells,
    run_cell=run_cell,
    aggregate=aggregate,
    estimated_s={"quick": 3.0, "default": 56.0, "full": 600.0},
)
