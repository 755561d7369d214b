"""Claim 2 figure: AR-DM per-stage contributions stacked versus N, one panel per (target, score).

Bars: the exact prefix-averaged conditional KL of each stage, stacked; black diamonds: the joint
KL(p_AR || p^) with its grid-error bar (the chain rule says the stack reaches it exactly). The
per-stage bounds (chain path KL, Girsanov, split: nats, not to scale here) are in the record's
series and checks.
"""

from __future__ import annotations

import numpy as np

from figures.style import figure


def draw(record: dict):
    series = record["series"]
    steps = series["steps"]
    settings = series["settings"]
    fig, axes = figure(ncols=len(settings), width=3.8, height=3.6)
    x = np.arange(len(steps))
    for ax, setting in zip(axes, settings, strict=True):
        stage_gap = np.asarray(setting["stage_gap"], float)  # (len(steps), K)
        bottom = np.zeros(len(steps))
        for k in range(stage_gap.shape[1]):
            ax.bar(x, stage_gap[:, k], bottom=bottom, width=0.6, label=f"stage {k + 1}", color=f"C{k}")
            bottom += stage_gap[:, k]
        joint = setting["joint"]
        ax.errorbar(
            x,
            joint["gap"],
            yerr=joint["gap_err"],
            fmt="D",
            color="k",
            ms=4,
            capsize=2,
            label="joint KL(p_AR||p^)",
        )
        ax.set_xticks(x, [str(n) for n in steps])
        ax.set_xlabel("steps per stage N")
        ax.set_ylabel("KL (nats)")
        ax.set_title(f"{setting['target']} / {setting['score']} ({setting['method']})", fontsize=8)
        ax.legend(fontsize=5)
    fig.suptitle("AR-DM: per-stage KLs add up to the joint KL; each stage below its bounds", fontsize=9)
    fig.tight_layout()
    return fig
