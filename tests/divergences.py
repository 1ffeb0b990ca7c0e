"""Independent oracles for the divergences of two samples, not written with cntgraph's code.

`oracle`: the documented histogram convention (equal-mass bins on the pooled values,
min(bins, isqrt(n)) and at least 2, half a pseudocount per bin; one unit-wide bin when all values
are equal) with numpy's quantiles and histograms and scipy's entropy. `reference_jeffreys`: the
reference code's "shannon divergence" as its text reads (Gaussian KDEs on 1000 points from min to
max, summed without dx)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy, gaussian_kde


def oracle(a: np.ndarray, b: np.ndarray, bins: int = 32) -> dict[str, float]:
    """``bins`` used, ``jeffreys`` and ``jensen_shannon`` between samples ``a`` and ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    chosen = max(2, min(bins, math.isqrt(min(a.size, b.size))))
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, chosen + 1)))
    if edges.size == 1:  # every value the same: one unit-wide bin around it
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    p, q = ((np.histogram(x, edges)[0] + 0.5) / (x.size + 0.5 * (edges.size - 1)) for x in (a, b))
    return {"bins": edges.size - 1, "jeffreys": entropy(p, q) + entropy(q, p), "jensen_shannon": jensenshannon(p, q) ** 2}


def reference_jeffreys(a: np.ndarray, b: np.ndarray) -> float:
    """The reference's divergence: KDE values P, Q on arange(min, max, range / 1000), sum P log(P/Q) + Q log(Q/P)."""
    lo, hi = min(np.min(a), np.min(b)), max(np.max(a), np.max(b))
    x = np.arange(lo, hi, abs(hi - lo) / 1000)
    p, q = gaussian_kde(a)(x), gaussian_kde(b)(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # where a density underflows to 0, as the reference's text
        return float(np.sum(np.where(p != 0, p * np.log(p / q), 0)) + np.sum(np.where(q != 0, q * np.log(q / p), 0)))
