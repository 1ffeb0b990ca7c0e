"""Old import path, kept working: the metrics now live in :mod:`cntgraph.model.metrics` (for models)
and :mod:`cntgraph.core.metrics` (for snapshots, numpy only)."""

from cntgraph.core.metrics import (
    Strengths,
    fixed_bins,
    histogram,
    layer_strengths,
    summary_stats,
)
from cntgraph.model.metrics import (
    layer_fluctuation,
    layer_parameters,
    link_weights,
    node_strength,
)

__all__ = [
    "Strengths", "fixed_bins", "histogram", "layer_strengths", "summary_stats",
    "layer_fluctuation", "layer_parameters", "link_weights", "node_strength",
]  # fmt: skip
