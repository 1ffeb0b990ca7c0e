"""``cntgraph report``: the figures of one recorded run, read back from Neo4j.

Four figures: the fluctuation of every node layer over the epochs; the distributions of node
strength and of link weights at chosen epochs (the exact histograms stored per layer and epoch,
counted over every unit and weight on the run's fixed bins, whatever the sample); and the stored
neurons whose strength changed most between the first and the last chosen epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    layer from epoch ``start`` to ``end``).
    """

    run: str
    epochs: list[int]
    start: int
    end: int
    fluctuation: pd.DataFrame
    strength: pd.DataFrame
    weights: pd.DataFrame
    movers: pd.DataFrame


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
    )


def write_report(
    graph: Graph, run: str, out: Path, epochs: Iterable[int] | None = None, top: int = DEFAULT_TOP
) -> list[Path]:
    """Write the report's PNG figures of ``run`` into ``out``; return their paths.

    ``fluctuation.png``, ``strength.png``, ``weights.png`` and ``top-movers.png``, from
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
    ]


def _histograms(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """The ``{prefix}_edges``/``{prefix}_hist`` columns of ``read/histograms`` as ``epoch``, ``layer``, ``edges``, ``counts``."""
    present = frame[frame[f"{prefix}_hist"].notna()]
    return pd.DataFrame({
        "epoch": present["epoch"].astype("int64").to_numpy(),
        "layer": present["layer"].astype("int64").to_numpy(),
        "edges": [np.asarray(edges, dtype=np.float64) for edges in present[f"{prefix}_edges"]],
        "counts": [np.asarray(counts, dtype=np.int64) for counts in present[f"{prefix}_hist"]],
    })
