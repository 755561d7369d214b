"""The house style of every figure: print sizes, one legend per figure, provenance stamps, and
estimated values that always carry their error bars or bands.

`figures.render` draws every figure inside `RC` (7-8 pt text, legends 7 pt) and ends it with
`stamp(fig, record)`: the record's profile (the quick profile labelled a smoke test, not evidence),
root seed, device and code version under the figure. A figure module builds its panels with
`panels(nrows, ncols, height)` (FULL_WIDTH wide, constrained layout), draws with `band` /
`errorbars`, and puts the legend entries its panels share once under them (`shared_legend`).
"""

from __future__ import annotations

import numpy as np

FULL_WIDTH = 7.0  # inches: a full-width figure in print
RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "figure.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.2,
    "savefig.dpi": 300,
}
# Okabe-Ito colours (distinguishable under the common colour-vision deficiencies)
BLUE, SKY, GREEN, ORANGE, VERMILLION = "#0072B2", "#56B4E9", "#009E73", "#E69F00", "#D55E00"
SMOKE_TEST = "smoke test, not evidence"
HIERARCHY = {  # level of the bound hierarchy: (label, colour, marker), in every hierarchy figure
    "gap": ("exact gap KL(q_δ‖p̂)", BLUE, "o"),
    "chain_path_kl": ("chain path KL", ORANGE, "s"),
    "girsanov": ("Girsanov", GREEN, "^"),
    "split": ("split bound", VERMILLION, "v"),
}


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    """fig, axes (flat) with panels `width` x `height` inches each (tight_layout is the caller's);
    the older helper: `panels` keeps a figure within the print width."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def panels(nrows: int, ncols: int, height: float, width: float = FULL_WIDTH, extra: float = 0.0):
    """fig, axes (flat) of nrows x ncols panels filling `width` inches (at most FULL_WIDTH), each
    `height` inches tall, plus `extra` inches (for a suptitle and a shared legend), under
    constrained layout (so titles, labels and legends never overlap)."""
    import matplotlib.pyplot as plt

    if not 0 < width <= FULL_WIDTH:
        raise ValueError(f"width: must lie in (0, {FULL_WIDTH}] inches, got {width}")
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, height * nrows + extra), squeeze=False, layout="constrained"
    )
    return fig, axes.ravel()


def panel_grid(
    items, ncols: int, draw, xlabel: str, ylabel: str, height: float, extra: float = 0.0, labelpad=None
):
    """One panel per item, `ncols` per row (`panels`): draw(ax, item); the first column carries
    `ylabel`, the lowest panel of each column `xlabel`; panels without an item are hidden."""
    fig, axes = panels(-(-len(items) // ncols), ncols, height=height, extra=extra)
    for i, ax in enumerate(axes):
        if i >= len(items):
            ax.set_axis_off()
            continue
        draw(ax, items[i])
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        if i + ncols >= len(items):  # nothing below: this panel carries the x label
            ax.set_xlabel(xlabel, labelpad=labelpad)
    return fig


def shared_legend(fig, *groups):
    """One legend for every panel, centred under them, one column per group of handles (shorter
    groups padded with blank rows); needs a constrained-layout figure (`panels`)."""
    from matplotlib.lines import Line2D

    rows = max(len(group) for group in groups)
    blank = Line2D([], [], ls="none", label=" ")
    handles = [h for group in groups for h in [*group, *[blank] * (rows - len(group))]]
    return fig.legend(handles=handles, loc="outside lower center", ncol=len(groups), frameon=False)


def decades(ax) -> None:
    """Widen a log y axis to whole decades and label only them (no crowded minor labels)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    low, high = ax.get_ylim()
    ax.set_ylim(10 ** np.floor(np.log10(low)), 10 ** np.ceil(np.log10(high)))
    ax.yaxis.set_major_locator(LogLocator(base=10, numticks=12))
    ax.yaxis.set_minor_formatter(NullFormatter())


def provenance(record: dict) -> str:
    """'profile P (smoke test, not evidence) · seed S · device D · code C' from a result record."""
    profile = record["profile"]
    versions = record["versions"]
    return " · ".join(
        [
            f"profile {profile}" + (f" ({SMOKE_TEST})" if profile == "quick" else ""),
            f"seed {record['seeds']['root']}",
            f"device {versions['device']}",
            f"code {versions.get('code', 'unknown')}",
        ]
    )


def stamp(fig, record: dict) -> None:
    """Write `provenance(record)` under everything already drawn on `fig` (in red for the quick
    profile). Call it last: it freezes the layout; a second call on the same figure does nothing."""
    if getattr(fig, "stamped", False):
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    fig.set_layout_engine("none")
    for legend in fig.legends:  # pin figure legends where the layout put them: a tight crop of the
        box = legend.get_window_extent(renderer).transformed(fig.transFigure.inverted())  # saved
        legend.set_bbox_to_anchor(box, transform=fig.transFigure)  # image would move them otherwise
        legend.set_loc("center")
    box = fig.get_tightbbox(renderer)  # inches
    width, height = fig.get_size_inches()
    fig.text(
        box.x0 / width,
        (box.y0 - 0.05) / height,
        provenance(record),
        ha="left",
        va="top",
        fontsize=7,
        color=VERMILLION if record["profile"] == "quick" else "0.35",
    )
    fig.stamped = True


def band(ax, x, value, stderr=None, label=None, z: float = 1.96, **kwargs):
    """Line with a +-z*stderr band (95% by default) when a standard error is given."""
    x, value = np.asarray(x, float), np.asarray(value, float)
    kwargs = {"marker": "o", "ms": 3, **kwargs}
    (line,) = ax.plot(x, value, label=label, **kwargs)
    if stderr is not None:
        err = z * np.asarray(stderr, float)
        ax.fill_between(x, value - err, value + err, color=line.get_color(), alpha=0.2, lw=0)
    return line


def errorbars(ax, x, value, stderr, label=None, z: float = 1.96, **kwargs):
    """Points with +-z*stderr error bars."""
    kwargs = {"fmt": "o", "ms": 3, "capsize": 2, **kwargs}
    return ax.errorbar(x, value, yerr=z * np.asarray(stderr, float), label=label, **kwargs)
