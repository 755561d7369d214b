"""Claim 5: NFE to reach KL <= eps^2 (exact scores) versus 1/eps and d, and the AR-DM / DDPM NFE
ratio versus K and eps under three allocations of the steps across stages.

Every NFE is exact (closed-form KL, searched step counts), so the NFE panels carry no error bars;
the K panel's bars are 95% t-intervals over the chains of different dependence rho. Dashed lines
are Benton's law with its fitted constant C (a fit, not a bound).
"""

from __future__ import annotations

import numpy as np

from figures.style import BLUE, GREEN, ORANGE, VERMILLION, panels, shared_legend

ALLOCATIONS = (
    ("best", "AR-DM, best allocation", VERMILLION, "o"),
    ("uniform", "AR-DM, uniform eps^2/K", ORANGE, "s"),
)
RATIOS = (*ALLOCATIONS, ("lagrange", "AR-DM, Lagrange (bound)", GREEN, "^"))


def _log_axes(ax, x_ticks, y_ticks=None) -> None:
    """Log-log axes; x labelled at `x_ticks` (the data's own values), y at `y_ticks` (None: at
    1, 2, 5 x 10^j), plain numbers, no minor labels (so labels cannot crowd)."""
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(np.asarray(x_ticks, float)))
    locator = LogLocator(base=10, subs=(1, 2, 5), numticks=12) if y_ticks is None else FixedLocator(y_ticks)
    ax.yaxis.set_major_locator(locator)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FormatStrFormatter("%.4g"))
        axis.set_minor_formatter(NullFormatter())


def _nfe_panel(ax, entry: dict, fitted: dict, xlabel: str) -> None:
    x = np.asarray(entry["x"], float)
    ax.plot(x, entry["ddpm"], "o-", color=BLUE, ms=3, label="DDPM")
    ax.plot(x, fitted["ddpm"] * np.asarray(entry["predicted_ddpm"], float), "--", color=BLUE, lw=0.8)
    for how, label, color, marker in ALLOCATIONS:
        ax.plot(x, entry[f"ar_{how}"], marker=marker, ls="-", color=color, ms=3, label=label)
    ax.plot(x, fitted["ar"] * np.asarray(entry["predicted_ar"], float), "--", color=ORANGE, lw=0.8)
    _log_axes(ax, x)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NFE")


def _reference_lines(ax, K_values) -> None:
    K = np.geomspace(min(K_values), max(K_values), 20)
    ax.plot(K, K, ":", color="k", lw=1, label="y = K (bound's factor)")
    ax.axhline(1.0, color="0.5", lw=0.8, ls="-.", label="y = 1")


def draw(record: dict):
    series, config = record["series"], record["config"]
    fig, axes = panels(2, 2, height=2.3, extra=0.9)
    fitted = series["fitted_C"]
    dim = config["patches"] * config["patch_dim"]
    _nfe_panel(axes[0], series["eps"], fitted, "1 / eps (target KL <= eps^2)")
    axes[0].set_title(f"(a) NFE vs eps (K = {config['patches']}, d = {dim})")
    _nfe_panel(axes[1], series["d"], fitted, "dimension d")
    axes[1].set_title(f"(b) NFE vs d (K = {config['patches']}, eps = {config['eps']:g})")

    ax_ratio = ax = axes[2]
    k = series["K"]
    K = np.asarray(k["x"], float)
    for how, label, color, marker in RATIOS:
        mean = np.asarray(k[f"ratio_{how}"], float)
        ci = np.asarray(k[f"ratio_{how}_ci"], float)
        ax.errorbar(
            K,
            mean,
            yerr=[mean - ci[:, 0], ci[:, 1] - mean],
            fmt=marker + "-",
            color=color,
            ms=3,
            capsize=2,
            label=label,
        )
    ax.plot(K, k["predicted_ratio"], "--", color="k", lw=0.8, label="Benton per stage (C = 1)")
    unequal = series["unequal"]
    ax.plot(unequal["x"], unequal["ratio_best"], "x", color=VERMILLION, ms=5, label="unequal patches, best")
    _reference_lines(ax, K)
    _log_axes(ax, K, y_ticks=[2.0**j for j in range(6)])
    ax.set_xlabel("number of patches K (d fixed)")
    ax.set_ylabel("NFE ratio AR-DM / DDPM")
    ax.set_title(f"(c) ratio vs K (d = {dim}, eps = {config['eps']:g}; 95% CI over rho)")

    ax, e = axes[3], series["eps"]
    x = np.asarray(e["x"], float)
    for how, _, color, marker in RATIOS:
        ax.plot(x, e[f"ratio_{how}"], marker=marker, ls="-", color=color, ms=3)
    ax.axhline(config["patches"], color="k", ls=":", lw=1)
    ax.axhline(1.0, color="0.5", lw=0.8, ls="-.")
    _log_axes(ax, x, y_ticks=[2.0**j for j in range(6)])
    ax.set_ylim(0.9, 2 * config["patches"])
    ax.set_xlabel("1 / eps")
    ax.set_ylabel("NFE ratio AR-DM / DDPM")
    ax.set_title(f"(d) ratio vs eps (K = {config['patches']}: dotted y = K)")

    handles = dict(zip(*reversed(axes[0].get_legend_handles_labels()), strict=True))
    handles.update(zip(*reversed(ax_ratio.get_legend_handles_labels()), strict=True))
    first = ["DDPM", "AR-DM, best allocation", "AR-DM, uniform eps^2/K", "AR-DM, Lagrange (bound)"]
    groups = [[handles[n] for n in first], [h for n, h in handles.items() if n not in first]]
    shared_legend(fig, *groups)
    fig.suptitle("Claim 5: NFE for KL <= eps^2 with exact scores (exact KL); dashed: Benton, fitted C")
    return fig
