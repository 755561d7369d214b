"""Claim 5: NFE to reach KL <= eps^2 (exact scores) versus 1/eps, d and K, against Benton's law.

Every NFE is exact (closed-form KL, bisection on N), so there are no error bars; dashed lines are
the prediction with its fitted constant C, dotted lines the measured power-law fits.
"""

from __future__ import annotations

import numpy as np

from figures.style import figure

MODELS = (("ddpm", "DDPM", "C0"), ("ar", "AR-DM", "C3"))


def _power_fit(ax, x, y, color) -> float:
    """Least-squares line in log-log coordinates, drawn dotted; returns the slope."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    grid = np.geomspace(min(x), max(x), 50)
    ax.plot(grid, np.exp(intercept) * grid**slope, ":", color=color, lw=1)
    return float(slope)


def _nfe_panel(ax, entry: dict, fitted: dict, xlabel: str) -> None:
    x = np.asarray(entry["x"], float)
    for key, label, color in MODELS:
        y = np.asarray(entry[key], float)
        slope = _power_fit(ax, x, y, color)
        ax.plot(x, y, "o", color=color, ms=4, label=f"{label} measured (slope {slope:.2f})")
        predicted = fitted[key] * np.asarray(entry[f"predicted_{key}"], float)
        ax.plot(x, predicted, "--", color=color, lw=1, label=f"{label} Benton, C = {fitted[key]:.2g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("NFE (score evaluations)")
    ax.legend(fontsize=6)


def draw(record: dict):
    series, config = record["series"], record["config"]
    fig, axes = figure(ncols=3, width=4.4)
    fitted = series["fitted_C"]
    _nfe_panel(axes[0], series["eps"], fitted, "1 / eps (target KL <= eps^2)")
    axes[0].set_title(f"vs eps (K = {config['patches']}, d = {config['patches'] * config['patch_dim']})")
    _nfe_panel(axes[1], series["d"], fitted, "dimension d")
    axes[1].set_title(f"vs d (K = {config['patches']}, eps = {config['eps']:g})")
    k = series["K"]
    ax = axes[2]
    ax.plot(k["x"], k["ratio"], "o-", color="C3", ms=4, label="measured AR-DM / DDPM NFE")
    ax.plot(k["x"], k["predicted_ratio"], "--", color="k", lw=1, label="predicted (Benton per stage)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("number of patches K")
    ax.set_ylabel("NFE ratio AR-DM / DDPM")
    ax.set_title(f"vs K (d = {config['patches'] * config['patch_dim']}, eps = {config['eps']:g})")
    ax.legend(fontsize=6)
    fig.suptitle(
        "Claim 5: NFE for KL <= eps^2 with exact scores (exact KL, no error bars); "
        "AR-DM target p_AR,delta, DDPM target q_delta",
        fontsize=9,
    )
    fig.tight_layout()
    return fig
