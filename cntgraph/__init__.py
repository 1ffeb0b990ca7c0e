"""cntgraph: watch a neural network learn, neuron by neuron and link by link, in Neo4j.

Names are imported lazily, so that the Neo4j layer (``cntgraph.graph``, ``cntgraph.server``)
and the command line never pay for importing torch.

Example:
    >>> import cntgraph
    >>> issubclass(cntgraph.ConnectionError, cntgraph.CntgraphError)
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "CntgraphError": "cntgraph.errors",
    "ConfigurationError": "cntgraph.errors",
    "ConnectionError": "cntgraph.errors",
    "QueryError": "cntgraph.errors",
    "ServerError": "cntgraph.errors",
    "TopologyError": "cntgraph.errors",
    "MetricError": "cntgraph.errors",
    "RecorderError": "cntgraph.errors",
    "SpoolError": "cntgraph.errors",
    "Graph": "cntgraph.graph",
    "connect": "cntgraph.graph",
    "node_strength": "cntgraph.metrics",
    "layer_fluctuation": "cntgraph.metrics",
    "link_weights": "cntgraph.metrics",
    "Full": "cntgraph.sampling",
    "Uniform": "cntgraph.sampling",
    "TopStrength": "cntgraph.sampling",
    "Recorder": "cntgraph.recorder",
    "replay": "cntgraph.writer",
    "ingest": "cntgraph.ingest",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cntgraph' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
