"""Claim 9 figure. Left: per stage k, the exact excess E KL(q(.|x^{<k}) || p(.|W)) - CMI of the best
windowed AR-DM (exact window score), which equals E_W KL(q(.|W) || p(.|W)) >= 0, with the exact
conditional mutual information I(x^k; older | W) for scale, one colour per window, log axis.
Right (linear axis): a learned windowed network's per-stage integrated score error against the
exact windowed score's (its floor) and the CMI. On the left, a value <= 0 cannot be drawn on a
log axis: the count of such points (CMI = 0 where the window holds the whole prefix) is stated in
the legend."""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from figures.style import errorbars, figure


def _positive(values) -> np.ndarray:
    """Values with the non-positive ones masked (they have no place on a log axis)."""
    values = np.asarray(values, float)
    return np.where(values > 0, values, np.nan)


def draw(record: dict):
    exact, learned = record["series"]["exact"], record["series"]["learned"]
    fig, axes = figure(ncols=2, width=3.4, height=3.1)
    ax = axes[0]
    hidden = 0
    handles = []
    for window in sorted({r["window"] for r in exact}):
        rows = sorted((r for r in exact if r["window"] == window), key=lambda r: r["k"])
        k = np.array([r["k"] for r in rows])
        excess = [r["kl_full"] - r["cmi"] for r in rows]
        cmi = [r["cmi"] for r in rows]
        hidden += sum(v <= 0 for v in excess + cmi)
        (line,) = ax.plot(k, _positive(excess), marker="o", ms=3)
        ax.plot(k, _positive(cmi), ls="--", marker="x", ms=3, color=line.get_color())
        handles.append(Line2D([], [], color=line.get_color(), label=f"w = {window}"))
    if hidden:
        handles.append(Line2D([], [], color="none", label=f"{hidden} zeros not drawn"))
    ax.set_yscale("log")
    ax.set_xlabel("stage k (patch index, 0-based)")
    ax.set_ylabel("nats")
    ax.set_title("exact windowed score:\nE KL − CMI ≥ 0 (solid, ●), CMI (dashed, ×)", fontsize=8)
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 30)  # head room for the legend above the curves
    ax.legend(handles=handles, fontsize=7, ncols=3, loc="upper center", columnspacing=0.8)
    ax = axes[1]
    cmi = {(r["window"], r["k"]): r["cmi"] for r in exact}
    for result in learned:
        rows = sorted(result["rows"], key=lambda r: r["k"])
        k = np.array([r["k"] for r in rows])
        errorbars(
            ax,
            k,
            [r["net_integral"] for r in rows],
            [r["net_integral_se"] for r in rows],
            label=f"network, seed {result['seed']}",
        )
    if learned:
        rows = sorted(learned[0]["rows"], key=lambda r: r["k"])
        k = np.array([r["k"] for r in rows])
        ax.plot(k, [r["floor_integral"] for r in rows], "k--", label="exact windowed score")
        window = record["config"]["learned_window"]
        if any((window, r["k"]) in cmi for r in rows):
            ax.plot(k, [cmi.get((window, r["k"]), np.nan) for r in rows], "k:", label="CMI (exact)")
        ax.set_title(f"learned, w = {window}: Σ_j h_j E‖s − ∇log q(x^k | x^<k)‖²", fontsize=8)
        ax.legend(fontsize=7)
    ax.set_xlabel("stage k (patch index, 0-based)")
    ax.set_ylabel("integrated squared score error (nats)")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Claim 9: a stage that sees only the last w patches pays I(x^k; older | window)", fontsize=9)
    fig.tight_layout()
    return fig
