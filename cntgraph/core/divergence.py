"""Divergences between distributions of samples, compared as histograms on a common grid.

The papers compare link-weight, node-strength and fluctuation distributions of groups of networks
(accuracy buckets) with a symmetric Kullback-Leibler (Jeffreys) divergence between densities on a
common grid; cntgraph adds the Jensen-Shannon divergence, which is bounded (by ln 2) and finite
even where one density is zero. Three small steps, each a pure function:

1. `grid_edges`: one set of bin edges for all the samples being compared;
2. `densities`: each sample as a probability vector on those bins, with a pseudocount per bin so
   that no bin is empty (a Jeffreys divergence is infinite where one density is 0 and the other not);
3. `kl_divergence`, `jeffreys_divergence`, `js_divergence` of two probability vectors (natural log).

`divergence_matrix` chains them for every pair of samples; `sample_divergences` compares two samples
on a grid of their own, the one convention that ``Graph.compare`` and the ensemble analysis share.

Densities can also be estimated with Gaussian kernels (`kde_densities`). `ESTIMATORS` names the
three ways `sample_divergences` estimates, so that every number can say which one made it:

- ``"histogram"`` (the default): equal-mass bins with a pseudocount, as above;
- ``"kde"``: Gaussian KDEs (Scott's bandwidth) on a fine grid that covers both samples and their
  kernels' tails, each normalised to a probability vector (the densities times the grid step dx):
  a Riemann sum of the continuous divergence, so it does not depend on the units of the data;
- ``"kde_reference"``: the reference code's "shannon divergence" (La Malfa et al.), kept for
  comparison: the same KDEs on 1000 points from the smallest to the largest value, and
  ``sum P log(P/Q) + sum Q log(Q/P)`` of the density values without dx: about 1000 / (data range)
  times the Jeffreys divergence of the KDEs over that range, so it grows as the data shrink: link
  weights, whose range is small, can come out above strengths for that reason alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import rel_entr
from scipy.stats import gaussian_kde

from cntgraph.checks import whole_number
from cntgraph.errors import ConfigurationError

__all__ = [
    "grid_edges",
    "densities",
    "kl_divergence",
    "jeffreys_divergence",
    "js_divergence",
    "divergence_matrix",
    "sample_divergences",
    "kde_densities",
    "MEASURES",
    "ESTIMATORS",
]

Spacing = Literal["linear", "quantile"]
Estimator = Literal["histogram", "kde", "kde_reference"]
Measure = Callable[[npt.ArrayLike, npt.ArrayLike], float]


def grid_edges(samples: Sequence[npt.ArrayLike], bins: int = 32, spacing: Spacing = "linear") -> np.ndarray:
    """Common bin edges spanning every value of ``samples``: ``bins`` equal bins, or equal-mass bins.

    ``"linear"``: equal widths from the smallest to the largest value (one value: a unit-wide bin
    around it, as numpy does). ``"quantile"``: edges at the quantiles of the pooled values, so that
    every bin holds about the same number of them; repeated quantiles (ties) are merged, so fewer
    bins may come back. Equal-mass bins keep a few extreme values from squeezing the bulk of a
    distribution into one bin.

    Example:
        >>> grid_edges([[0.0, 1.0], [4.0]], bins=4).tolist()
        [0.0, 1.0, 2.0, 3.0, 4.0]
        >>> grid_edges([[0.0, 1.0, 2.0], [3.0, 100.0]], bins=4, spacing="quantile").tolist()
        [0.0, 1.0, 2.0, 3.0, 100.0]
    """
    whole_number("bins", bins)
    pooled = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in samples]) if len(samples) else np.empty(0)
    if pooled.size == 0 or not np.isfinite(pooled).all():
        raise ConfigurationError("grid_edges needs at least one value, all finite; drop empty or non-finite samples first")
    if spacing == "linear":
        return np.histogram_bin_edges(pooled, bins=int(bins))
    if spacing == "quantile":
        edges = np.unique(np.quantile(pooled, np.linspace(0.0, 1.0, int(bins) + 1)))
        return edges if edges.size > 1 else np.histogram_bin_edges(pooled, bins=1)
    raise ConfigurationError(f"spacing must be 'linear' or 'quantile', got {spacing!r}")


def densities(samples: Sequence[npt.ArrayLike], edges: npt.ArrayLike, pseudocount: float = 0.5) -> np.ndarray:
    """Each sample as a probability vector over the bins of ``edges`` (one row per sample).

    Row i is ``(counts_i + pseudocount) / (counted_i + pseudocount * bins)``; values outside the
    edges are not counted. The default pseudocount of one half per bin is the Jeffreys
    (Krichevsky-Trofimov) estimator; 0 gives the plain relative frequencies.

    Example (edges 0, 1, 2: sample [0.5, 0.5, 1.5] counts (2, 1)):
        >>> densities([[0.5, 0.5, 1.5]], [0.0, 1.0, 2.0], pseudocount=0.5).tolist()
        [[0.625, 0.375]]
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.diff(edges) > 0):
        raise ConfigurationError(f"edges must be at least two strictly increasing values, got {edges!r:.80}")
    if not pseudocount >= 0:
        raise ConfigurationError(f"pseudocount must be >= 0, got {pseudocount!r}")
    counts = np.array([np.histogram(np.asarray(s, dtype=np.float64), bins=edges)[0] for s in samples], dtype=np.float64)
    smoothed = counts + pseudocount
    totals = smoothed.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        raise ConfigurationError("a sample has no value inside the edges and pseudocount is 0: its density is undefined")
    return smoothed / totals


