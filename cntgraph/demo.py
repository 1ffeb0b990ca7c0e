"""``cntgraph demo``: write a tiny neuron graph, read it back, and say where Browser is."""

from __future__ import annotations

import pandas as pd

from cntgraph.graph import Graph

# A 2-2-1 network: inputs 0, 1; hidden 2, 3; output 4.
_NEURONS = [{"id": 0, "layer": 0}, {"id": 1, "layer": 0}, {"id": 2, "layer": 1}, {"id": 3, "layer": 1}, {"id": 4, "layer": 2}]
_LINKS = [
    {"src": 0, "dst": 2, "w": 0.5}, {"src": 0, "dst": 3, "w": -1.25},
    {"src": 1, "dst": 2, "w": 2.0}, {"src": 1, "dst": 3, "w": 0.75},
    {"src": 2, "dst": 4, "w": 1.5}, {"src": 3, "dst": 4, "w": -0.5},
]


def tiny_graph(graph: Graph) -> pd.DataFrame:
    """Write the demo's 2-2-1 graph (replacing an earlier one) and return its links as stored.

    Example:
        >>> tiny_graph(cntgraph.connect())["w"].tolist()             # doctest: +SKIP
        [0.5, -1.25, 2.0, 0.75, 1.5, -0.5]
    """
    graph.run("demo/write", neurons=_NEURONS, links=_LINKS)
    return graph.query("demo/read")
