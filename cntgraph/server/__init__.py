"""The managed local Neo4j server: installed from Maven Central, run as a background JVM.

Example:
    >>> from cntgraph.server import ManagedServer
    >>> ManagedServer().distribution.version.startswith("5.26.")
    True
"""

from cntgraph.server.managed import (
    USER,
    ManagedServer,
    ServerState,
    ServerStatus,
    default_home,
)
from cntgraph.server.maven import Distribution, install

__all__ = ["Distribution", "ManagedServer", "ServerState", "ServerStatus", "USER", "default_home", "install"]
