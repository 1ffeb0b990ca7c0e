"""cntgraph's folder on this machine: the managed server's jars and instance, and the spool.

Example:
    >>> import os
    >>> os.environ["CNTGRAPH_HOME"] = "/tmp/cntgraph-example"
    >>> str(default_home())
    '/tmp/cntgraph-example'
    >>> del os.environ["CNTGRAPH_HOME"]
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["default_home"]


def default_home() -> Path:
    """``$CNTGRAPH_HOME``, else ``$XDG_CACHE_HOME/cntgraph``, else ``~/.cache/cntgraph``."""
    explicit = os.environ.get("CNTGRAPH_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "cntgraph"
