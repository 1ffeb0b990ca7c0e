"""Figures of recorded runs (matplotlib, written to PNG files). Inputs are DataFrames from Graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.2)
        epochs = sorted(frame["epoch"].unique())
        colours = plt.cm.plasma(np.linspace(0.1, 0.8, len(epochs)))
        for axis, layer, rows in panels:
            edges = np.histogram_bin_edges(rows["s"], bins=30)
            for colour, epoch in zip(colours, epochs, strict=True):
                axis.hist(rows.loc[rows["epoch"] == epoch, "s"], bins=edges, density=True, histtype="step",
                          linewidth=1.6, color=colour, label=f"epoch {epoch}")
            axis.set(title=f"layer {layer}", xlabel="s")
        axes[0].set_ylabel("density")
        axes[-1].legend(fontsize=8, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def layer_histograms(frame: pd.DataFrame, path: Path, xlabel: str, title: str = "Distributions") -> Path:
    """Densities of histograms counted on fixed bins, one panel per layer, one colour per epoch.

    ``frame`` has columns ``epoch``, ``layer``, ``edges`` (n + 1 bin edges) and ``counts`` (n
    counts), one row per layer and epoch, such as the stored histograms ``report.report_data`` reads.

    Example:
        >>> frame = pd.DataFrame({"epoch": [0, 1], "layer": [1, 1], "edges": [[0.0, 1.0, 2.0]] * 2, "counts": [[3, 1], [1, 3]]})
        >>> layer_histograms(frame, Path("/tmp/hist.png"), "s").name
        'hist.png'
    """
    plt = _pyplot()
    epochs = sorted(frame["epoch"].unique())
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.2)
        colours = plt.cm.plasma(np.linspace(0.1, 0.8, len(epochs)))
        for axis, layer, rows in panels:
            for colour, epoch in zip(colours, epochs, strict=True):
                for row in rows[rows["epoch"] == epoch].itertuples(index=False):
                    edges, counts = np.asarray(row.edges, dtype=np.float64), np.asarray(row.counts, dtype=np.float64)
                    axis.stairs(counts / (counts.sum() * np.diff(edges)), edges, linewidth=1.6, color=colour, label=f"epoch {epoch}")
            axis.set(title=f"layer {layer}", xlabel=xlabel)
        axes[0].set_ylabel("density")
        axes[-1].legend(fontsize=8, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def top_movers(frame: pd.DataFrame, path: Path, title: str = "Top movers") -> Path:
    """One panel per layer: each neuron's node strength at the start (open) and end (filled) epoch.

    ``frame`` has columns ``layer``, ``unit``, ``s_start``, ``s_end``: the rows of
    ``Graph.top_movers`` with their layer, largest change first (drawn at the top).

    Example:
        >>> frame = pd.DataFrame({"layer": [1, 1], "unit": [4, 0], "s_start": [0.5, 1.0], "s_end": [2.0, 0.5]})
        >>> top_movers(frame, Path("/tmp/movers.png")).name
        'movers.png'
    """
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.2, height=3.6)
        for axis, layer, rows in panels:
            y = np.arange(len(rows))[::-1]
            axis.hlines(y, rows["s_start"], rows["s_end"], color="0.6", linewidth=1.2)
            axis.scatter(rows["s_start"], y, facecolors="white", edgecolors="tab:blue", zorder=3, label="start")
            axis.scatter(rows["s_end"], y, color="tab:blue", zorder=3, label="end")
            axis.set_yticks(y, [f"unit {unit}" for unit in rows["unit"]], fontsize=8)
            axis.set(title=f"layer {layer}", xlabel="s")
        axes[-1].legend(fontsize=8, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def _layer_panels(plt, frame: pd.DataFrame, width: float, height: float | None = None, sharey: bool = False):  # noqa: ANN001, ANN202
    """A figure of one panel per node layer of ``frame`` (sorted): the figure, its row of panels,
    and (panel, layer, that layer's rows of ``frame``) for each."""
    layers = sorted(frame["layer"].unique())
    figure, axes = plt.subplots(
        1, len(layers), figsize=(width * len(layers), height or width), squeeze=False, sharey=sharey
    )
    return figure, axes[0], [(axis, layer, frame[frame["layer"] == layer]) for axis, layer in zip(axes[0], layers, strict=True)]


def _save(figure, path: Path) -> Path:  # noqa: ANN001
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, bbox_inches="tight")
    _pyplot().close(figure)
    return path


