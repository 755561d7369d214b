"""Claim 6: AR-DM / DDPM cost ratios against K on log-log axes (exact NFE ratio under the best
step allocation; wall-time ratio per AR-DM network form, 95% t-intervals over interleaved rounds)
next to y = K (the bound's factor) and y = 1, and the wall times themselves."""

from __future__ import annotations

import numpy as np

from figures.style import BLUE, GREEN, ORANGE, SKY, VERMILLION, panels, shared_legend

FORMS = (
    ("equal-mlp", "equal-size conditional MLP", VERMILLION, "o"),
    ("patch-context", "patch denoisers + context, matched params", GREEN, "s"),
    ("patch-context-flops", "patch denoisers + context, matched MAC/call", SKY, "D"),
    ("transformer-cached", "causal transformer, KV cache", ORANGE, "^"),
)


def _errorbars(ax, x, mean, ci, **kwargs):
    mean, ci = np.asarray(mean, float), np.asarray(ci, float)
    return ax.errorbar(x, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], capsize=2, ms=3, **kwargs)


def _log_axes(ax, K, y_ticks) -> None:
    from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(K))
    ax.yaxis.set_major_locator(FixedLocator(y_ticks))
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FormatStrFormatter("%.4g"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("number of patches K (d fixed)")


def draw(record: dict):
    series, config = record["series"], record["config"]
    K = np.asarray(series["K"], float)
    fig, (ax, ax_time) = panels(1, 2, height=2.8, extra=0.8)
    ax.plot(
        K, series["nfe_ratio"], "-", color="k", marker="x", ms=4, label="NFE ratio, best allocation (exact)"
    )
    for form, label, color, marker in FORMS:
        _errorbars(
            ax,
            K,
            series[f"time_ratio_{form}"],
            series[f"time_ratio_{form}_ci"],
            fmt=marker + "-",
            color=color,
            label=label,
        )
    grid = np.geomspace(K.min(), K.max(), 20)
    ax.plot(grid, grid, ":", color="k", lw=1, label="y = K (bound's factor)")
    ax.axhline(1.0, color="0.5", ls="-.", lw=0.8, label="y = 1")
    _log_axes(ax, K, [2.0**j for j in range(-3, 6)])
    ax.set_ylabel("AR-DM / DDPM")
    ax.set_title(
        f"(a) cost ratio (d = {config['dim']}, eps = {config['eps']:g}, {config['repeats']} rounds, 95% CI)"
    )

    _errorbars(
        ax_time, K, series["seconds_ddpm"], series["seconds_ddpm_ci"], fmt="o-", color=BLUE, label="DDPM MLP"
    )
    for form, _, color, marker in FORMS:
        _errorbars(
            ax_time, K, series[f"seconds_{form}"], series[f"seconds_{form}_ci"], fmt=marker + "-", color=color
        )
    low = min(min(series[f"seconds_{f}"]) for f, *_ in FORMS + (("ddpm",),))
    high = max(max(series[f"seconds_{f}"]) for f, *_ in FORMS + (("ddpm",),))
    ticks = [
        m * 10.0**j
        for j in range(int(np.floor(np.log10(low))), int(np.ceil(np.log10(high))) + 1)
        for m in (1, 3)
    ]
    _log_axes(ax_time, K, ticks)
    ax_time.set_ylabel(f"wall time per {config['draws']} draws (s)")
    ax_time.set_title(f"(b) wall time on {record['versions']['device']}")
    handles = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
    handles.update(zip(*reversed(ax_time.get_legend_handles_labels()), strict=True))
    forms = [label for _, label, *_ in FORMS]
    shared_legend(
        fig,
        [handles[n] for n in ["DDPM MLP", *forms]],
        [h for n, h in handles.items() if n not in forms and n != "DDPM MLP"],
    )
    fig.suptitle(
        "Claim 6: AR-DM sampling cost relative to DDPM at KL <= eps^2 (untrained networks, cost only)"
    )
    return fig