def kl_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Kullback-Leibler divergence ``sum p log(p / q)`` (nats); terms with ``p = 0`` are 0.

    Example (p = (1/2, 1/2), q = (1/4, 3/4): KL = (1/2) ln 2 + (1/2) ln(2/3)):
        >>> round(kl_divergence([0.5, 0.5], [0.25, 0.75]), 6)
        0.143841
    """
    p, q = _probabilities(p, q)
    return float(np.sum(rel_entr(p, q)))


def jeffreys_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jeffreys divergence, the symmetric KL: ``KL(p||q) + KL(q||p) = sum (p - q) log(p / q)``.

    Example (p = (5/6, 1/6), q = (1/6, 5/6): J = (4/6) ln 5 + (4/6) ln 5 = (4/3) ln 5):
        >>> round(jeffreys_divergence([5 / 6, 1 / 6], [1 / 6, 5 / 6]), 4)
        2.1459
    """
    return kl_divergence(p, q) + kl_divergence(q, p)


def js_divergence(p: npt.ArrayLike, q: npt.ArrayLike) -> float:
    """Jensen-Shannon divergence ``(KL(p||m) + KL(q||m)) / 2`` with ``m = (p + q) / 2``, in [0, ln 2].

    Example (disjoint supports give the maximum, ln 2):
        >>> round(js_divergence([1.0, 0.0], [0.0, 1.0]), 6) == round(float(np.log(2)), 6)
        True
    """
    p, q = _probabilities(p, q)
    m = (p + q) / 2
    return (kl_divergence(p, m) + kl_divergence(q, m)) / 2


#: the divergences `divergence_matrix` knows, by name
MEASURES: dict[str, Measure] = {"jeffreys": jeffreys_divergence, "jensen_shannon": js_divergence}


def divergence_matrix(
    samples: Sequence[npt.ArrayLike],
    measure: str = "jeffreys",
    bins: int = 32,
    spacing: Spacing = "linear",
    pseudocount: float = 0.5,
) -> np.ndarray:
    """Divergence between every pair of ``samples``, on one grid from `grid_edges` (symmetric, zero diagonal).

    Example (two samples on 2 linear bins: densities (5/6, 1/6) and (1/6, 5/6)):
        >>> divergence_matrix([[0.0, 0.0], [1.0, 1.0]], bins=2).round(4).tolist()
        [[0.0, 2.1459], [2.1459, 0.0]]
    """
    if measure not in MEASURES:
        raise ConfigurationError(f"measure must be one of {sorted(MEASURES)}, got {measure!r}")
    p = densities(samples, grid_edges(samples, bins, spacing), pseudocount)
    n = len(samples)
    matrix = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            matrix[i, j] = matrix[j, i] = MEASURES[measure](p[i], p[j])
    return matrix


#: how `sample_divergences` can estimate the two densities, by name (see the module's docstring)
ESTIMATORS: tuple[Estimator, ...] = ("histogram", "kde", "kde_reference")
#: grid points of the KDE estimators (the reference code's 1000)
KDE_POINTS = 1000
#: how far past the data, in bandwidths, the ``"kde"`` grid reaches (the kernels' mass beyond: < 1e-7)
KDE_REACH = 5.5


