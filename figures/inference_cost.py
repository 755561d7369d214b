"""Claim 6: NFE and wall time of AR-DM versus DDPM as K grows, at equal steps per stage and at an
equal total KL target; wall times with 95% error bars over repeats, exact and network scores."""

from __future__ import annotations

import numpy as np

from figures.style import band, figure

BUDGETS = (("equal_steps", "equal steps per stage"), ("equal_kl", "equal KL target"))
MODELS = (("ddpm", "DDPM", "C0"), ("ar", "AR-DM", "C3"))
SCORES = (("exact", "exact score", "-"), ("network", "network score", "--"))


def draw(record: dict):
    series, config = record["series"], record["config"]
    K = np.asarray(series["K"], float)
    fig, axes = figure(ncols=3, width=4.4)
    ax = axes[0]
    for budget, budget_label in BUDGETS:
        style = "-" if budget == "equal_steps" else "--"
        for model, label, color in MODELS:
            ax.plot(
                K,
                series[budget][f"nfe_{model}"],
                style,
                marker="o",
                ms=3,
                color=color,
                label=f"{label}, {budget_label}",
            )
    ax.plot(K, K * series["equal_steps"]["nfe_ddpm"][0], ":", color="k", lw=1, label="K N (identity)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of patches K")
    ax.set_ylabel("NFE (score evaluations, exact count)")
    ax.set_title(f"NFE (d = {config['dim']}, N = {config['steps']}, eps = {config['eps']:g})", fontsize=9)
    ax.legend(fontsize=6)
    for ax, (budget, budget_label) in zip(axes[1:], BUDGETS, strict=True):
        entry = series[budget]
        for score, score_label, style in SCORES:
            for model, label, color in MODELS:
                band(
                    ax,
                    K,
                    entry[f"seconds_{score}_{model}"],
                    entry[f"seconds_se_{score}_{model}"],
                    label=f"{label}, {score_label}",
                    color=color,
                    ls=style,
                )
        ax.set_xscale("log", base=2)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("number of patches K")
        ax.set_ylabel(f"wall time per {config['samples']} samples (s)")
        ax.set_title(f"wall time, {budget_label}\n(95% band, {config['repeats']} repeats)", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle("Claim 6: AR-DM sampling cost relative to DDPM grows ~K (d fixed)", fontsize=9)
    fig.tight_layout()
    return fig