# -- ensembles: distributions of accuracy buckets ------------------------------------------------
def bucket_densities(
    frame: pd.DataFrame, path: Path, bucket_width: float, xlabel: str, title: str = "Distributions by accuracy bucket"
) -> Path:
    """One panel per layer: the density of ``value`` in every accuracy bucket, coloured low to high.

    ``frame`` has columns ``layer``, ``bucket`` (lower edge of the bucket) and ``value``. Values of
    an ensemble span decades (an init scale of 5 against 0.05), so the x axis is symlog, linear
    within the median ``|value|`` c of the layer, and the bins are equal on that axis (equal in
    asinh(x / c)); each bucket's curve is the fraction of its values per bin.

    Example:
        >>> frame = pd.DataFrame({"layer": 1, "bucket": [0.0, 0.0, 0.5, 0.5], "value": [0.1, 0.2, 0.4, 0.6]})
        >>> bucket_densities(frame, Path("/tmp/densities.png"), 0.5, "w").name
        'densities.png'
    """
    plt = _pyplot()
    buckets = sorted(frame["bucket"].unique())
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.2)
        colours = _bucket_colours(plt, len(buckets))
        for axis, layer, rows in panels:
            bins = int(np.clip(2 * np.sqrt(rows.groupby("bucket").size().min()), 6, 40))
            scale = float(np.median(np.abs(rows["value"]))) or 1.0
            ends = np.arcsinh(np.array([rows["value"].min(), rows["value"].max()]) / scale)
            edges = scale * np.sinh(np.linspace(ends[0], ends[1] if ends[1] > ends[0] else ends[0] + 1.0, bins + 1))
            for colour, bucket in zip(colours, buckets, strict=True):
                values = rows.loc[rows["bucket"] == bucket, "value"]
                if len(values):
                    axis.hist(values, bins=edges, weights=np.full(len(values), 1 / len(values)), histtype="step",
                              linewidth=1.4, color=colour, label=_bucket_label(bucket, bucket_width))
            axis.set_xscale("symlog", linthresh=scale)
            axis.tick_params(axis="x", labelsize=7, labelrotation=45)
            axis.set(title=f"layer {layer}", xlabel=xlabel)
        axes[0].set_ylabel("fraction per bin")
        axes[-1].legend(title="test accuracy", fontsize=7, title_fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def divergence_heatmaps(
    frame: pd.DataFrame, path: Path, bucket_width: float, measure: str = "jeffreys", title: str | None = None
) -> Path:
    """Divergence between every pair of buckets: one row of panels per quantity, one column per layer.

    ``frame`` has columns ``quantity``, ``layer``, ``bucket_a``, ``bucket_b`` and ``measure`` (as
    ``Analysis.divergences``; its ``estimator``, if given, goes into the title). One colour scale
    for all panels, so that quantities compare.

    Example:
        >>> frame = pd.DataFrame({"quantity": ["weight", "strength"], "layer": [1, 1], "bucket_a": 0.0,
        ...                       "bucket_b": 0.5, "jeffreys": [0.1, 2.0]})
        >>> divergence_heatmaps(frame, Path("/tmp/divergence.png"), 0.5).name
        'divergence.png'
    """
    what = f"{measure.replace('_', '-').capitalize()} divergence between accuracy buckets"
    return _pair_heatmaps(frame, path, measure, "layer", ("bucket_a", "bucket_b"), lambda b: _bucket_label(b, bucket_width),
                          title or what + _estimator(frame))


def layer_divergence_heatmaps(frame: pd.DataFrame, path: Path, measure: str = "jeffreys", title: str | None = None) -> Path:
    """One network's layers against each other: one row of panels per quantity, one column per epoch.

    ``frame`` has columns ``quantity``, ``epoch``, ``layer_a``, ``layer_b`` and ``measure`` (as
    :func:`cntgraph.core.individual.individual_analysis`, one per epoch). One colour scale for all panels.

    Example:
        >>> frame = pd.DataFrame({"quantity": "strength", "epoch": [0, 0, 0], "layer_a": [0, 0, 1],
        ...                       "layer_b": [1, 2, 2], "jeffreys": [0.1, 2.0, 1.0]})
        >>> layer_divergence_heatmaps(frame, Path("/tmp/layers.png")).name
        'layers.png'
    """
    what = f"{measure.replace('_', '-').capitalize()} divergence between layers"
    return _pair_heatmaps(frame, path, measure, "epoch", ("layer_a", "layer_b"), str, title or what + _estimator(frame))


def _estimator(frame: pd.DataFrame) -> str:
    return f" ({frame['estimator'].iloc[0]} densities)" if "estimator" in frame and len(frame) else ""


def _pair_heatmaps(
    frame: pd.DataFrame, path: Path, measure: str, panel: str, pair: tuple[str, str], label: Callable[[Any], str], title: str
) -> Path:
    """Symmetric matrices of ``measure`` between the values of the ``pair`` columns: a panel per
    quantity (rows) and value of ``panel`` (columns), one colour scale for all."""
    plt = _pyplot()
    quantities = list(dict.fromkeys(frame["quantity"]))
    columns = sorted(frame[panel].unique())
    keys = sorted(set(frame[pair[0]]) | set(frame[pair[1]]))
    labels = [label(key) for key in keys]
    values = frame[measure].to_numpy(dtype=np.float64)
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    infinite = bool(np.isinf(values).any())  # a KDE that underflows: drawn in the colour beyond the scale
    colours = plt.get_cmap("magma").with_extremes(over="deepskyblue", bad="lightgrey")
    with plt.rc_context({**_STYLE, "axes.grid": False}):
        size = 0.15 * len(keys) + 1.5
        figure, axes = plt.subplots(len(quantities), len(columns), figsize=(size * len(columns) + 1.5, size * len(quantities)),
                                    squeeze=False, layout="constrained")
        for row, quantity in zip(axes, quantities, strict=True):
            for axis, column in zip(row, columns, strict=True):
                part = frame[(frame["quantity"] == quantity) & (frame[panel] == column)]
                if part.empty:
                    axis.set_axis_off()
                    continue
                matrix = np.zeros((len(keys), len(keys)))
                for a, b, value in part[[*pair, measure]].itertuples(index=False):
                    matrix[keys.index(a), keys.index(b)] = matrix[keys.index(b), keys.index(a)] = value
                image = axis.imshow(matrix, cmap=colours, vmin=0.0, vmax=top)
                axis.set_xticks(range(len(keys)), labels, rotation=90, fontsize=6)
                axis.set_yticks(range(len(keys)), labels, fontsize=6)
                axis.set_title(f"{quantity}, {panel} {column}", fontsize=9)
        figure.colorbar(image, ax=axes, shrink=0.6, label=measure.replace("_", "-") + (" (blue: infinite)" if infinite else ""),
                        extend="max" if infinite else "neither")
        figure.suptitle(title)
        return _save(figure, path)


def fluctuation_trajectories(
    frame: pd.DataFrame, path: Path, bucket_width: float, title: str = "Layer fluctuation over epochs, by final accuracy"
) -> Path:
    """One panel per node layer: median fluctuation over epochs of each bucket's members, with the quartiles as a band.

    ``frame`` has columns ``bucket`` (of the member's final accuracy), ``member``, ``epoch``,
    ``layer``, ``fluctuation``. Members stop at different epochs, so later epochs have fewer of them.
    The fluctuation axis is logarithmic.

    Example:
        >>> frame = pd.DataFrame({"bucket": [0.0, 0.0, 0.5, 0.5], "member": [0, 0, 1, 1], "epoch": [0, 1, 0, 1],
        ...                       "layer": 1, "fluctuation": [1.0, 2.0, 1.5, 4.0]})
        >>> fluctuation_trajectories(frame, Path("/tmp/trajectories.png"), 0.5).name
        'trajectories.png'
    """
    plt = _pyplot()
    buckets = sorted(frame["bucket"].unique())
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.4, sharey=True)
        colours = _bucket_colours(plt, len(buckets))
        for axis, layer, rows in panels:
            for colour, bucket in zip(colours, buckets, strict=True):
                by_epoch = rows[rows["bucket"] == bucket].groupby("epoch")["fluctuation"]
                q25, median, q75 = by_epoch.quantile(0.25), by_epoch.median(), by_epoch.quantile(0.75)
                axis.plot(median.index, median, color=colour, linewidth=1.4, label=_bucket_label(bucket, bucket_width))
                axis.fill_between(median.index, q25, q75, color=colour, alpha=0.12, linewidth=0)
            axis.set(title=f"layer {layer}", xlabel="epoch", yscale="log")
        axes[0].set_ylabel("fluctuation (std of node strength)")
        axes[-1].legend(title="final test accuracy", fontsize=7, title_fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)


