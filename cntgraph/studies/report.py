"""``cntgraph report``: the figures of one recorded run, read back from Neo4j.

Five figures: the fluctuation of every node layer over the epochs; the distributions of node
strength and of link weights at chosen epochs (the exact histograms stored per layer and epoch,
counted over every unit and weight on the run's fixed bins, whatever the sample); the stored
neurons whose strength changed most between the first and the last chosen epoch; and the
individual analysis at the chosen epochs (every layer's stored strengths and link weights against
every other layer's, :mod:`cntgraph.core.individual`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cntgraph.core.individual import layer_divergences
from cntgraph.store.graph import Graph
from cntgraph.studies import plots

__all__ = ["DEFAULT_TOP", "ReportData", "report_data", "write_report"]

#: how many top movers the report shows per node layer
DEFAULT_TOP = 8


@dataclass(frozen=True)
class ReportData:
    """What the report plots, as read from Neo4j.

    ``fluctuation``: ``epoch``, ``layer``, ``fluctuation`` (every complete epoch, as
    ``Graph.fluctuation``). ``strength`` and ``weights``: ``epoch``, ``layer``, ``edges``,
    ``counts`` (the stored histograms at ``epochs``; ``weights`` has no input layer). ``movers``:
    ``layer``, ``unit``, ``s_start``, ``s_end``, ``delta`` (``Graph.top_movers`` of every node
    layer from epoch ``start`` to ``end``). ``layers``: ``epoch``, ``quantity``, ``layer_a``,
    ``layer_b``, ``estimator``, ``bins``, ``jeffreys``, ``jensen_shannon``: the stored neurons'
    strengths (``strength``) and the stored links' weights (``weight``; biases are not links) of
    every pair of node layers at ``epochs`` (every unit and link of a ``Full()`` run, else the sample).
    """

    run: str
    epochs: list[int]
    start: int
    end: int
    fluctuation: pd.DataFrame
    strength: pd.DataFrame
    weights: pd.DataFrame
    movers: pd.DataFrame
    layers: pd.DataFrame


def report_data(graph: Graph, run: str, epochs: Iterable[int] | None = None, top: int = DEFAULT_TOP) -> ReportData:
    """Read what :func:`write_report` plots for ``run`` at ``epochs`` (default: its first and last complete epoch).

    Top movers are taken between the first and the last of ``epochs`` (from the run's first
    complete epoch when only one is given). An unknown run, or an epoch that is not recorded
    and complete, raises QueryError naming it.

    Example:
        data = report_data(graph, "demo-mlp", epochs=[0, 19])
        data.movers.groupby("layer").size().tolist()
        [8, 8, 8, 8]
    """
    complete = graph.complete_epochs(run)
    wanted = [] if epochs is None else list(epochs)
    chosen = sorted(set(graph.complete_epochs(run, wanted))) if wanted else sorted({complete[0], complete[-1]})
    start, end = (chosen[0] if len(chosen) > 1 else complete[0]), chosen[-1]
    histograms = graph.query("read/histograms", run=run, epochs=chosen)
    movers = [graph.top_movers(run, layer, top, start, end).assign(layer=layer) for layer in graph.layers(run)["layer"]]
    return ReportData(
        run=run,
        epochs=chosen,
        start=start,
        end=end,
        fluctuation=graph.fluctuation(run),
        strength=_histograms(histograms, "s"),
        weights=_histograms(histograms, "w"),
        movers=pd.concat(movers, ignore_index=True)[["layer", "unit", "s_start", "s_end", "delta"]],
        layers=pd.concat([_individual(graph, run, epoch) for epoch in chosen], ignore_index=True),
    )


def write_report(
    graph: Graph, run: str, out: Path, epochs: Iterable[int] | None = None, top: int = DEFAULT_TOP
) -> list[Path]:
    """Write the report's PNG figures of ``run`` into ``out``; return their paths.

    ``fluctuation.png``, ``strength.png``, ``weights.png``, ``top-movers.png`` and ``layers.png``, from
    :func:`report_data` (see there for ``epochs`` and ``top``).

    Example:
        write_report(graph, "demo-mlp", Path("report"), epochs=[0, 19])
        [PosixPath('report/fluctuation.png'), PosixPath('report/strength.png'), ...]
    """
    data = report_data(graph, run, epochs, top)
    out = Path(out)
    return [
        plots.fluctuation_over_epochs({run: data.fluctuation}, out / "fluctuation.png", f"Layer fluctuation, {run}"),
        plots.layer_histograms(data.strength, out / "strength.png", "node strength s", f"Node strength, {run}"),
        plots.layer_histograms(data.weights, out / "weights.png", "link weight w", f"Link weights and biases, {run}"),
        plots.top_movers(data.movers, out / "top-movers.png", f"Top movers of node strength, {run}, epoch {data.start} to {data.end}"),
        plots.layer_divergence_heatmaps(data.layers, out / "layers.png",
                                        title=f"Layers against each other (Jeffreys, stored sample), {run}"),
    ]


def _individual(graph: Graph, run: str, epoch: int) -> pd.DataFrame:
    """The stored strengths and link weights of every node layer at ``epoch``, layer against layer."""
    strengths = graph.query("read/strengths", run=run, epochs=[epoch])
    links = graph.query("read/epoch_weights", run=run, epoch=epoch)
    samples = {
        "strength": {int(layer): rows["s"].to_numpy(dtype=np.float64) for layer, rows in strengths.groupby("layer")},
        "weight": {int(layer): np.concatenate([np.asarray(w, dtype=np.float64) for w in rows["w_in"]])
                   for layer, rows in links.groupby("layer")},
    }
    return pd.concat(
        [layer_divergences(values).assign(epoch=epoch, quantity=quantity) for quantity, values in samples.items()],
        ignore_index=True,
    )


def _histograms(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The ``{prefix}_edges``/``{prefix}_hist`` columns of ``read/histograms`` as ``epoch``, ``layer``, ``edges``, ``counts``."""
    present = frame[frame[f"{prefix}_hist"].notna()]
    return pd.DataFrame({
        "epoch": present["epoch"].astype("int64").to_numpy(),
        "layer": present["layer"].astype("int64").to_numpy(),
        "edges": [np.asarray(edges, dtype=np.float64) for edges in present[f"{prefix}_edges"]],
        "counts": [np.asarray(counts, dtype=np.int64) for counts in present[f"{prefix}_hist"]],
    })
