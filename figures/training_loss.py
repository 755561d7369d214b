"""Claim 7 figure: loss(t) - constant(t) (points, 95% bars) against s_t^2 x exact score error
(lines, 95% bands) over training, one panel per noise level t; right: the training loss."""

from __future__ import annotations

import numpy as np

from figures.style import band, errorbars, figure


def draw(record: dict):
    series = record["series"]
    rows = series["rows"]
    times = sorted({r["t"] for r in rows})
    fig, axes = figure(ncols=len(times) + 1)
    first_seed = min(r["seed"] for r in rows if r["model"] == "ar")
    for ax, t in zip(axes, times, strict=False):
        s2 = series["s2"][f"{t:g}"]
        for model in ("ar", "ddpm"):
            seed = min(r["seed"] for r in rows if r["model"] == model)
            picked = [r for r in rows if r["t"] == t and r["model"] == model and r["seed"] == seed]
            for stage in sorted({r["stage"] for r in picked}, key=str):
                sel = sorted((r for r in picked if r["stage"] == stage), key=lambda r: r["step"])
                steps = np.array([max(r["step"], 1) for r in sel], float)
                name = "DDPM joint" if stage == "joint" else f"AR stage {stage}"
                line = band(
                    ax,
                    steps,
                    [s2 * r["score_error"] for r in sel],
                    [s2 * r["score_error_se"] for r in sel],
                    label=f"{name}: s_t² × score error",
                )
                gap = [r["loss"] - r["constant"] for r in sel]
                gap_se = [np.hypot(r["loss_se"], r["constant_se"]) for r in sel]
                errorbars(ax, steps, gap, gap_se, color=line.get_color(), label=f"{name}: loss − constant")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.set_xlabel("training step (0 plotted at 1)")
        ax.set_ylabel("loss scale (dimensionless)")
        ax.set_title(f"t = {t:g} (seed {first_seed})", fontsize=9)
    axes[0].legend(fontsize=6)
    ax = axes[-1]
    for curve in series["curves"]:
        ax.plot(curve["steps"], curve["loss"], lw=0.8, label=f"{curve['model']} seed {curve['seed']}")
    ax.set_xscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("mini-batch denoising loss")
    ax.set_title("training loss", fontsize=9)
    ax.legend(fontsize=6)
    fig.suptitle("Claim 7: denoising loss − constant = s_t² × exact score error, over training")
    fig.tight_layout()
    return fig
