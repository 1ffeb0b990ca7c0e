"""In-database aggregation of a recorded run: node strengths and layer fluctuation computed in Cypher.

:func:`aggregate` runs ``cypher/aggregate/epoch.cypher`` and reports, per epoch and layer, the
relative errors against the exact values the recorder stored; :mod:`cntgraph.store.verification`
reads that frame (``cntgraph verify``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cntgraph.core.estimators import Z95
from cntgraph.store.runner import Neo4jRunner

__all__ = ["AGGREGATE_COLUMNS", "aggregate"]

#: the columns of :func:`aggregate`
AGGREGATE_COLUMNS = [
    "epoch", "layer", "size", "sampled", "neurons", "fluctuation", "exact_fluctuation", "fluctuation_error", "s_error",
    "estimate_kind", "estimate", "estimate_se", "estimate_low", "estimate_high",
]


def aggregate(runner: Neo4jRunner, run: str, epochs: Iterable[int]) -> pd.DataFrame:
    """Compute node strengths and layer fluctuation of ``run`` at ``epochs`` in Cypher.

    For each epoch ``aggregate/epoch`` writes ``NeuronState.db_s_in``/``db_s_out``/``db_s`` and
    ``LayerState.db_fluctuation`` and returns one row per node layer: ``epoch``, ``layer``,
    ``size``, ``sampled``, ``neurons``, ``fluctuation`` (the Cypher value),
    ``exact_fluctuation``, ``fluctuation_error`` (relative, signed) and ``s_error`` (max
    ``|db_s - s|`` over the layer's stored neurons, relative to their max ``|s|``). Exact on a
    Full run; on a sampled run each sum over a neighbouring layer's stored units is scaled by that
    layer's ``size / sampled``: unbiased for Uniform samples (over the draw of the sample), not for
    TopStrength. The links follow the run's graph of node layers: a unit's ``db_s_in`` sums its
    links from every node layer that feeds its own (each scaled by its source layer), its
    ``db_s_out`` its links into every node layer it feeds (each scaled by that layer); input units
    have ``s_in = 1`` and the units of sink layers (outputs) ``s_out = 1``. ``Graph.aggregate``
    checks the epochs first.

    Beside these, the fluctuation from the stored neurons' exact strengths
    (:func:`cntgraph.core.estimators.fluctuation_estimate`): ``estimate_kind`` ("exact" where the
    layer stores every unit, else "estimate"), ``estimate``, its standard error ``estimate_se``
    and 95% interval ``estimate_low``..``estimate_high``: unbiased up to the square root, without
    the link-sum estimator's excess variance.

    Example:
        aggregate(graph.runner, "mlp-1", [19])
    """
    rows = [row for epoch in epochs for row in runner.run("aggregate/epoch", run=run, epoch=epoch, z=Z95)]
    return pd.DataFrame(rows, columns=AGGREGATE_COLUMNS)
