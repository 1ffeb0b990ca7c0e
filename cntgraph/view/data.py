"""What the view shows of one run, read through the read API (:class:`~cntgraph.store.graph.Graph`) and cached.

Everything comes from read queries of the Cypher library, so the view is safe against any store.
An epoch is read once (its strengths and links) and kept; positions and colour scales are fixed
for the run at the first read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from cntgraph.core.groups import summarize
from cntgraph.store.graph import Graph
from cntgraph.view.layout import Scales, elements, positions

__all__ = ["MAX_LINKS", "MAX_NEURONS", "RunData", "compare_epochs", "unrolled"]

#: links drawn at most (those of largest |w|), and neurons: more would make the page slow to redraw
MAX_LINKS, MAX_NEURONS = 4000, 2000
_LINK_KEYS = ["src_layer", "src_unit", "dst_layer", "dst_unit"]


class RunData:
    """The stored picture of ``run``: layers, complete epochs, fluctuation, and each epoch on demand.

    Raises :class:`~cntgraph.errors.QueryError` for an unknown run or one without a complete epoch.

    Example:
        data = RunData(graph, "demo-mlp")
        drawn, note = data.elements(19, min_abs_w=0.1)
    """

    def __init__(self, graph: Graph, run: str, max_links: int = MAX_LINKS, max_neurons: int = MAX_NEURONS) -> None:
        self.graph, self.run, self.max_links = graph, run, max_links
        self.epochs = graph.complete_epochs(run)
        self.layers = graph.layers(run)
        self.fluctuation = graph.fluctuation(run)
        self._epochs: dict[int, tuple[pd.DataFrame, pd.DataFrame]] = {}
        first_nodes, _ = self.epoch(self.epochs[0])
        self.stored_neurons = len(first_nodes)
        self.places = positions(self.layers, _thinned(first_nodes[["layer", "unit"]], max_neurons))
        last_nodes, last_links = self.epoch(self.epochs[-1])
        self.scales = Scales.of(last_nodes, last_links)

    def refresh(self) -> bool:
        """Read the run's complete epochs again (a run still being recorded grows); True when it grew."""
        epochs = self.graph.complete_epochs(self.run)
        if epochs == self.epochs:
            return False
        self.fluctuation, self.epochs = self.graph.fluctuation(self.run), epochs
        return True

    def epoch(self, epoch: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The stored neurons' strengths and the stored links' weights at ``epoch`` (read once)."""
        if epoch not in self._epochs:
            self.graph.complete_epochs(self.run, [epoch])  # QueryError naming the epoch when it is not recorded
            nodes = self.graph.query("read/strengths", run=self.run, epochs=[epoch])
            weights = self.graph.query("read/epoch_weights", run=self.run, epoch=epoch)
            self._epochs[epoch] = (nodes, unrolled(weights))
        return self._epochs[epoch]

    def links(self, epoch: int, min_abs_w: float = 0.0, min_change: float = 0.0) -> pd.DataFrame:
        """The links at ``epoch`` with ``|w| >= min_abs_w`` whose weight moved by at least ``min_change``
        since the first epoch; a ``change`` column holds that move."""
        _, links = self.epoch(epoch)
        _, first = self.epoch(self.epochs[0])
        moved = links.merge(first.rename(columns={"w": "w_first"}), on=_LINK_KEYS, how="left")
        moved["change"] = moved["w"] - moved["w_first"]
        keep = (moved["w"].abs() >= min_abs_w) & (moved["change"].abs() >= min_change)
        if len(self.places) < self.stored_neurons:  # links between drawn neurons only
            drawn = pd.MultiIndex.from_frame(self.places[["layer", "unit"]])
            keep &= pd.MultiIndex.from_frame(moved[["src_layer", "src_unit"]]).isin(drawn)
            keep &= pd.MultiIndex.from_frame(moved[["dst_layer", "dst_unit"]]).isin(drawn)
        return moved.loc[keep, [*_LINK_KEYS, "w", "change"]].reset_index(drop=True)

    def elements(self, epoch: int, min_abs_w: float = 0.0, min_change: float = 0.0) -> tuple[list[dict[str, Any]], str]:
        """The Cytoscape elements of ``epoch`` and a line saying what is drawn (and what is left out)."""
        nodes, stored = self.epoch(epoch)
        shown = self.links(epoch, min_abs_w, min_change)
        drawn = elements(self.places, nodes, shown, self.scales, self.max_links)
        count = min(len(shown), self.max_links)
        neurons = f"{len(self.places):,} stored neurons" if len(self.places) == self.stored_neurons else (
            f"{len(self.places):,} of {self.stored_neurons:,} stored neurons (evenly spaced in each layer)")
        note = f"{self.run}, epoch {epoch}: {neurons}, {count:,} of {len(stored):,} stored links drawn"
        if len(shown) > self.max_links:
            note += f" (the {self.max_links:,} of largest |w|; raise the |w| filter to see the others)"
        elif len(shown) < len(stored):
            note += " (the rest filtered out)"
        return drawn, note

    def neuron_links(self, epoch: int, layer: int, unit: int, k: int = 8) -> pd.DataFrame:
        """The ``k`` stored links into or out of neuron ``(layer, unit)`` of largest ``|w|`` at ``epoch``."""
        _, links = self.epoch(epoch)
        touching = links[((links["dst_layer"] == layer) & (links["dst_unit"] == unit))
                         | ((links["src_layer"] == layer) & (links["src_unit"] == unit))]  # fmt: skip
        return touching.reindex(touching["w"].abs().sort_values(ascending=False).index[:k]).reset_index(drop=True)


def unrolled(weights: pd.DataFrame) -> pd.DataFrame:
    """``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``, ``w``: a row per link, from a row per
    neuron of ``read/epoch_weights`` (its aligned ``in_layers``, ``in_units`` and ``w_in`` arrays),
    unrolled in numpy.

    Example (neuron 3:0 gets links from unit 0 of node layer 2 and unit 2 of node layer 0):
        >>> weights = pd.DataFrame({"layer": [1, 3], "unit": [1, 0], "in_layers": [[0], [2, 0]], "in_units": [[1], [0, 2]],
        ...                         "w_in": [[2.0], [0.5, 1.0]]})
        >>> unrolled(weights).values.tolist()
        [[0.0, 1.0, 1.0, 1.0, 2.0], [2.0, 0.0, 3.0, 0.0, 0.5], [0.0, 2.0, 3.0, 0.0, 1.0]]
    """
    counts = weights["w_in"].map(len).to_numpy(dtype=np.int64)
    layer = np.repeat(weights["layer"].to_numpy(dtype=np.int64), counts)
    return pd.DataFrame({
        "src_layer": np.concatenate([*weights["in_layers"], []]).astype(np.int64),
        "src_unit": np.concatenate([*weights["in_units"], []]).astype(np.int64),
        "dst_layer": layer,
        "dst_unit": np.repeat(weights["unit"].to_numpy(dtype=np.int64), counts),
        "w": np.concatenate([*weights["w_in"], []]).astype(np.float64),
    })  # fmt: skip


def _thinned(units: pd.DataFrame, most: int) -> pd.DataFrame:
    """At most ``most`` of ``units`` (``layer``, ``unit``): each layer keeps an evenly spaced share."""
    if len(units) <= most:
        return units
    per_layer = max(1, most // units["layer"].nunique())
    kept = [part.iloc[np.unique(np.linspace(0, len(part) - 1, min(per_layer, len(part))).round().astype(int))]
            for _, part in units.sort_values(["layer", "unit"]).groupby("layer")]  # fmt: skip
    return pd.concat(kept, ignore_index=True)


def compare_epochs(a: RunData, epoch_a: int, b: RunData, epoch_b: int) -> pd.DataFrame:
    """Per node layer, the two pictures' strength and fluctuation summaries and their divergences.

    The same statistics as ``Graph.compare`` (:func:`~cntgraph.core.groups.summarize`), for any two
    (run, epoch) pairs, two epochs of one run included.
    """
    neurons, layers = [], []
    for data, epoch in ((a, epoch_a), (b, epoch_b)):
        group = f"{data.run}@{epoch}"
        nodes, _ = data.epoch(epoch)
        neurons.append(nodes.assign(group=group, run=group))
        fluctuation = data.fluctuation[data.fluctuation["epoch"] == epoch]
        layers.append(fluctuation.assign(group=group, run=group))
    summary = summarize(pd.concat(neurons, ignore_index=True), pd.concat(layers, ignore_index=True))
    return summary[["group", "layer", "neurons", "s_mean", "s_std", "fluctuation_mean", "bins", "jeffreys", "jensen_shannon"]]
