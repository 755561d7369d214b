"""Rule experiments (sun-shadow, two squares): generated rule pairs with the true and fitted lines
per model (the seed paper's scatter figure), and the sum error per model with 95% error bars; the
undetected fraction sits in each row's label, and a model whose generated images all failed
detection is marked undefined, never plotted as a number."""

from __future__ import annotations

import math

import numpy as np

from figures.style import figure

AXES = {
    "sun-shadow": ("|x_sun - x_pole| h  (image side^2)", "(y_sun - y_pole top) L  (image side^2)"),
    "two-squares": ("top side  (image side)", "bottom side  (image side)"),
}
COLORS = {"data": "0.6", "ar": "C0", "mlp": "C3", "unet": "C2"}


def _defined(g) -> bool:
    """A finite sum error (a stored record writes NaN as a string)."""
    return math.isfinite(float(g["total"]))


def _row_label(g) -> str:
    name = f"{g['task']}/{g['form']}/{g['label']}"
    if not _defined(g):
        return f"{name}\nundefined: all {g['samples']} undetected"
    if g.get("detect_fail", 0) > 0:
        return f"{name}\n{g['detect_fail']:.0%} of {g['samples']} undetected"
    return name


def _scatter(ax, groups, task, form):
    for g in (g for g in groups if (g["task"], g["form"]) == (task, form)):
        u, v = np.asarray(g["u"], float), np.asarray(g["v"], float)
        label = f"{g['label']} (n={u.size} shown)" if _defined(g) else f"{g['label']}: undefined"
        ax.plot(u, v, ".", ms=2, alpha=0.5, color=COLORS[g["model"]], label=label)
        if u.size and math.isfinite(float(g["slope"])):
            line = np.linspace(u.min(), u.max(), 2)
            ax.plot(line, float(g["slope"]) * line + float(g["intercept"]), color=COLORS[g["model"]], lw=1)
    truth = [g for g in groups if g["task"] == task]
    span = np.concatenate([np.asarray(g["u"], float) for g in truth if g["model"] == "data"])
    if span.size:
        line = np.linspace(span.min(), span.max(), 2)
        ax.plot(line, truth[0]["slope_true"] * line, "k--", lw=1, label="true rule")
    ax.set(title=f"{task}, {form}", xlabel=AXES[task][0], ylabel=AXES[task][1])
    ax.legend(fontsize=6, loc="best")


def draw(record):
    groups = record["series"]["groups"]
    panels = sorted({(g["task"], g["form"]) for g in groups})
    fig, axes = figure(ncols=len(panels) + 1, width=4.2, height=3.8)
    for ax, (task, form) in zip(axes, panels, strict=False):
        _scatter(ax, groups, task, form)
    ax = axes[-1]
    totals = np.array([g["total"] for g in groups], float)
    errors = np.array([g["total_se"] or 0.0 for g in groups], float)
    for row, g in enumerate(groups):
        color = COLORS[g["model"]]
        ax.errorbar(totals[row], row, xerr=1.96 * errors[row], fmt="o", ms=3, capsize=2, color=color)
    ax.set_yticks(np.arange(len(groups)), [_row_label(g) for g in groups], fontsize=6)
    ax.axvline(0.18, color=COLORS["ar"], ls=":", label="paper AR-DM 0.18")
    ax.axvline(0.69, color=COLORS["mlp"], ls=":", label="paper DDPM 0.69")
    ax.set_xlim(left=0)
    ax.set(xlabel="sum error |slope - c| + |b| + std(res)", title="rule error (95% bootstrap)")
    ax.legend(fontsize=6)
    fig.suptitle("Rule learning: AR-DM vs DDPM (measured, not asserted)")
    fig.tight_layout()
    return fig
