"""Claim 8 figure, per patch index k: the score-error term of each model's Girsanov bound (AR-DM
stage k on true prefixes, DDPM patch k's share), the held-out TV lower bound on the law of the
assigned states (k-1, k), and the transition error; exact samples give the calibration line."""

from __future__ import annotations

import numpy as np

from figures.style import band, figure

LABELS = {"ar": "AR-DM (learned)", "ddpm": "DDPM (learned)", "exact": "exact samples (calibration)"}


def draw(record: dict):
    series = record["series"]
    k = np.arange(series["K"])
    fig, axes = figure(ncols=3)
    for kind in ("ar", "ddpm"):
        band(axes[0], k, series[kind]["score_error"], series[kind]["score_error_se"], label=LABELS[kind])
    axes[0].set_ylabel("Σ_j h_j E‖score error on patch k‖² (nats)")
    axes[0].set_title("score-error term per patch", fontsize=9)
    for kind in ("ar", "ddpm", "exact"):
        entry = series[kind]
        band(axes[1], k, entry["tv"][:-1], entry["tv_se"][:-1], label=LABELS[kind])
        band(axes[2], k[1:], entry["transition"], entry["transition_se"], label=LABELS[kind])
    axes[1].axhline(0.0, color="grey", lw=0.6)
    axes[1].set_ylabel("TV lower bound, states (k-1, k) (probability)")
    axes[1].set_title("held-out TV lower bound (≤ 0 is uninformative)", fontsize=9)
    axes[2].set_ylabel("E_s TV(P̂_k(s, ·), P(s, ·)) (probability)")
    axes[2].set_title("transition error of assigned states", fontsize=9)
    for ax in axes:
        ax.set_xlabel("patch index k (0-based)")
        ax.legend(fontsize=6)
    config = record["config"]
    fig.suptitle(
        f"Claim 8: Markov-chain sequences (K={config['K']}, S={config['S']}, p={config['p']}); "
        "bands: 95% over seeds"
    )
    fig.tight_layout()
    return fig
