"""Claim 1 figure: the DDPM hierarchy versus N, one panel per (target, score) setting.

Colour and marker: the level (exact gap, chain path KL, Girsanov, split), the same in every panel
and in the AR-DM figure; line style: the score (exact, perturbed, learned). Shaded: 95% Monte Carlo
intervals of the bounds, +- the grid-error estimate of the gap (often narrower than the line).
Black dotted: Benton et al.'s KL scaling form times its least-squares constant C, fitted to the
measured gaps: a fit, not a bound (the record's benton_ratio_max says how far it falls below them).
A gap that is unavailable (network score, d > 2) or not positive is not drawn.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from figures.style import HIERARCHY, band, decades, panel_grid, shared_legend

SCORES = {"exact": "-", "perturbed": "--", "learned": "-."}
FIT = {"color": "k", "ls": ":", "lw": 1.0}


def _legend_groups(scores) -> tuple[list, list, list]:
    levels = [Line2D([], [], color=c, marker=m, ms=4, label=label) for label, c, m in HIERARCHY.values()]
    styles = [Line2D([], [], color="0.3", ls=SCORES[s], label=f"{s} score") for s in scores]
    fit = Line2D([], [], **FIT, label="Benton form × fitted C: a fit, not a bound")
    shade = Patch(color="0.6", alpha=0.4, label="95% MC interval (gap: ± grid error)")
    return levels, styles, [fit, shade]


def _panel(ax, setting: dict, steps) -> None:
    ls = SCORES[setting["score"]]
    for level, (_, colour, marker) in HIERARCHY.items():
        values = np.asarray(setting[level], float)
        values = np.where(values > 0, values, np.nan)  # a log axis shows positive values only
        if not np.isfinite(values).any():
            continue
        err, z = (setting["gap_err"], 1.0) if level == "gap" else (setting[f"{level}_se"], 1.96)
        band(ax, steps, values, err, z=z, color=colour, marker=marker, ls=ls)
    C = float(setting["benton_C"])  # a record read back from JSON holds NaN as "nan"
    if math.isfinite(C):
        ax.plot(steps, np.asarray(setting["benton_fit"], float), **FIT)
    if setting["method"] == "unavailable":
        ax.text(
            0.03, 0.04, "exact gap unavailable\n(network score, d > 2)", transform=ax.transAxes, fontsize=7
        )
    fitted = f" · C = {C:.2g}" if math.isfinite(C) else ""
    ax.set_title(f"{setting['target']} · {setting['score']} score{fitted}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(steps, [str(n) for n in steps])
    ax.xaxis.set_minor_locator(NullLocator())
    decades(ax)


def draw(record: dict):
    series = record["series"]
    steps, settings = series["steps"], series["settings"]
    per_target = {}
    for s in settings:
        per_target.setdefault(s["target"], []).append(s["score"])
    ncols = max(len(scores) for scores in per_target.values())
    fig = panel_grid(
        settings,
        ncols,
        lambda ax, setting: _panel(ax, setting, steps),
        "number of steps N",
        "KL (nats)",
        height=1.75,
        extra=0.9,
    )
    scores = [s for s in SCORES if any(s == x["score"] for x in settings)]
    shared_legend(fig, *_legend_groups(scores))
    fig.suptitle("DDPM: exact gap ≤ chain path KL ≤ Girsanov ≤ split bound, versus the number of steps N")
    return fig