def sample_divergences(
    a: npt.ArrayLike, b: npt.ArrayLike, bins: int = 32, estimator: Estimator = "histogram"
) -> dict[str, object]:
    """The ``estimator``, the number of bins (grid points for a KDE) and every divergence of
    `MEASURES` between samples ``a`` and ``b``.

    ``"histogram"``: the two samples are compared on a grid of their own: equal-mass bins
    (`grid_edges` with ``spacing="quantile"``), ``min(bins, isqrt(n))`` of them and at least 2,
    ``n`` the smaller sample (so that a handful of values is not spread over 32 bins), with half a
    pseudocount per bin. ``Graph.compare`` and the ensemble analysis use this by default.
    ``"kde"`` and ``"kde_reference"``: see `kde_densities` (``bins`` is not used); the reference's
    variant defines no Jensen-Shannon divergence (NaN). A Jeffreys divergence of KDEs is infinite
    when the samples lie so far apart that one density underflows to 0 where the other does not.

    Example (two samples on 2 bins: densities (5/6, 1/6) and (1/6, 5/6), J = (4/3) ln 5):
        >>> result = sample_divergences([0.0, 0.0], [1.0, 1.0])
        >>> result["estimator"], result["bins"], round(result["jeffreys"], 4)
        ('histogram', 2, 2.1459)
        >>> sample_divergences([0.0, 1.0], [1.0, 0.0])["jeffreys"]
        0.0

    The reference's variant depends on the data's range, the normalised KDE does not:
        >>> a, b = [0.0, 1.0, 2.0, 4.0], [1.0, 2.0, 3.0, 3.5]
        >>> kde = sample_divergences(a, b, estimator="kde")["jeffreys"]
        >>> round(sample_divergences([10 * x for x in a], [10 * x for x in b], estimator="kde")["jeffreys"] / kde, 6)
        1.0
        >>> reference = sample_divergences(a, b, estimator="kde_reference")["jeffreys"]
        >>> round(sample_divergences([10 * x for x in a], [10 * x for x in b], estimator="kde_reference")["jeffreys"] / reference, 6)
        0.1
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ConfigurationError(f"both samples need values to be compared, got {a.size} and {b.size}")
    if estimator == "histogram":
        chosen = max(2, min(whole_number("bins", bins), math.isqrt(min(a.size, b.size))))
        p, q = densities([a, b], grid_edges([a, b], chosen, spacing="quantile"), pseudocount=0.5)
    elif estimator in ("kde", "kde_reference"):
        p, q = kde_densities([a, b], reference=estimator == "kde_reference")
        if estimator == "kde_reference":
            jeffreys = float(np.sum(rel_entr(p, q) + rel_entr(q, p)))  # where P = 0 its term is 0, as there
            return {"estimator": estimator, "bins": int(p.size), "jeffreys": jeffreys, "jensen_shannon": math.nan}
    else:
        raise ConfigurationError(f"estimator must be one of {list(ESTIMATORS)}, got {estimator!r}")
    return {"estimator": estimator, "bins": int(p.size), **{name: measure(p, q) for name, measure in MEASURES.items()}}


def kde_densities(samples: Sequence[npt.ArrayLike], reference: bool = False) -> np.ndarray:
    """Each sample's Gaussian kernel density estimate (scipy, Scott's bandwidth) on one grid of
    `KDE_POINTS` points (one row per sample).

    By default the grid runs from the smallest value minus `KDE_REACH` bandwidths to the largest
    plus as many (the widest of the samples' bandwidths), and each row is normalised to sum to 1:
    the density times the grid step, so the divergences of `MEASURES` approximate the continuous
    ones. ``reference=True`` reproduces the reference code: ``np.arange(lo, hi, (hi - lo) / 1000)``
    from the smallest to the largest value, and the raw density values (not probabilities).

    Example (one sample: a row of 1000 probabilities):
        >>> p = kde_densities([[0.0, 1.0, 3.0]])
        >>> p.shape, round(float(p.sum()), 12)
        ((1, 1000), 1.0)
    """
    arrays = [np.asarray(s, dtype=np.float64).ravel() for s in samples]
    kernels = []
    for index, values in enumerate(arrays):
        if values.size < 2 or np.ptp(values) == 0 or not np.isfinite(values).all():
            raise ConfigurationError(
                f"sample {index} needs at least two distinct finite values for a kernel density estimate, "
                f"got {values.size} values; use estimator='histogram'"
            )
        kernels.append(gaussian_kde(values))
    pooled = np.concatenate(arrays)
    lo, hi = float(pooled.min()), float(pooled.max())
    if reference:
        grid = np.arange(lo, hi, (hi - lo) / KDE_POINTS)
        return np.array([kernel(grid) for kernel in kernels])
    reach = KDE_REACH * max(math.sqrt(float(kernel.covariance[0, 0])) for kernel in kernels)
    grid = np.linspace(lo - reach, hi + reach, KDE_POINTS)
    values = np.array([kernel(grid) for kernel in kernels])
    return values / values.sum(axis=1, keepdims=True)


def _probabilities(p: npt.ArrayLike, q: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``p`` and ``q`` as float64 vectors of one length, non-negative, each summing to 1."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.ndim != 1:
        raise ConfigurationError(f"p and q must be vectors of one length, got shapes {p.shape} and {q.shape}")
    for name, v in (("p", p), ("q", q)):
        if np.any(v < 0) or not np.isclose(v.sum(), 1.0, rtol=0, atol=1e-9):
            raise ConfigurationError(f"{name} must be a probability vector (>= 0, summing to 1), got sum {v.sum()!r}")
    return p, q
