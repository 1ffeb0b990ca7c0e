"""cntgraph: watch a neural network learn, neuron by neuron and link by link, in Neo4j.

The package follows the data: ``model`` (PyTorch: tracing, snapshots) -> ``core`` (numpy: metrics,
links, sampling, divergences) -> ``records`` (what an epoch stores, the spool) -> ``store``
(Neo4j: runner, Cypher library, reads, writer) and ``server`` (where Neo4j comes from) ->
``recording`` (Recorder, replay, ingest, callbacks) -> ``studies`` (demo, report, ensemble) and
the CLI. See docs/ARCHITECTURE.md.

Names are imported lazily, so that ``cntgraph.connect`` and the command line never pay for
importing torch.

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
    "Graph": "cntgraph.store.graph",
    "export_run": "cntgraph.store.tables",
    "import_run": "cntgraph.store.tables",
    "connect": "cntgraph.server.connect",
    "Snapshot": "cntgraph.core.network",
    "dense_snapshot": "cntgraph.core.network",
    "fixed_bins": "cntgraph.core.metrics",
    "node_strength": "cntgraph.model.metrics",
    "layer_fluctuation": "cntgraph.model.metrics",
    "link_weights": "cntgraph.model.metrics",
    "absolute_strength": "cntgraph.model.metrics",
    "disparity": "cntgraph.model.metrics",
    "link_assortativity": "cntgraph.model.metrics",
    "network_assortativity": "cntgraph.model.metrics",
    "null_model": "cntgraph.model.metrics",
    "individual_analysis": "cntgraph.model.metrics",
    "activation_distributions": "cntgraph.model.metrics",
    "register_wiring": "cntgraph.model.tracing",
    "register_links": "cntgraph.model.tracing",
    "trace": "cntgraph.model.tracing",
    "take_snapshot": "cntgraph.model.snapshot",
    "Full": "cntgraph.core.sampling",
    "Uniform": "cntgraph.core.sampling",
    "TopStrength": "cntgraph.core.sampling",
    "Recorder": "cntgraph.recording.recorder",
    "replay": "cntgraph.recording.replay",
    "ingest": "cntgraph.recording.ingest",
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
