"""Rule experiments (sun-shadow, two squares). Left, the seed paper's scatter as a 2 x 2 of
{DDPM, AR-DM} x {transformer, MLP} for the headline task (sun-shadow, image form when run):
generated rule pairs over the truth's, the true rule and each model's fitted line, axes set from
the truth's 0.5-99.5% quantiles so outliers cannot hide the true line. Right, the sum error per
model with its 95% Student-t interval over trained seeds and the detection rate, next to the
paper's 0.18 / 0.69; rows whose error is undefined are listed in a note, not drawn."""

from __future__ import annotations

import math

import numpy as np

AXES = {
    "sun-shadow": ("|s| h", "(H - h) |L|"),
    "two-squares": ("top side", "bottom side"),
}
COLORS = {"data": "0.55", "ar": "C0", "joint": "C3"}
SHORT = {
    "data": "truth",
    "joint-transformer": "DDPM-T",
    "ar-transformer": "AR-T",
    "joint-mlp": "DDPM-MLP (paper)",
    "ar-mlp": "AR-MLP",
    "joint-unet": "DDPM-UNet",
}
GRID = (("joint-transformer", "ar-transformer"), ("joint-mlp", "ar-mlp"))


def _defined(g) -> bool:
    return math.isfinite(float(g["total"]))


def _role(model: str) -> str:
    return "data" if model == "data" else model.split("-")[0]


def _headline(groups):
    runs = {(g["task"], g["form"]) for g in groups}
    for choice in (("sun-shadow", "image"), ("sun-shadow-clip", "image"), ("sun-shadow", "parametric")):
        if choice in runs:
            return choice
    return sorted(runs)[0]


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = np.quantile(values, [0.005, 0.995])
    pad = 0.15 * (high - low) + 1e-9
    return low - pad, high + pad


def _scatter(ax, groups, task, form, model):
    run = {g["model"]: g for g in groups if (g["task"], g["form"]) == (task, form)}
    truth, g = run.get("data"), run.get(model)
    if truth is not None and len(truth["u"]):
        u, v = np.asarray(truth["u"], float), np.asarray(truth["v"], float)
        ax.plot(u, v, ".", ms=2.5, color=COLORS["data"], alpha=0.6, label="truth", zorder=2)
        ax.set_xlim(*_limits(u))
        ax.set_ylim(*_limits(v))
        line = np.array(ax.get_xlim())
        ax.plot(line, truth["slope_true"] * line, "k--", lw=0.8, label="true rule", zorder=1)
    if g is not None and len(g["u"]):
        color = COLORS[_role(model)]
        u, v = np.asarray(g["u"], float), np.asarray(g["v"], float)
        ax.plot(u, v, ".", ms=1.5, color=color, alpha=0.6, label="generated (seed 0)")
        if math.isfinite(float(g["slope"])):
            line = np.array(ax.get_xlim())
            ax.plot(line, float(g["slope"]) * line + float(g["intercept"]), color=color, lw=1, label="fit")
    title = g["label"] if g is not None else model
    if g is not None and form == "image":
        title += f"\n{g['detect_rate']:.0%} detected"
    ax.set_title(title, fontsize=7)
    ax.tick_params(labelsize=6)
    kind = "two-squares" if task == "two-squares" else "sun-shadow"
    ax.set_xlabel(AXES[kind][0], fontsize=7)
    ax.set_ylabel(AXES[kind][1], fontsize=7)


def _errors(ax, groups, paper):
    rows = [g for g in groups if _defined(g)]
    undefined = [g for g in groups if not _defined(g)]
    for i, g in enumerate(rows):
        low, high = (float(x) for x in g["total_interval"])
        centre = float(g["total"])
        xerr = None if not math.isfinite(low) else [[centre - low], [high - centre]]
        ax.errorbar(centre, i, xerr=xerr, fmt="o", ms=3, capsize=2, color=COLORS[_role(g["model"])])
    labels = []
    for g in rows:
        label = f"{g['task'].replace('sun-shadow', 'sun')} {g['form'][:5]} {SHORT[g['model']]}"
        if g["form"] == "image":
            label += f" {g['detect_rate']:.0%}"
        labels.append(label)
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=6)
    ax.invert_yaxis()
    ax.axvline(paper["ar-transformer"], color=COLORS["ar"], ls=":", lw=1, label="paper AR-DM 0.18")
    ax.axvline(paper["joint-mlp"], color=COLORS["joint"], ls=":", lw=1, label="paper DDPM-MLP 0.69")
    ax.set_xscale("log")
    ax.set_xlabel("sum error (95% t over seeds;\nimage rows: % detected)", fontsize=7)
    ax.tick_params(axis="x", labelsize=6)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 1.12), ncol=1, frameon=False)
    if undefined:
        note = "undefined (too few detections): " + "; ".join(
            f"{g['task']} {g['form']} {g['label']}" for g in undefined
        )
        ax.text(0.0, -0.2, note, transform=ax.transAxes, fontsize=6, va="top", wrap=True)


def draw(record):
    import matplotlib.pyplot as plt

    groups = record["series"]["groups"]
    task, form = _headline(groups)
    fig = plt.figure(figsize=(7.0, 5.2))
    grid = fig.add_gridspec(2, 4, width_ratios=(1, 1, 0.65, 1.3), wspace=0.55, hspace=0.6)
    for i, row in enumerate(GRID):
        for j, model in enumerate(row):
            _scatter(fig.add_subplot(grid[i, j]), groups, task, form, model)
    handles, labels = fig.axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0.02, 0.955), ncol=4, frameon=False
    )
    _errors(fig.add_subplot(grid[:, 3]), groups, record["series"]["paper"])
    fig.suptitle(f"Rule learning ({task}, {form} scatter; output: {record['series']['output']})", fontsize=8)
    fig.subplots_adjust(left=0.08, right=0.99, bottom=0.16, top=0.86)
    return fig
