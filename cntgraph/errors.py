"""The exceptions cntgraph raises: one root, a subclass per kind of failure."""

from __future__ import annotations

__all__ = [
    "CntgraphError",
    "ConfigurationError",
    "ConnectionError",
    "QueryError",
    "ServerError",
    "TopologyError",
    "MetricError",
    "RecorderError",
    "SpoolError",
]


class CntgraphError(Exception):
    """Root of every error cntgraph raises on purpose."""


class ConfigurationError(CntgraphError):
    """A setting, argument or environment variable has a value cntgraph cannot use."""


class ConnectionError(CntgraphError):  # noqa: A001 - deliberately ours, exported as cntgraph.ConnectionError
    """Neo4j could not be reached, refused the credentials, or could not serve a query for now (an outage)."""


class QueryError(CntgraphError):
    """A named query is unknown, got wrong parameters, or was refused by the server."""


class ServerError(CntgraphError):
    """The managed local Neo4j server could not be installed, started or stopped."""


class TopologyError(CntgraphError):
    """A model cannot be read as a layered neuron graph (unsupported module, wrong input shape)."""


class MetricError(CntgraphError):
    """Weights cannot be turned into metrics (for example non-finite values)."""


class RecorderError(CntgraphError):
    """Recording a run failed; the message says which epochs are spooled and where."""


class SpoolError(CntgraphError):
    """A spool file cannot be read or replayed."""
