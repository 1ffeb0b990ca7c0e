"""Old import path, kept working: Neo4j Browser support now lives in :mod:`cntgraph.store.browser`."""

from cntgraph.store.browser import *  # noqa: F403 - the same public names
from cntgraph.store.browser import __all__  # noqa: F401
