"""Old import path, kept working: the ensemble study now lives in :mod:`cntgraph.studies.ensemble`."""

from cntgraph.studies.ensemble import *  # noqa: F403 - the same public names
from cntgraph.studies.ensemble import __all__  # noqa: F401
