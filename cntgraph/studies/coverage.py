"""How the in-database strength estimates err over many independent uniform samples of one
network's units: what ``tests/core/test_estimators.py`` checks and ``docs/results/interval_coverage.py``
reports (docs/METRICS.md, "In-database aggregation")."""

from __future__ import annotations

import numpy as np

from cntgraph.core.estimators import expanded_total
from cntgraph.core.links import layer_links
from cntgraph.core.network import Snapshot

__all__ = ["strength_part_errors"]


def strength_part_errors(
    snapshot: Snapshot, layer: int, *, sample: int = 64, draws: int = 1000, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both ends of weighted layer ``layer`` sampled ``sample`` units at a time (at most all), ``draws``
    times: per part, ``"in"`` (the sums into each sampled destination unit) and ``"out"`` (out of each
    sampled source unit), the expansion estimate's error against the sum over all links, and its
    standard error, one entry per sampled unit and draw.

    Example (a Linear(2, 1) with both ends whole: exact, no error):
        >>> from cntgraph.core.network import dense_snapshot
        >>> errors = strength_part_errors(dense_snapshot([[[1.0, -3.0]]]), 1, sample=2, draws=3)
        >>> [(part, error.tolist(), se.tolist()) for part, (error, se) in errors.items()]
        [('in', [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]), ('out', [0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0])]
    """
    src, dst, w = layer_links(snapshot, layer)
    sources, destinations = snapshot.topology.layers[layer - 1].sources, snapshot.topology.layers[layer - 1].index
    n_src = sum(snapshot.topology.node_layers[s].size for s in sources)
    n_dst = snapshot.topology.node_layers[destinations].size
    exact = {"in": np.bincount(dst, w, n_dst), "out": np.bincount(src, w, n_src)}
    rng = np.random.default_rng(seed)
    found: dict[str, list[np.ndarray]] = {"in": [], "out": []}
    for _ in range(draws):
        a = rng.choice(n_src, min(sample, n_src), replace=False)
        b = rng.choice(n_dst, min(sample, n_dst), replace=False)
        kept = np.isin(src, a) & np.isin(dst, b)
        for part, ends, units, other, size in (("in", dst, b, a, n_src), ("out", src, a, b, n_dst)):
            total = np.bincount(ends[kept], w[kept], max(n_src, n_dst))[units]
            squares = np.bincount(ends[kept], w[kept] ** 2, max(n_src, n_dst))[units]
            value, se = expanded_total(total, squares, other.size, size)
            found[part].append(np.stack([value - exact[part][units], se]))
    return {part: tuple(np.concatenate(draws_of, axis=1)) for part, draws_of in found.items()}  # type: ignore[misc]
