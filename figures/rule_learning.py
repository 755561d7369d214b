"""Rule experiments (sun-shadow, two squares): generated rule pairs with the true and fitted lines
per model (the seed paper's scatter figure), and the sum error per model with 95% error bars; a
model whose generated images all failed detection is marked undefined, never plotted as a number."""

from __future__ import annotations

import math

import numpy as np

from figures.style import figure

AXES = {
    "sun-shadow": ("|x_sun - x_pole| h  (image side^2)", "(y_sun - y_pole top) L  (image side^2)"),
    "two-squares": ("top side  (image side)", "bottom side  (image side)"),
}


def draw(record):
    groups = record["series"]["groups"]
    panels = sorted({(g["task"], g["form"]) for g in groups})
    fig, axes = figure(ncols=len(panels) + 1, width=4.0, height=3.6)
    for ax, (task, form) in zip(axes, panels, strict=False):
        for g in (g for g in groups if (g["task"], g["form"]) == (task, form)):
            u, v = np.asarray(g["u"], float), np.asarray(g["v"], float)
            label = g["label"] if math.isfinite(g["total"]) else f"{g['label']}: undefined (no detections)"
            (points,) = ax.plot(u, v, ".", ms=2, alpha=0.5, label=label)
            if u.size and math.isfinite(g["slope"]):
                line = np.linspace(u.min(), u.max(), 2)
                ax.plot(line, g["slope"] * line + g["intercept"], color=points.get_color(), lw=1)
        truth = [g for g in groups if g["task"] == task]
        span = np.concatenate([np.asarray(g["u"], float) for g in truth if g["model"] == "data"])
        if span.size:
            line = np.linspace(span.min(), span.max(), 2)
            ax.plot(line, truth[0]["slope_true"] * line, "k--", lw=1, label="true rule")
        ax.set(title=f"{task}, {form}", xlabel=AXES[task][0], ylabel=AXES[task][1])
        ax.legend(fontsize=6)
    ax = axes[-1]
    names = [f"{g['task']}/{g['form']}/{g['label']}" for g in groups]
    totals = np.array([g["total"] for g in groups], float)
    errors = np.array([g["total_se"] or 0.0 for g in groups], float)
    rows = np.arange(len(groups))
    ax.errorbar(totals, rows, xerr=1.96 * errors, fmt="o", ms=3, capsize=2, label="ours (95% bootstrap)")
    for row, g in zip(rows, groups, strict=True):
        if not math.isfinite(g["total"]):
            note = f"undefined: detection failed on all {g['samples']} images"
        elif g.get("detect_fail", 0) > 0:
            note = f"{g['detect_fail']:.0%} of {g['samples']} undetected"
        else:
            continue
        ax.annotate(note, (0.02, row), xycoords=("axes fraction", "data"), fontsize=6, va="center")
    ax.set_yticks(np.arange(len(groups)), names, fontsize=6)
    ax.axvline(0.18, color="C2", ls=":", label="paper AR 0.18")
    ax.axvline(0.69, color="C3", ls=":", label="paper DDPM 0.69")
    ax.set(xscale="symlog", xlabel="sum error |slope - c| + |b| + std(res)", title="rule error")
    ax.legend(fontsize=6)
    fig.suptitle("Rule learning: AR-DM vs DDPM (measured, not asserted)")
    fig.tight_layout()
    return fig
