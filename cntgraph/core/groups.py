"""Groups of networks compared: strength and fluctuation summaries, and divergences between groups.

Pure pandas and numpy. ``Graph.compare`` reads the runs of each group from Neo4j and hands them to
:func:`summarize`. A population grouped by a run or epoch property is compared in the database by
``Graph.population`` (``cypher/browser/population*.cypher``); :func:`population_summary` and
:func:`population_divergences` compute the same numbers here from the layer states that
``Graph.population_states`` reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cntgraph.core.divergence import MEASURES, Estimator, sample_divergences
from cntgraph.errors import ConfigurationError

__all__ = ["summarize", "group_of", "spread_over", "population_summary", "population_divergences"]

#: the columns of `population_summary`
POPULATION_COLUMNS = [
    "group", "epoch", "layer", "runs", "fluctuation_mean", "fluctuation_std", "fluctuation_min", "fluctuation_median",
    "fluctuation_max", "s_count", "s_mean", "s_std", "w_count", "w_mean", "w_std",
]
#: the columns of `population_divergences`
DIVERGENCE_COLUMNS = ["quantity", "epoch", "layer", "group_a", "group_b", "runs_a", "runs_b", "bins", *MEASURES]


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


def group_of(values: pd.Series, width: float = 0.0) -> pd.Series:
    """Each value's group: ``floor(v / width) * width`` (rounded to 9 decimals, so 0.3 / 0.1 lands
    in 0.3, not 0.2), or the value itself when ``width`` is 0.

    Example:
        >>> group_of(pd.Series([0.05, 0.3, 0.99, 1.0]), 0.1).tolist()
        [0.0, 0.3, 0.9, 1.0]
    """
    if not (isinstance(width, (int, float)) and width >= 0):
        raise ConfigurationError(f"width must be a number >= 0 (0: group by the values themselves), got {width!r}")
    if width == 0:
        return values
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        raise ConfigurationError(
            f"only numbers can be grouped into buckets of width {width}; got {values[numbers.isna()].iloc[0]!r} (use width 0)"
        )
    return pd.Series(np.round(np.floor(np.round(numbers.to_numpy(dtype=np.float64) / width, 9)) * width, 9), index=values.index)


def spread_over(counts: np.ndarray, edges: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A histogram's ``counts`` on ``edges`` spread over the bins of ``grid``, each bin's count in
    proportion to its overlap with them (as if uniform within the bin); the same as counting on the
    grid where ``edges`` are a subset of it.

    Example (one bin 0..2 holding 4 values, spread over 0..1..2..3):
        >>> spread_over(np.array([4.0]), np.array([0.0, 2.0]), np.array([0.0, 1.0, 2.0, 3.0])).tolist()
        [2.0, 2.0, 0.0]
    """
    counts, edges, grid = (np.asarray(a, dtype=np.float64) for a in (counts, edges, grid))
    overlap = np.minimum(edges[1:, None], grid[None, 1:]) - np.maximum(edges[:-1, None], grid[None, :-1])
    share = np.where(overlap > 0, overlap, 0.0) / (edges[1:] - edges[:-1])[:, None]
    return (counts[:, None] * share).sum(axis=0)


def population_summary(states: pd.DataFrame, width: float = 0.0) -> pd.DataFrame:
    """Per group, epoch and node layer of a population: ``runs``, the fluctuation over them (mean, std
    ddof 1, min, median, max) and their units' strengths and weights pooled (``s_count``, ``s_mean``,
    ``s_std`` ddof 0; ``w_*`` the same) from each run's exact summaries.

    ``states`` has one row per run, epoch and layer: ``value`` (what groups it: see `group_of` with
    ``width``; rows without one are left out), ``fluctuation``, ``s_count``, ``s_mean``, ``s_std``,
    ``w_count``, ``w_mean``, ``w_std`` (``Graph.population_states``). The database's
    ``browser/population`` gives the same.

    Example (two runs in one group: strengths 0, 2 and 4, 6 pooled have mean 3 and std sqrt(5)):
        >>> states = pd.DataFrame({"value": [0.9, 0.95], "epoch": 0, "layer": 1, "fluctuation": [1.0, 1.0],
        ...                        "s_count": 2, "s_mean": [1.0, 5.0], "s_std": 1.0, "w_count": 2, "w_mean": 0.0, "w_std": 1.0})
        >>> row = population_summary(states, width=0.5).iloc[0]
        >>> float(row["group"]), int(row["runs"]), float(row["s_mean"]), round(float(row["s_std"]) ** 2, 12)
        (0.5, 2, 3.0, 5.0)
    """
    kept = states.dropna(subset=["value"]).assign(group=lambda f: group_of(f["value"], width))
    rows = []
    for (group, epoch, layer), part in kept.groupby(["group", "epoch", "layer"], sort=True):
        fluctuation = part["fluctuation"].astype(np.float64)
        rows.append({
            "group": group, "epoch": epoch, "layer": layer, "runs": len(part),
            "fluctuation_mean": fluctuation.mean(), "fluctuation_std": fluctuation.std(),
            "fluctuation_min": fluctuation.min(), "fluctuation_median": fluctuation.median(), "fluctuation_max": fluctuation.max(),
            **_pooled(part, "s"), **_pooled(part, "w"),
        })
    return pd.DataFrame(rows, columns=POPULATION_COLUMNS)


