"""The individual analysis: one network's layers compared with each other.

The reference code's single-network plots set every layer's distribution of link weights (and of
node strengths) against every other layer's, as a heatmap of divergences. Here that is a table,
one row per pair of layers, from any per-layer samples (a snapshot's exact values, or the stored
sample of a recorded run), with the divergence estimators of :mod:`cntgraph.core.divergence`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pandas as pd

from cntgraph.core.divergence import MEASURES, Estimator, sample_divergences
from cntgraph.core.metrics import layer_parameters, layer_strengths
from cntgraph.core.network import Snapshot, dense_snapshot  # noqa: F401 - dense_snapshot: the examples
from cntgraph.errors import ConfigurationError

__all__ = ["QUANTITIES", "layer_samples", "layer_divergences", "individual_analysis"]

#: what the layers are compared by: the link weights into each node layer 1..K (weights and
#: biases, as `cntgraph.core.metrics.link_weights`), the node strengths s of each node layer 0..K
QUANTITIES = ("weight", "strength")

COLUMNS = ["layer_a", "layer_b", "estimator", "bins", *MEASURES]


def layer_samples(snapshot: Snapshot, quantity: str) -> dict[int, np.ndarray]:
    """{node layer: its values of ``quantity``} (``"weight"``: layers 1..K; ``"strength"``: 0..K).

    Example:
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> {layer: values.tolist() for layer, values in layer_samples(snap, "weight").items()}
        {1: [1.0, -3.0, 0.5]}
    """
    if quantity == "weight":
        return {index: values for index, _, values in layer_parameters(snapshot)}
    if quantity == "strength":
        return {index: st.s_in + st.s_out for index, st in enumerate(layer_strengths(snapshot))}
    raise ConfigurationError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")


def layer_divergences(
    samples: Mapping[int, npt.ArrayLike], bins: int = 32, estimator: Estimator = "histogram"
) -> pd.DataFrame:
    """The divergences between every pair of layers' ``samples``: ``layer_a`` < ``layer_b``,
    ``estimator``, ``bins``, ``jeffreys``, ``jensen_shannon`` (see
    :func:`~cntgraph.core.divergence.sample_divergences`; both measures are symmetric).

    Example (two layers with the same values, one shifted):
        >>> table = layer_divergences({1: [0.0, 1.0], 2: [0.0, 1.0], 3: [5.0, 6.0]})
        >>> table[["layer_a", "layer_b"]].values.tolist(), table.jeffreys.round(4).tolist()
        ([[1, 2], [1, 3], [2, 3]], [0.0, 2.1459, 2.1459])
    """
    layers = sorted(samples)
    rows = [
        {"layer_a": a, "layer_b": b, **sample_divergences(samples[a], samples[b], bins, estimator)}
        for i, a in enumerate(layers)
        for b in layers[i + 1 :]
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def individual_analysis(snapshot: Snapshot, bins: int = 32, estimator: Estimator = "histogram") -> pd.DataFrame:
    """`layer_divergences` of one network's link weights and of its node strengths: a ``quantity``
    column, then the pairs of layers.

    Example:
        >>> snap = dense_snapshot([[[1.0, -3.0], [2.0, 0.5]], [[1.0, 1.0]]], biases=[[0.5, 0.0], None])
        >>> table = individual_analysis(snap)
        >>> table.groupby("quantity", sort=False).size().to_dict()  # weights into layers 1, 2; strengths of 0, 1, 2
        {'weight': 1, 'strength': 3}
    """
    parts = [
        layer_divergences(layer_samples(snapshot, quantity), bins, estimator).assign(quantity=quantity)
        for quantity in QUANTITIES
    ]
    return pd.concat(parts, ignore_index=True)[["quantity", *COLUMNS]]
