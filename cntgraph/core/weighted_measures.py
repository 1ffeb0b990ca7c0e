"""Standard weighted-network measures of the neuron graph: absolute strengths, disparity, assortativity.

Complex-network analysis of weighted graphs (Barrat et al., PNAS 101, 3747, 2004; Barthelemy et al.,
Physica A 346, 34, 2005) reads link weights as positive intensities. A network's weights are signed,
so these measures use their absolute values; the CNT strengths of :mod:`cntgraph.core.metrics`
keep the signs. As there, a unit's bias counts as one more link into it.

- `absolute_strength`: ``|s|_in`` and ``|s|_out``, the sums of ``|w|`` into and out of each unit;
- `disparity`: Y_in(j) = sum_i (|w_ij| / |s|_in(j))^2 and Y_out(i) = sum_j (|w_ij| / |s|_out(i))^2,
  between 1/k (equal weights over k links) and 1 (one link carries everything);
- `link_assortativity`: per weighted layer, the Pearson correlation over its links i -> j of the
  out-strength of i and the in-strength of j (and `network_assortativity`, over every link);
  each link counts once, or (``by_weight=True``) in proportion to ``|w_ij|`` (Leung and Chau,
  Physica A 378, 591, 2007). Counted once, a fully connected layer pairs every source with every
  target, so its ``r`` is 0 (up to rounding): only sparse connectivity (convolutions, pooling, recurrence,
  residual paths) or weighting by ``|w|`` can make it differ.

The weighted clustering coefficient is left out: in a chain of layers (MLPs, plain CNNs) links only
join consecutive layers, so no triangle closes and it is identically zero; residual additions do
close some (docs/METRICS.md says which), and it is not computed for them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cntgraph.core.links import layer_links
from cntgraph.core.metrics import link_count, link_sums, unit_table, with_boundary
from cntgraph.core.network import Snapshot, WeightedLayer, dense_snapshot  # noqa: F401 - dense_snapshot: the examples

__all__ = ["absolute_strength", "disparity", "link_assortativity", "network_assortativity"]

#: links enumerated at once by the assortativity sums (bounded memory on any layer)
_CHUNK_LINKS = 1 << 22


def absolute_strength(snapshot: Snapshot) -> pd.DataFrame:
    """One row per unit: ``layer``, ``unit``, ``abs_s_in``, ``abs_s_out``, ``abs_s`` (their sum).

    The sums of ``|w|`` (and ``|b|`` into a unit) with the boundary convention of the CNT strengths
    (input units ``abs_s_in = 1``, units no link leaves ``abs_s_out = 1``), so a network with
    only positive weights has ``abs_s == s``.

    Example (one Linear(2, 1), W = [[1, -3]], b = [0.5]):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> absolute_strength(snap)[["abs_s_in", "abs_s_out", "abs_s"]].values.tolist()
        [[1.0, 1.0, 2.0], [1.0, 3.0, 4.0], [4.5, 1.0, 5.5]]
    """
    strengths = with_boundary(snapshot, link_sums(snapshot, _absolute))
    frame = unit_table(strengths, "abs_s_in", "abs_s_out")
    frame["abs_s"] = frame["abs_s_in"] + frame["abs_s_out"]
    return frame


def disparity(snapshot: Snapshot) -> pd.DataFrame:
    """One row per unit: ``layer``, ``unit``, ``k_in``, ``k_out`` (links in, links out; a bias
    counts as a link in), ``disparity_in``, ``disparity_out``.

    ``disparity_in`` of unit j is ``sum_i (|w_ij| / S)^2`` over its incoming links (and bias),
    ``S = sum_i |w_ij|``: 1/k_in when its k_in links weigh the same, 1 when one link carries all
    the weight. NaN where a unit has no such link (input units in, output units out) or all its
    weights are 0. ``k * disparity`` reads as how many times more concentrated than uniform.

    Example (W = [[1, -3]], b = [0.5] into one unit: (1 + 9 + 0.25) / 4.5^2; out of the two inputs: 1):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> table = disparity(snap)
        >>> table[["layer", "k_in", "k_out"]].values.tolist()
        [[0, 0, 1], [0, 0, 1], [1, 3, 0]]
        >>> round(float(table.disparity_in[2]), 6), table.disparity_out[:2].tolist()
        (0.506173, [1.0, 1.0])
    """
    absolute = link_sums(snapshot, _absolute)
    squares = link_sums(snapshot, _square)
    frame = unit_table(link_sums(snapshot, link_count), "k_in", "k_out").astype({"k_in": np.int64, "k_out": np.int64})
    with np.errstate(divide="ignore", invalid="ignore"):
        for end in ("in", "out"):
            total = np.concatenate([getattr(s, f"s_{end}") for s in absolute])
            square = np.concatenate([getattr(s, f"s_{end}") for s in squares])
            frame[f"disparity_{end}"] = np.where(total > 0, square / total**2, np.nan)
    return frame


def link_assortativity(snapshot: Snapshot, absolute: bool = True, by_weight: bool = False) -> pd.DataFrame:
    """One row per weighted layer (forward order): ``layer`` (1-based, as in `layer_links`),
    ``path``, ``links``, ``r``: the Pearson correlation, over the layer's links i -> j, of the
    out-strength of i and the in-strength of j.

    Each link counts once, or with ``by_weight=True`` in proportion to ``|w_ij|`` (a fully
    connected layer's unweighted ``r`` is 0 up to rounding: it pairs every source with every target).
    The strengths are absolute (`absolute_strength`) or, with ``absolute=False``, the signed CNT
    strengths. Positive ``r``: strong units feed strong units.
    NaN where either strength is the same over all the layer's links (a layer of one link, a
    residual addition's identity links into a layer of equal in-strengths). Exact, in O(links)
    time and bounded memory: the links are enumerated in chunks.

    Example (W = [[1, 1], [0, 2]], b = [0, 2]: inputs of out-strengths 1 and 3 feed outputs of
    in-strengths 2 and 4; a weight of 0 is still a link, so the four links pair up as (1, 2),
    (3, 2), (1, 4), (3, 4): uncorrelated):
        >>> snap = dense_snapshot([[[1.0, 1.0], [0.0, 2.0]]], biases=[[0.0, 2.0]])
        >>> link_assortativity(snap)[["layer", "path", "links", "r"]].values.tolist()
        [[1, '0', 4, 0.0]]

    Weighted by ``|w|`` (1, 1, 0, 2), the link (3, 4) counts twice and (1, 4) not at all: means 2.5
    and 3, r = 2 / sqrt(3 * 4) = 1 / sqrt(3):
        >>> round(float(link_assortativity(snap, by_weight=True).r[0]), 6)
        0.57735
    """
    rows = []
    for index, (layer, links, moments) in enumerate(_layer_moments(snapshot, absolute, by_weight), start=1):
        rows.append({"layer": index, "path": layer.path, "links": links, "r": _pearson(moments)})
    return pd.DataFrame(rows, columns=["layer", "path", "links", "r"])


def network_assortativity(snapshot: Snapshot, absolute: bool = True, by_weight: bool = False) -> float:
    """`link_assortativity` over every link of the network at once (one number).

    In a layered network this mixes layers whose strengths differ in scale, which alone makes
    ``r`` positive or negative; the per-layer values say more.

    Example (one layer: the same as its row of `link_assortativity`):
        >>> network_assortativity(dense_snapshot([[[1.0, 1.0], [0.0, 2.0]]], biases=[[0.0, 2.0]]))
        0.0
    """
    total = np.zeros(6)
    for _, _, moments in _layer_moments(snapshot, absolute, by_weight):
        total = _combined(total, moments)
    return _pearson(total)


def _absolute(layer: WeightedLayer, values: np.ndarray) -> np.ndarray:
    return np.abs(values)


def _square(layer: WeightedLayer, values: np.ndarray) -> np.ndarray:
    return values * values


def _layer_moments(snapshot: Snapshot, absolute: bool, by_weight: bool) -> list[tuple[WeightedLayer, int, np.ndarray]]:
    """Per weighted layer, its number of links and the `_moments` over them of x (the source's
    out-strength) and y (the target's in-strength), each link weighing 1 or ``|w|``, built chunk by chunk."""
    topology = snapshot.topology
    strengths = with_boundary(snapshot, link_sums(snapshot, _absolute if absolute else None))
    fan_in = link_sums(snapshot, link_count)
    result = []
    for index, layer in enumerate(topology.layers, start=1):
        x_all = np.concatenate([strengths[source].s_out for source in layer.sources])
        y_all = strengths[layer.index].s_in
        units = math.prod(layer.out_shape)
        step = max(1, int(_CHUNK_LINKS // max(1.0, float(fan_in[layer.index].s_in.max(initial=1.0)))))
        links, moments = 0, np.zeros(6)
        for start in range(0, units, step):
            src, dst, w = layer_links(snapshot, index, dst_units=np.arange(start, min(start + step, units)))
            links += src.size
            moments = _combined(moments, _moments(x_all[src], y_all[dst], np.abs(w) if by_weight else np.ones_like(w)))
        result.append((layer, links, moments))
    return result


def _moments(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(total weight n, weighted means of x and y, weighted sums of (x - mean)^2, (y - mean)^2
    and of the centred products)."""
    n = weight.sum()
    if n == 0:
        return np.zeros(6)
    mean_x, mean_y = weight @ x / n, weight @ y / n
    dx, dy = x - mean_x, y - mean_y
    wx = weight * dx
    return np.array([n, mean_x, mean_y, wx @ dx, (weight * dy) @ dy, wx @ dy])


def _combined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The `_moments` of two sets of weighted pairs joined (Chan, Golub and LeVeque's pairwise update)."""
    n = a[0] + b[0]
    if a[0] == 0 or b[0] == 0:
        return b.copy() if a[0] == 0 else a.copy()
    delta_x, delta_y = b[1] - a[1], b[2] - a[2]
    weight = a[0] * b[0] / n
    return np.array([
        n,
        a[1] + delta_x * b[0] / n,
        a[2] + delta_y * b[0] / n,
        a[3] + b[3] + delta_x * delta_x * weight,
        a[4] + b[4] + delta_y * delta_y * weight,
        a[5] + b[5] + delta_x * delta_y * weight,
    ])


def _pearson(moments: np.ndarray) -> float:
    """Pearson r from `_moments`; NaN when x or y does not vary (beyond rounding)."""
    n, mean_x, mean_y, m2x, m2y, cxy = moments
    if n == 0 or m2x <= n * (1e-12 * max(1.0, abs(mean_x))) ** 2 or m2y <= n * (1e-12 * max(1.0, abs(mean_y))) ** 2:
        return math.nan
    return float(cxy / math.sqrt(m2x * m2y))
