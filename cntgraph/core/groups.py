"""Groups of networks compared: strength and fluctuation summaries, and divergences between groups.

Pure pandas and numpy; ``Graph.compare`` reads the runs of each group from Neo4j and hands them here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cntgraph.core.divergence import Estimator, sample_divergences

__all__ = ["summarize"]


def summarize(neurons: pd.DataFrame, layers: pd.DataFrame, bins: int = 32, estimator: Estimator = "histogram") -> pd.DataFrame:
    """Per group and layer: strength summary, fluctuation over runs, Jeffreys divergence from the first group.

    ``neurons`` has ``group``, ``run``, ``layer``, ``s`` (one row per neuron); ``layers`` has
    ``group``, ``run``, ``layer``, ``fluctuation`` (one row per run and layer). Returns ``group``,
    ``layer``, ``runs``, ``neurons``, ``s_mean``, ``s_std``, ``s_q05``, ``s_q50``, ``s_q95``,
    ``fluctuation_mean``, ``fluctuation_std`` (over the group's runs, ddof=0), and the divergences
    of :func:`~cntgraph.core.divergence.sample_divergences` between the group's pooled strengths and
    the first group's, per layer, by ``estimator``: ``estimator``, ``bins``, ``jeffreys``, ``jensen_shannon``.

    Example:
        >>> neurons = pd.DataFrame({"group": ["a", "a", "b", "b"], "run": ["r", "r", "q", "q"],
        ...                         "layer": 1, "s": [0.0, 2.0, 0.0, 2.0]})
        >>> layers = pd.DataFrame({"group": ["a", "b"], "run": ["r", "q"], "layer": 1, "fluctuation": [1.0, 1.0]})
        >>> summarize(neurons, layers)[["group", "s_mean", "fluctuation_mean", "jeffreys"]].values.tolist()
        [['a', 1.0, 1.0, 0.0], ['b', 1.0, 1.0, 0.0]]
        >>> neurons["s"] = [0.0, 0.0, 1.0, 1.0]
        >>> round(float(summarize(neurons, layers)["jeffreys"].iloc[1]), 4)  # (4/3) ln 5, on 2 bins
        2.1459
    """
    reference = neurons["group"].iloc[0]
    rows = []
    for (group, layer), part in neurons.groupby(["group", "layer"], sort=False):
        s = part["s"].to_numpy(dtype=np.float64)
        base = neurons.loc[(neurons["group"] == reference) & (neurons["layer"] == layer), "s"]
        fluctuation = layers.loc[(layers["group"] == group) & (layers["layer"] == layer), "fluctuation"].to_numpy()
        quantiles = np.quantile(s, [0.05, 0.5, 0.95])
        rows.append({
            "group": group, "layer": layer, "runs": part["run"].nunique(), "neurons": s.size,
            "s_mean": s.mean(), "s_std": s.std(), **dict(zip(("s_q05", "s_q50", "s_q95"), quantiles, strict=True)),
            "fluctuation_mean": fluctuation.mean(), "fluctuation_std": fluctuation.std(),
            **sample_divergences(s, base, bins, estimator),
        })
    return pd.DataFrame(rows).sort_values(["layer"], kind="stable", ignore_index=True)