def _bucket_colours(plt, n: int) -> np.ndarray:  # noqa: ANN001
    """Colours from low (dark) to high (bright) accuracy."""
    return plt.cm.viridis(np.linspace(0.0, 0.92, n))


def _bucket_label(bucket: float, width: float) -> str:
    """``0.90-0.95`` for the bucket starting at 0.9 of width 0.05."""
    digits = max(2, len(f"{width:.3f}".rstrip("0").split(".")[1]))
    return f"{bucket:.{digits}f}-{min(bucket + width, 1.0):.{digits}f}"


def fluctuation_vs_accuracy(
    frame: pd.DataFrame, path: Path, bucket_width: float, title: str = "Layer fluctuation against test accuracy"
) -> Path:
    """One panel per node layer: each member's final fluctuation (log scale) against its test accuracy.

    ``frame`` has columns ``member``, ``accuracy``, ``bucket``, ``layer``, ``fluctuation``;
    bucket medians are drawn as a black line.

    Example:
        >>> frame = pd.DataFrame({"member": [0, 1], "accuracy": [0.2, 0.9], "bucket": [0.0, 0.5], "layer": 1,
        ...                       "fluctuation": [1.0, 3.0]})
        >>> fluctuation_vs_accuracy(frame, Path("/tmp/scatter.png"), 0.5).name
        'scatter.png'
    """
    plt = _pyplot()
    buckets = sorted(frame["bucket"].unique())
    with plt.rc_context(_STYLE):
        figure, axes, panels = _layer_panels(plt, frame, 3.2, sharey=True)
        colours = dict(zip(buckets, _bucket_colours(plt, len(buckets)), strict=True))
        for axis, layer, rows in panels:
            axis.scatter(rows["accuracy"], rows["fluctuation"], s=9, alpha=0.7, color=[colours[b] for b in rows["bucket"]])
            medians = rows.groupby("bucket")["fluctuation"].median()
            axis.plot(medians.index + bucket_width / 2, medians, color="black", linewidth=1.2, marker="_", label="bucket median")
            axis.set(title=f"layer {layer}", xlabel="test accuracy", yscale="log")
        axes[0].set_ylabel("fluctuation (std of node strength)")
        axes[-1].legend(fontsize=7, frameon=False)
        figure.suptitle(title)
        figure.tight_layout()
        return _save(figure, path)
