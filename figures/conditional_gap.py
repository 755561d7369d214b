"""Claim 3 figure: the verdicts (log DDPM/AR-DM per primary endpoint with 95% intervals), the
per-prefix conditional KL on the dependent target, the rare-prefix sweep, and conditional
endpoints against joint KL across training checkpoints."""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import FormatStrFormatter, NullFormatter

from figures.style import figure

COLOURS = {"ddpm": "tab:blue", "ar": "tab:orange"}
NAMES = {"ddpm": "DDPM (joint MLP)", "ar": "AR-DM (conditional MLP)"}
VERDICT_COLOURS = {"supported": "tab:green", "contradicted": "tab:red", "unresolved": "0.4"}
STYLES = (
    ("-", "KL(q(.|x1) || p^(.|x1))"),
    ("--", "KL(p^(.|x1) || q(.|x1))"),
    (":", "exact score (calibration)"),
)
SHORT = {"average_kl": "avg KL", "model_prefix_reverse_kl": "rev KL, model prefix", "worst_kl": "worst KL"}


def _verdicts(ax, verdicts):
    primary = [v for v in verdicts if v["primary"]]
    claims = list(dict.fromkeys(v["claim"] for v in primary))
    labels = []
    for y, v in enumerate(primary):
        low, high = v["interval"]
        colour = VERDICT_COLOURS[v["verdict"]]
        ax.errorbar(
            v["estimate"],
            -y,
            xerr=[[v["estimate"] - low], [high - v["estimate"]]],
            fmt="o",
            color=colour,
            ms=4,
            capsize=2,
        )
        group = ["dependent", "interaction (DiD)", "control (TOST)"][claims.index(v["claim"])]
        labels.append(f"{group}: {SHORT.get(v['endpoint'], v['endpoint'])}")
    for v in primary[:1]:
        ax.axvspan(-v["margin"], v["margin"], color="0.92", lw=0)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(-np.arange(len(primary)), labels, fontsize=7)
    ax.set_xlabel("log(KL_DDPM / KL_AR-DM), 90% t-interval\n(shaded: +-margin)", fontsize=8)
    ax.set_title("(a) verdicts: green supported, red contradicted,\ngrey unresolved", fontsize=8)


def _curves(ax, data):
    prefix = np.asarray(data["prefix"])
    for model in ("ddpm", "ar"):
        resolved = np.asarray(data[model]["resolved"], bool)
        for key, style in (("kl", "-"), ("reverse_kl", "--"), ("exact_score_kl", ":")):
            values = np.where(resolved, np.asarray(data[model][key]), np.nan)
            ax.plot(prefix, values, style, color=COLOURS[model], lw=1.1)
    shade = ax.twinx()
    shade.fill_between(prefix, data["prefix_density"], color="0.88", lw=0)
    shade.set_ylim(0, 3 * max(data["prefix_density"]))
    shade.set_yticks([])
    ax.set_zorder(shade.get_zorder() + 1)
    ax.patch.set_visible(False)
    ax.set_yscale("log")
    ax.set_xlabel("prefix x1 (grey: q(x1))")
    ax.set_ylabel("conditional KL [nats]")
    ax.set_title("(b) dependent target, per prefix", fontsize=8)


def _rare(ax, rare):
    weights = np.asarray(rare["weights"])
    for model in ("ddpm", "ar"):
        ax.plot(weights, rare[f"{model}_rare_kl"], "o-", color=COLOURS[model], ms=3)
        ax.plot(weights, rare[f"{model}_joint_kl"], "s:", color=COLOURS[model], ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("weight of the rare prefix component")
    ax.set_ylabel("KL [nats]")
    ax.set_title("(c) rare prefix: conditional KL there (o) vs joint (s)", fontsize=8)


def _checkpoints(ax, data):
    for model in ("ddpm", "ar"):
        runs = data[model]["checkpoints"]
        for key, marker in (("average_kl", "o-"), ("worst_kl", "^--")):
            joint = np.mean([[c["joint_kl"] for c in run] for run in runs], axis=0)
            value = np.mean([[c[key] for c in run] for run in runs], axis=0)
            ax.plot(joint, value, marker, color=COLOURS[model], ms=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("joint KL(q || p^) [nats]")
    ax.set_ylabel("conditional KL [nats]")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FormatStrFormatter("%.2g"))
        axis.set_minor_formatter(NullFormatter())
    ax.set_title("(d) checkpoints: average (o) and worst (^) KL", fontsize=8)


def draw(record: dict):
    series = record["series"]
    fig, axes = figure(ncols=2, nrows=2, width=3.5, height=2.9)
    _verdicts(axes[0], record["verdicts"])
    _curves(axes[1], series["dependent"])
    _rare(axes[2], series["rare"])
    _checkpoints(axes[3], series["dependent"])
    handles = [axes[1].plot([], [], color=c, label=NAMES[m])[0] for m, c in COLOURS.items()]
    handles += [axes[1].plot([], [], style, color="k", label=label)[0] for style, label in STYLES]
    fig.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.955), ncol=3, fontsize=7, frameon=False
    )
    fig.suptitle(
        "Claim 3: conditional gap, DDPM vs AR-DM (exact grid law of x_delta, mean over seeds)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.02, 1, 0.92))
    return fig
