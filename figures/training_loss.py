"""Claim 7 figure: the denoising loss minus its known constant against s_t^2 x the exact score error.

(a) Parity, log-log: every (model or AR stage, seed, checkpoint, noise level t) as one point,
x = s_t^2 x exact score error, y = loss - constant; the identity puts them on y = x. Vertical bars:
y +- 1.96 se(y - x) (paired on the same draws), so a bar crosses the diagonal exactly when y - x is
within its 95% interval of 0. Points with y <= 0 cannot be drawn on a log axis and are counted.
(b) The check itself: (loss - constant - s_t^2 score error) / its standard error, per checkpoint,
with the +-margin band the check allows (the record's margin_se standard errors).
(c) The mini-batch training loss of every network.
Colour: AR-DM stage (blues) or DDPM (vermillion); marker: the noise level t.
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from figures.style import BLUE, SKY, VERMILLION, panels, shared_legend

STAGE_COLOURS = (BLUE, SKY, "#003f66", "#9ad0f0")  # AR-DM stages 0, 1, ... (cycled)
MARKERS = ("o", "s", "^", "D", "v", "P")


def _colour(model: str, stage) -> str:
    return VERMILLION if model == "ddpm" else STAGE_COLOURS[int(stage) % len(STAGE_COLOURS)]


def _name(model: str, stage) -> str:
    return "DDPM (joint)" if model == "ddpm" else f"AR-DM stage {stage}"


def draw(record: dict):
    series = record["series"]
    rows, s2, margin = series["rows"], series["s2"], series["margin_se"]
    times = sorted({r["t"] for r in rows})
    checkpoints = sorted({r["step"] for r in rows})
    kinds = sorted({(r["model"], r["stage"]) for r in rows}, key=lambda mk: (mk[0] == "ddpm", str(mk[1])))
    fig, (parity, check, loss) = panels(1, 3, height=2.3, extra=0.7)

    hidden, drawn = 0, []
    for j, (model, stage) in enumerate(kinds):
        for m, t in enumerate(times):
            sel = [r for r in rows if r["model"] == model and r["stage"] == stage and r["t"] == t]
            style = {"color": _colour(model, stage), "marker": MARKERS[m % len(MARKERS)], "ms": 3.5}
            x = np.array([s2[f"{t:g}"] * r["score_error"] for r in sel])
            y = np.array([r["loss"] - r["constant"] for r in sel])
            half = 1.96 * np.array([r["difference_se"] for r in sel])  # of y - x, paired on the same draws
            shown = y > 0
            hidden += int((~shown).sum())
            drawn += [*x, *y[shown]]
            parity.errorbar(x[shown], y[shown], yerr=half[shown], ls="none", elinewidth=0.6, **style)
            offset = (j * len(times) + m - (len(kinds) * len(times) - 1) / 2) * 0.07  # side by side
            z = [r["difference"] / r["difference_se"] for r in sel]
            position = [checkpoints.index(r["step"]) + offset for r in sel]
            check.plot(position, z, ls="none", **style)

    low, high = min(drawn) / 1.5, max(drawn) * 1.5
    parity.plot([low, high], [low, high], color="0.3", lw=0.8, ls="--", zorder=0)
    parity.set(xscale="log", yscale="log", xlim=(low, high), ylim=(low, high))
    parity.set_xlabel("s_t² × exact score error")
    parity.set_ylabel("loss − constant")
    hidden_note = f"\n({hidden} of {len(rows)} with y ≤ 0 not shown)" if hidden else ""
    parity.set_title(f"(a) parity: on y = x{hidden_note}")

    check.axhspan(-margin, margin, color="0.9", lw=0, zorder=0)
    check.axhline(0.0, color="0.3", lw=0.8)
    limit = max(margin + 1.0, *(abs(r["difference"] / r["difference_se"]) + 0.5 for r in rows))
    check.set_ylim(-limit, limit)
    check.set_xticks(range(len(checkpoints)), [str(c) for c in checkpoints])
    check.set_xlabel("training step (checkpoint)")
    check.set_ylabel("difference / its s.e.")
    check.set_title(f"(b) identity: |difference| ≤ {margin:g} s.e.")

    for curve in series["curves"]:
        colour = VERMILLION if curve["model"] == "ddpm" else BLUE
        loss.plot(curve["steps"], curve["loss"], color=colour, lw=0.6, alpha=0.8)
    loss.set_xscale("log")
    loss.set_xlabel("training step")
    loss.set_ylabel("mini-batch denoising loss")
    loss.set_title("(c) training loss")

    colours = [Line2D([], [], color=_colour(*k), marker="o", ls="none", label=_name(*k)) for k in kinds]
    markers = [
        Line2D([], [], color="0.3", marker=MARKERS[m], ls="none", label=f"t = {t:g}")
        for m, t in enumerate(times)
    ]
    guides = [
        Line2D([], [], color="0.3", ls="--", lw=0.8, label="y = x"),
        Patch(color="0.9", label=f"± {margin:g} s.e. (the check's margin)"),
        Line2D([], [], color="0.5", marker="|", ls="none", ms=8, label="95% interval of y − x (a)"),
    ]
    curves = [
        Line2D([], [], color=BLUE, lw=0.8, label="(c) AR-DM, all stages"),
        Line2D([], [], color=VERMILLION, lw=0.8, label="(c) DDPM"),
    ]
    shared_legend(fig, colours, markers, guides, curves)
    fig.suptitle(
        "Claim 7: denoising loss − constant = s_t² × exact score error at every checkpoint, t, stage"
    )
    return fig
