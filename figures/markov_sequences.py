"""Claim 8 figure: the two primary endpoints with 95% t-intervals over paired seeds. Left: per
position k, the transition error under the model's own prefixes, E_a TV(P^_k(a, .), Q_k(a, .)),
for AR-DM, DDPM and exact samples (the estimator's floor). Right: P(stay | just switched) per model
and sampler output, against its exact value; dots are single seeds. Titles carry the verdicts."""

from __future__ import annotations

import numpy as np

from figures.style import figure

LABELS = {"ar": "AR-DM", "ddpm": "DDPM", "exact": "exact samples"}
COLOURS = {"ar": "C0", "ddpm": "C1", "exact": "0.4"}


def _interval_band(ax, x, entry, kind):
    low, high = np.asarray(entry["per_k_ci"], float).T
    ax.plot(x, entry["per_k_mean"], marker="o", ms=3, color=COLOURS[kind], label=LABELS[kind])
    ax.fill_between(x, low, high, color=COLOURS[kind], alpha=0.2, lw=0)


def _verdict(record: dict, endpoint: str, what: str) -> str:
    """'what, DDPM − AR-DM: estimate [interval], verdict' of a primary endpoint, '' when absent."""
    for v in record.get("verdicts", []):
        if v["primary"] and v["endpoint"].startswith(endpoint):
            low, high = v["interval"]
            return f"\n{what}, DDPM − AR-DM:\n{v['estimate']:.3f} [{low:.3f}, {high:.3f}], {v['verdict']}"
    return ""


def draw(record: dict):
    series, config = record["series"], record["config"]
    primary = series["primary_output"]
    fig, axes = figure(ncols=2, width=3.4, height=3.0)
    ax = axes[0]
    k = np.arange(1, series["K"])
    for kind in ("ar", "ddpm", "exact"):
        _interval_band(ax, k, series[f"{kind}_{'exact' if kind == 'exact' else primary}"], kind)
    ax.set_xticks(k)
    ax.set_xlabel("position k (0-based)")
    ax.set_ylabel(r"$E_a\,\mathrm{TV}(\hat P_k(a,\cdot), Q_k(a,\cdot))$")
    ax.set_title(
        f"transition error, own prefixes ({primary}){_verdict(record, 'transition', 'mean over k')}",
        fontsize=8,
    )
    ax.legend(fontsize=7)
    ax = axes[1]
    rows = [("ar", primary), ("ddpm", primary)]
    rows += [
        (kind, other) for kind in ("ar", "ddpm") for other in ("denoised", "x_delta") if other != primary
    ]
    rows.append(("exact", "exact"))
    for y, (kind, output) in enumerate(rows):
        entry = series[f"{kind}_{output}"]
        low, high = entry["stay_ci"]
        ax.errorbar(
            entry["stay_mean"],
            y,
            xerr=[[entry["stay_mean"] - low], [high - entry["stay_mean"]]],
            fmt="o",
            ms=4,
            capsize=3,
            color=COLOURS[kind],
        )
        ax.plot(
            entry["stay"], np.full(len(entry["stay"]), y + 0.2), ".", ms=3, color=COLOURS[kind], alpha=0.6
        )
    ax.axvline(series["stay_exact"], color="k", ls="--", lw=0.8, label="exact value")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(
        [f"{LABELS[kind]}\n{output}" if kind != "exact" else LABELS[kind] for kind, output in rows]
    )
    ax.tick_params(axis="y", labelsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel(r"$P(A_{k+1} = A_k \mid A_k \neq A_{k-1})$")
    ax.set_title(
        f"stay right after a rare switch{_verdict(record, 'stay_error', 'error |P̂ − P|')}", fontsize=8
    )
    ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(
        f"Claim 8: Markov-chain sequences (K={config['K']}, S={config['S']}, p={config['p']}), "
        f"{len(series['ar_' + primary]['seeds'])} paired seeds; bands and bars: 95% t-intervals",
        fontsize=8,
    )
    fig.tight_layout()
    return fig
