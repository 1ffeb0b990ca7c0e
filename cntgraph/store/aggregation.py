"""In-database aggregation of a recorded run: node strengths and layer fluctuation computed in Cypher.

:func:`aggregate` runs ``cypher/aggregate/epoch.cypher`` and reports, per epoch and layer, each
value with its kind (exact or estimate), standard error and interval beside the exact values the
recorder stored; :mod:`cntgraph.store.verification` judges that frame (``cntgraph verify``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cntgraph.core.estimators import Z95
from cntgraph.store.runner import Neo4jRunner

__all__ = ["AGGREGATE_COLUMNS", "aggregate"]

#: the columns of :func:`aggregate`
AGGREGATE_COLUMNS = [
    "epoch", "layer", "size", "sampled", "neurons",
    "fluctuation", "fluctuation_kind", "fluctuation_se", "fluctuation_low", "fluctuation_high", "exact_fluctuation",
    "fluctuation_error", "s_kind", "s_in_kind", "s_out_kind", "s_error", "s_exact_error", "s_estimates", "s_inside", "w_in_error",
]


def aggregate(runner: Neo4jRunner, run: str, epochs: Iterable[int]) -> pd.DataFrame:
    """Compute node strengths and layer fluctuation of ``run`` at ``epochs`` in Cypher, each with its uncertainty.

    One row per epoch and node layer: ``epoch``, ``layer``, ``size`` (units), ``sampled``
    (stored units), ``neurons`` (stored neuron states), and

    - ``fluctuation``: from the stored neurons' exact strengths; ``fluctuation_kind`` "exact"
      where the layer stores every unit, "biased" (no error) where its sample is not uniform, else
      "estimate" (unbiased up to the square root) with
      its standard error ``fluctuation_se`` and 95% interval ``fluctuation_low``..``fluctuation_high``
      (:func:`cntgraph.core.estimators.fluctuation_estimate`); ``exact_fluctuation`` (over all
      units, stored by the recorder) and the relative, signed ``fluctuation_error`` beside it;
    - the node strengths summed from the stored links, written as ``NeuronState.db_s_in``,
      ``db_s_out``, ``db_s`` and their standard error ``db_s_se``. A part from a node layer
      stored whole is exact (``s_in_kind``, ``s_out_kind``; ``s_kind`` "exact" when both are),
      a part from a sampled one the expansion estimate of
      :func:`cntgraph.core.estimators.expanded_total` (unbiased for uniform samples; from a
      TopStrength sample, kind "biased", without a standard error: ``Layer.uniform``). ``s_error`` is the largest ``|db_s - s|`` over the layer's stored neurons,
      ``s_exact_error`` the same over its exact parts (NaN where none is), both relative to the
      largest ``|s|``; ``s_estimates`` counts the stored neurons whose strength has a standard
      error (none from a part over one sampled unit of several) and ``s_inside`` those whose exact
      ``s`` lies in ``db_s +- 1.96 db_s_se``;
    - ``w_in_error``: the largest ``|sum(w_in) - w_in_sum| / sum(|w_in|)`` over the layer's stored
      neurons: the stored link weights against the sum the writer stored beside them (NaN in the
      input layer, and in runs written before ``w_in_sum`` existed).

    The links follow the run's graph of node layers: a unit's ``db_s_in`` sums its links from
    every node layer that feeds its own, its ``db_s_out`` its links into every node layer it
    feeds; input units have ``s_in = 1`` and the units of sink layers (outputs) ``s_out = 1``.
    ``Graph.aggregate`` checks the epochs first.

    Example:
        aggregate(graph.runner, "mlp-1", [19])[["layer", "fluctuation", "fluctuation_low", "fluctuation_high"]]
    """
    rows = [row for epoch in epochs for row in runner.run("aggregate/epoch", run=run, epoch=epoch, z=Z95)]
    return pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)