def population_divergences(states: pd.DataFrame, width: float = 0.0) -> pd.DataFrame:
    """Per quantity (``s``: strengths, ``w``: weights), epoch, node layer and pair of groups: the
    divergences of `MEASURES` between the groups' pooled histograms.

    Each run's histogram (``s_hist`` on ``s_edges``, ``w_hist`` on ``w_edges``; NaN or None where a
    layer has none) is spread (`spread_over`) over one grid per layer and quantity: from the
    smallest to the largest edge of all the population's runs, with as many equal bins as the
    finest run has. A group's histogram sums its runs'; densities get half a count per bin, as
    :func:`~cntgraph.core.divergence.densities`. The database's ``browser/population_divergences``
    gives the same.

    Example (two groups, one run each, all in opposite bins of the same 2 edges: J = (4/3) ln 5 on 2 bins):
        >>> states = pd.DataFrame({"value": ["a", "b"], "epoch": 0, "layer": 1, "s_hist": [[2, 0], [0, 2]],
        ...                        "s_edges": [[0.0, 1.0, 2.0]] * 2, "w_hist": None, "w_edges": None})
        >>> round(float(population_divergences(states)["jeffreys"].iloc[0]), 4)
        2.1459
    """
    kept = states.dropna(subset=["value"]).assign(group=lambda f: group_of(f["value"], width))
    rows = []
    for quantity in ("s", "w"):
        has = np.array([_is_array(h) and _is_array(e) for h, e in zip(kept[f"{quantity}_hist"], kept[f"{quantity}_edges"], strict=True)], dtype=bool)
        present = kept.loc[has]
        for layer, part in present.groupby("layer", sort=True):
            edges = [np.asarray(e, dtype=np.float64) for e in part[f"{quantity}_edges"]]
            low, high, bins = min(e[0] for e in edges), max(e[-1] for e in edges), max(e.size for e in edges) - 1
            grid = low + np.arange(bins + 1) * ((high - low) / bins)
            grid[-1] = high
            spread = [spread_over(np.asarray(h, dtype=np.float64), e, grid) for h, e in zip(part[f"{quantity}_hist"], edges, strict=True)]
            frame = part[["group", "epoch"]].assign(spread=spread)
            for epoch, at in frame.groupby("epoch", sort=True):
                groups = [(group, len(members), np.sum(np.stack(members["spread"].to_list()), axis=0))
                          for group, members in at.groupby("group", sort=True)]
                for i, (group_a, runs_a, a) in enumerate(groups):
                    for group_b, runs_b, b in groups[i + 1 :]:
                        p, q = (a + 0.5) / (a.sum() + 0.5 * bins), (b + 0.5) / (b.sum() + 0.5 * bins)
                        rows.append({"quantity": quantity, "epoch": epoch, "layer": layer, "group_a": group_a, "group_b": group_b,
                                     "runs_a": runs_a, "runs_b": runs_b, "bins": bins,
                                     **{name: measure(p, q) for name, measure in MEASURES.items()}})
    order = ["quantity", "epoch", "layer", "group_a", "group_b"]
    return pd.DataFrame(rows, columns=DIVERGENCE_COLUMNS).sort_values(order, ignore_index=True)


def _pooled(part: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Count, mean and std (ddof 0) of the units of several runs together, from each run's count, mean and std."""
    n, mean, std = (part[f"{prefix}_{name}"].astype(np.float64).to_numpy() for name in ("count", "mean", "std"))
    present = ~np.isnan(n)
    if not present.any():
        return {f"{prefix}_count": np.nan, f"{prefix}_mean": np.nan, f"{prefix}_std": np.nan}
    n, mean, std = n[present], mean[present], std[present]
    total = n.sum()
    pooled_mean = float(np.sum(n * mean) / total)
    return {f"{prefix}_count": total, f"{prefix}_mean": pooled_mean,
            f"{prefix}_std": float(np.sqrt(np.sum(n * (std**2 + (mean - pooled_mean) ** 2)) / total))}


def _is_array(value: object) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))
