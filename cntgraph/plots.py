"""Figures of recorded runs (matplotlib, written to PNG files). Inputs are DataFrames from Graph."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

_STYLE = {"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3}


def _pyplot():  # noqa: ANN202 - matplotlib imported lazily, with a file-only backend
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fluctuation_over_epochs(runs: Mapping[str, pd.DataFrame], path: Path, title: str = "Layer fluctuation") -> Path:
    """One panel per run: fluctuation of every node layer over epochs.

    Each frame has columns ``epoch``, ``layer``, ``fluctuation`` (as ``Graph.fluctuation`` returns).

    Example:
        >>> frame = pd.DataFrame({"epoch": [0, 1, 0, 1], "layer": [1, 1, 2, 2], "fluctuation": [0.1, 0.3, 0.2, 0.5]})
        >>> fluctuation_over_epochs({"run": frame}, Path("/tmp/fluct.png")).name
        'fluct.png'
    """
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 3.8), squeeze=False)
        for axis, (run, frame) in zip(axes[0], runs.items(), strict=True):
            colours = plt.cm.viridis(np.linspace(0.05, 0.9, frame["layer"].nunique()))
            for colour, (layer, rows) in zip(colours, frame.sort_values("epoch").groupby("layer"), strict=True):
                axis.plot(rows["epoch"], rows["fluctuation"], marker="o", markersize=3, color=colour, label=f"layer {layer}")
            axis.set(title=run, xlabel="epoch", ylabel="fluctuation (std of node strength)")
            axis.legend(fontsize=8, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def strength_distributions(frame: pd.DataFrame, path: Path, title: str = "Node strength") -> Path:
    """Histograms of node strength ``s`` per layer, one colour per epoch.

    ``frame`` has columns ``epoch``, ``layer``, ``s`` (one row per neuron and epoch).
    """
    plt = _pyplot()
    layers = sorted(frame["layer"].unique())
    with plt.rc_context(_STYLE):
        figure, axes = plt.subplots(1, len(layers), figsize=(3.2 * len(layers), 3.2), squeeze=False)
        epochs = sorted(frame["epoch"].unique())
        colours = plt.cm.plasma(np.linspace(0.1, 0.8, len(epochs)))
        for axis, layer in zip(axes[0], layers, strict=True):
            rows = frame[frame["layer"] == layer]
            edges = np.histogram_bin_edges(rows["s"], bins=30)
            for colour, epoch in zip(colours, epochs, strict=True):
                axis.hist(rows.loc[rows["epoch"] == epoch, "s"], bins=edges, density=True, histtype="step",
                          linewidth=1.6, color=colour, label=f"epoch {epoch}")
            axis.set(title=f"layer {layer}", xlabel="s")
        axes[0][0].set_ylabel("density")
        axes[0][-1].legend(fontsize=8, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def _save(figure, path: Path) -> Path:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    _pyplot().close(figure)
    return path
