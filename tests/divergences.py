"""An independent oracle for the divergences of two samples, written from the documented convention
(equal-mass bins on the pooled values, min(bins, isqrt(n)) and at least 2, half a pseudocount per
bin; one unit-wide bin when all values are equal) with numpy's quantiles and histograms and scipy's entropy, not with cntgraph's code."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy


def oracle(a: np.ndarray, b: np.ndarray, bins: int = 32) -> dict[str, float]:
    """``bins`` used, ``jeffreys`` and ``jensen_shannon`` between samples ``a`` and ``b``."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    chosen = max(2, min(bins, math.isqrt(min(a.size, b.size))))
    edges = np.unique(np.quantile(np.concatenate([a, b]), np.linspace(0, 1, chosen + 1)))
    if edges.size == 1:  # every value the same: one unit-wide bin around it
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    p, q = ((np.histogram(x, edges)[0] + 0.5) / (x.size + 0.5 * (edges.size - 1)) for x in (a, b))
    return {"bins": edges.size - 1, "jeffreys": entropy(p, q) + entropy(q, p), "jensen_shannon": jensenshannon(p, q) ** 2}
