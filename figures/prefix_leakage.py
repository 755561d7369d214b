"""Claim 11 figure: how each model's conditional endpoints and joint KL respond to a known score
bias placed in the prefix direction, the conditional direction, or split between them (matched
eps_score^2), exact on a grid; bars are the refinement-pair grid errors."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullFormatter

from figures.style import figure

DIRECTIONS = {
    "prefix": "prefix direction (x1 / stage 1)",
    "conditional": "conditional direction (x2 / stage 2)",
    "split": "split equally",
}
ENDPOINTS = {
    "average_kl": ("o-", "avg conditional KL"),
    "model_prefix_reverse_kl": ("s--", "rev cond. KL, model prefix"),
    "worst_kl": ("^:", "worst conditional KL"),
    "joint_kl": ("d-.", "joint KL"),
}
COLOURS = {"ddpm": "tab:blue", "ar": "tab:orange"}
NAMES = {"ddpm": "DDPM", "ar": "AR-DM"}


def draw(record: dict):
    series = record["series"]
    eps2 = np.asarray(series["eps_score_squared"])
    fig, axes = figure(ncols=3, width=2.35, height=2.6)
    for ax, (direction, title) in zip(axes, DIRECTIONS.items(), strict=True):
        for model, colour in COLOURS.items():
            for key, (style, _) in ENDPOINTS.items():
                value = np.asarray(series[f"{model}_{direction}_{key}"])
                error = np.asarray(series[f"{model}_{direction}_{key}_grid_error"])
                ax.errorbar(eps2, value, yerr=error, fmt=style, color=colour, ms=3, capsize=2, lw=1)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_xscale("log")
        ax.set_xticks(eps2, [f"{v:.2g}" for v in eps2])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("eps_score^2 (matched)")
        ax.set_title(title, fontsize=8)
    axes[0].set_ylabel("response E(beta) - E(0) [nats]")
    handles = [axes[0].plot([], [], color=c, label=NAMES[m])[0] for m, c in COLOURS.items()]
    handles += [axes[0].plot([], [], s, color="k", label=label)[0] for s, label in ENDPOINTS.values()]
    fig.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.93), ncol=3, fontsize=7, frameon=False
    )
    fig.suptitle(
        "Claim 11: prefix leakage, exact scores + known bias (exact grid law of x_delta)", fontsize=9
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.8))
    return fig
