"""Claim 1 figure: the DDPM hierarchy versus N, one panel per target.

Colour: the level (exact gap, chain path KL, Girsanov, split); line style: the score (exact,
perturbed, learned). Bands: 95% Monte Carlo intervals (grid-error band for the gap); dotted grey:
Benton et al.'s scaling form with its fitted constant.
"""

from __future__ import annotations

import numpy as np

from figures.style import band, figure

LEVELS = (
    ("gap", "exact gap KL(q_delta||p^)"),
    ("chain_path_kl", "chain path KL"),
    ("girsanov", "Girsanov"),
    ("split", "split bound"),
)
COLOURS = {"gap": "C0", "chain_path_kl": "C1", "girsanov": "C2", "split": "C3"}
STYLES = {"exact": "-", "perturbed": "--", "learned": ":"}


def draw(record: dict):
    series = record["series"]
    steps = series["steps"]
    targets = list(dict.fromkeys(s["target"] for s in series["settings"]))
    fig, axes = figure(ncols=len(targets), width=4.4, height=3.8)
    for ax, target in zip(axes, targets, strict=True):
        for setting in (s for s in series["settings"] if s["target"] == target):
            style = STYLES[setting["score"]]
            for level, label in LEVELS:
                values = np.asarray(setting[level], float)
                if not np.isfinite(values).any():
                    continue
                err = setting["gap_err"] if level == "gap" else setting[f"{level}_se"]
                z = 1.0 if level == "gap" else 1.96
                band(
                    ax,
                    steps,
                    np.clip(values, 1e-6, None),
                    err,
                    z=z,
                    color=COLOURS[level],
                    ls=style,
                    label=f"{label} ({setting['score']})",
                )
            ax.plot(steps, setting["benton_fit"], color="0.5", ls=":", lw=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of steps N")
        ax.set_ylabel("KL (nats)")
        ax.set_title(f"{target}")
        ax.legend(fontsize=5, loc="lower left")
    fig.suptitle(
        "DDPM: exact gap <= chain path KL <= Girsanov <= split (grey dotted: Benton form, fitted C)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
