"""Old import path, kept working: ``Graph`` now lives in :mod:`cntgraph.store.graph` and ``connect``
in :mod:`cntgraph.server.connect`."""

from cntgraph.server.connect import connect
from cntgraph.store.graph import Graph

__all__ = ["Graph", "connect"]
