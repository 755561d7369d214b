"""Claim 9 figure: per-stage exact KL of the best windowed AR-DM (exact window score) against the
exact conditional mutual information, one colour per window; right: a learned windowed network's
per-stage integrated score error against the exact windowed score's (its floor) and the CMI."""

from __future__ import annotations

import numpy as np

from figures.style import errorbars, figure


def draw(record: dict):
    exact, learned = record["series"]["exact"], record["series"]["learned"]
    fig, axes = figure(ncols=2, width=4.8)
    ax = axes[0]
    for window in sorted({r["window"] for r in exact}):
        rows = sorted((r for r in exact if r["window"] == window), key=lambda r: r["k"])
        k = np.array([r["k"] for r in rows])
        (line,) = ax.plot(
            k, [r["kl_full"] for r in rows], marker="o", ms=4, label=f"w={window}: E KL (exact law)"
        )
        ax.plot(
            k, [r["cmi"] for r in rows], ls="--", color=line.get_color(), label=f"w={window}: CMI (exact)"
        )
        errorbars(
            ax, k + 0.08, [r["cmi_mc"] for r in rows], [r["cmi_mc_se"] for r in rows], color=line.get_color()
        )
    ax.set_xlabel("stage k (patch index, 0-based)")
    ax.set_ylabel("nats")
    ax.set_title("exact windowed score: KL ≥ CMI (bars: Monte Carlo CMI)", fontsize=9)
    ax.legend(fontsize=6)
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
        ax.plot(k, [r["floor_integral"] for r in rows], "k--", label="exact windowed score (floor)")
        window = record["config"]["learned_window"]
        if any((window, r["k"]) in cmi for r in rows):
            ax.plot(k, [cmi.get((window, r["k"]), np.nan) for r in rows], "k:", label="CMI (exact)")
        ax.set_title(f"learned, window w={window}: Σ_j h_j E‖s − ∇log q(x^k|x^<k)‖²", fontsize=9)
        ax.legend(fontsize=6)
    ax.set_xlabel("stage k (patch index, 0-based)")
    ax.set_ylabel("integrated squared score error (nats)")
    fig.suptitle("Claim 9: a stage that sees only the last w patches pays at least I(x^k; older | window)")
    fig.tight_layout()
    return fig
