"""Claim 2 figure: the AR-DM hierarchy per stage and the chain rule, one panel per (target, score).

For every N (grouped, alternately shaded) and every stage k (and J, the joint law), a ladder on a
log axis: the exact prefix-averaged conditional KL of the stage (the gap) below its chain path KL,
Girsanov and split bounds (chain path KL and Girsanov, often nearly equal, set a little apart), in
the colours and markers of the DDPM figure. Bars: 95% Monte Carlo
intervals of the bounds, +- the grid-error estimate of the gaps. At J, a black cross marks the sum
of the stage gaps: the chain rule says it falls on the joint gap.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from figures.style import HIERARCHY, decades, panel_grid, shared_legend

MAX_SLOTS_PER_ROW = 30  # two panels per row while each holds at most this many ladders
NUDGE = {"gap": 0.0, "chain_path_kl": -0.2, "girsanov": 0.2, "split": 0.0}  # near-equal bounds side by side


def _ladders(setting: dict, i: int) -> list[dict]:
    """{level: value, level_err: 95% half-width} for stages 1..K, then the joint, at the i-th N."""
    out = []
    for k, stage in enumerate(setting["stages"]):
        rung = {"gap": setting["stage_gap"][i][k], "gap_err": setting["stage_gap_err"][i][k]}
        out.append(rung | {key: values[i] for key, values in stage.items()})
    out.append({key: values[i] for key, values in setting["joint"].items()})
    for rung in out:
        for level in HIERARCHY:
            rung[f"{level}_err"] = rung["gap_err"] if level == "gap" else 1.96 * rung[f"{level}_se"]
    return out


def _panel(ax, setting: dict, steps) -> None:
    K = len(setting["patch_sizes"])
    width = K + 2  # K stages, the joint, one empty slot between groups
    for i in range(len(steps)):
        rungs = _ladders(setting, i)
        x = i * width + np.arange(K + 1)
        if i % 2:
            ax.axvspan(x[0] - 0.7, x[-1] + 0.7, color="0.93", lw=0, zorder=0)
        ax.vlines(x, [r["gap"] for r in rungs], [r["split"] for r in rungs], color="0.75", lw=0.8, zorder=1)
        for level, (_, colour, marker) in HIERARCHY.items():
            values = np.array([r[level] for r in rungs])
            errors = np.array([r[f"{level}_err"] for r in rungs])
            ax.errorbar(
                x + NUDGE[level],
                values,
                yerr=errors,
                fmt=marker,
                color=colour,
                ms=3.5,
                capsize=1.5,
                elinewidth=0.8,
            )
        stage_sum = sum(r["gap"] for r in rungs[:-1])
        ax.plot(x[-1], stage_sum, "x", color="k", ms=6, mew=1.0, zorder=3)
    ax.set_yscale("log")
    decades(ax)
    ticks = [i * width + k for i in range(len(steps)) for k in range(K + 1)]
    ax.set_xticks(ticks, [str(k + 1) if k < K else "J" for _ in steps for k in range(K + 1)])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(-0.8, ticks[-1] + 0.8)
    groups = ax.secondary_xaxis("bottom")
    groups.set_xticks([i * width + K / 2 for i in range(len(steps))], [f"N = {n}" for n in steps])
    groups.tick_params(length=0, pad=14)
    groups.spines["bottom"].set_visible(False)
    ax.set_title(f"{setting['target']}, {setting['score']} score (exact law: {setting['method']})")


def draw(record: dict):
    series = record["series"]
    steps, settings = series["steps"], series["settings"]
    slots = max((len(s["patch_sizes"]) + 2) * len(steps) for s in settings)
    ncols = min(len(settings), 2 if slots <= MAX_SLOTS_PER_ROW else 1)
    fig = panel_grid(
        settings,
        ncols,
        lambda ax, setting: _panel(ax, setting, steps),
        "stage k (J: joint law), grouped by steps per stage N",
        "KL (nats)",
        height=2.2,
        extra=0.8,
        labelpad=14,
    )
    levels = [Line2D([], [], color=c, marker=m, ls="none", label=label) for label, c, m in HIERARCHY.values()]
    extras = [
        Line2D([], [], color="k", marker="x", ls="none", label="Σ_k stage gaps (chain rule: = joint gap)"),
        Line2D(
            [], [], color="0.4", marker="|", ls="none", ms=8, label="95% MC interval (gaps: ± grid error)"
        ),
    ]
    shared_legend(fig, levels[:2] + extras[:1], levels[2:] + extras[1:])
    fig.suptitle("AR-DM: per stage k and jointly, exact gap ≤ chain path KL ≤ Girsanov ≤ split bound")
    return fig
