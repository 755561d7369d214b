"""Shared plotting helpers: estimated values always carry their error bars or bands."""

from __future__ import annotations

import numpy as np


def figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.4):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    return fig, axes.ravel()


def band(ax, x, value, stderr=None, label=None, z: float = 1.96, **kwargs):
    """Line with a +-z*stderr band (95% by default) when a standard error is given."""
    x, value = np.asarray(x, float), np.asarray(value, float)
    (line,) = ax.plot(x, value, marker="o", ms=3, label=label, **kwargs)
    if stderr is not None:
        err = z * np.asarray(stderr, float)
        ax.fill_between(x, value - err, value + err, color=line.get_color(), alpha=0.2, lw=0)
    return line


def errorbars(ax, x, value, stderr, label=None, z: float = 1.96, **kwargs):
    """Points with +-z*stderr error bars."""
    ax.errorbar(x, value, yerr=z * np.asarray(stderr, float), fmt="o", ms=3, capsize=2, label=label, **kwargs)
