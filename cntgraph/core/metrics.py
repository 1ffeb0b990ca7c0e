"""CNT metrics of a network's weights: node strength, layer fluctuation, link-weight distributions.

Pure functions of a :class:`~cntgraph.core.network.Snapshot` (numpy only; for a PyTorch model,
:mod:`cntgraph.model.metrics` traces and snapshots it first). Definitions follow
``cnt-metrics.md``: signed sums in float64, units in flat (C, H, W) order, input units have
``s_in = 1`` and last-layer units ``s_out = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from cntgraph.checks import whole_number
from cntgraph.core.network import (  # noqa: F401 - dense_snapshot: the examples
    ADAPTIVE_POOLS,
    IDENTITY,
    NORM_KINDS,
    POSITIONS,
    POSITIONWISE,
    RECURRENT_KINDS,
    TRANSPOSED_KINDS,
    Snapshot,
    WeightedLayer,
    dense_snapshot,
    forward_conv,
    recurrent_block,
)
from cntgraph.errors import ConfigurationError, MetricError

__all__ = [
    "Strengths",
    "layer_strengths",
    "link_sums",
    "with_boundary",
    "link_count",
    "node_strength",
    "unit_table",
    "layer_fluctuation",
    "link_weights",
    "layer_parameters",
    "parameter_table",
    "summary_stats",
    "histogram",
    "fixed_bins",
    "per_unit",
]

Bins = int | npt.ArrayLike | None
#: one weighted layer's parameters: (layer index 1..K, module path, weights then biases, flat float64)
LayerParameters = tuple[int, str, np.ndarray]
#: what one link (one bias) of a weighted layer contributes to a sum over links, given the layer and its weight (or bias) array
LinkValue = Callable[[WeightedLayer, np.ndarray], np.ndarray]

QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.50, "q75": 0.75, "q95": 0.95}


class Strengths(NamedTuple):
    """In- and out-strength of every unit of one node layer (flat float64 arrays)."""

    s_in: np.ndarray
    s_out: np.ndarray


def layer_strengths(snapshot: Snapshot) -> list[Strengths]:
    """``s_in`` and ``s_out`` of node layers 0..K, with the boundary convention.

    A unit's ``s_in`` sums every link into it (from all the node layers that feed its layer) and
    its bias; ``s_out`` sums every link out of it. Input units have ``s_in = 1``, and the units of
    the output layer (the one no link leaves) ``s_out = 1``.

    Example (one Linear(2, 1): W = [[1, -3]], b = [0.5]):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> [(s.s_in.tolist(), s.s_out.tolist()) for s in layer_strengths(snap)]
        [([1.0, 1.0], [1.0, -3.0]), ([-1.5], [1.0])]
    """
    return with_boundary(snapshot, link_sums(snapshot))


def link_sums(snapshot: Snapshot, value: LinkValue | None = None) -> list[Strengths]:
    """Per node layer, the sums of ``value`` over every link into and out of each unit (biases
    count into their unit), without the boundary convention: input units get 0 in, sinks 0 out.

    ``value(layer, array)`` maps a weighted layer's weight array, and its bias array, to the
    value each link (each bias) contributes: the weight itself by default, ``np.abs`` for
    absolute strengths, a square for sums of squares, `link_count` for the number of links.

    Example (one Linear(2, 1): W = [[1, -3]], b = [0.5]; squares: 1 + 9 + 0.25 in, 1 and 9 out):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> [(s.s_in.tolist(), s.s_out.tolist()) for s in link_sums(snap, lambda layer, a: a**2)]
        [([0.0, 0.0], [1.0, 9.0]), ([10.25], [0.0])]
    """
    topology = snapshot.topology
    s_in = [np.zeros(node.size) for node in topology.node_layers]
    s_out = [np.zeros(node.size) for node in topology.node_layers]
    for layer, weight, bias in zip(topology.layers, snapshot.weights, snapshot.biases, strict=True):
        if value is not None:
            weight, bias = value(layer, weight), None if bias is None else value(layer, bias)
        into, out_of = _link_strengths(layer, weight, bias)
        s_in[layer.index] += into
        for source, part in zip(layer.sources, np.split(out_of, topology.source_offsets(layer)[1:-1]), strict=True):
            s_out[source] += part
    return [Strengths(i, o) for i, o in zip(s_in, s_out, strict=True)]


def with_boundary(snapshot: Snapshot, sums: list[Strengths]) -> list[Strengths]:
    """``sums`` (from `link_sums`) with the boundary convention: ``s_in = 1`` for input units,
    ``s_out = 1`` for the units of every node layer no link leaves (a new list; ``sums`` is kept)."""
    topology = snapshot.topology
    return [
        Strengths(
            np.ones(node.size) if node.index == 0 else sums[node.index].s_in,
            np.ones(node.size) if node.index in topology.sinks else sums[node.index].s_out,
        )
        for node in topology.node_layers
    ]


def link_count(layer: WeightedLayer, values: np.ndarray) -> np.ndarray:
    """1.0 for every link (and bias) of ``layer``: the `link_sums` value that counts them.

    An adaptive pooling's weight matrix holds zeros where an output pixel's window leaves an input
    pixel out; those are not links. Everywhere else a weight of 0 is still a link.

    Example:
        >>> fc = WeightedLayer(1, "fc", "linear", (2,), (1,), (), (), (), 1, True, ())
        >>> link_count(fc, np.array([[0.0, 2.0]])).tolist()
        [[1.0, 1.0]]
    """
    return (values != 0).astype(np.float64) if layer.kind in ADAPTIVE_POOLS else np.ones_like(values)


def node_strength(snapshot: Snapshot) -> pd.DataFrame:
    """One row per unit of every node layer: ``layer``, ``unit``, ``s_in``, ``s_out``, ``s``.

    ``unit`` is the flat (C, H, W) index inside the layer; layer 0 is the input.

    Example: W1 = [[1, 2], [3, 4]], b1 = [0.5, -0.5], W2 = [[1, -1]], b2 = [2]. Input units have
    s_in = 1 and s_out = the column sums of W1 (4, 6); hidden units have s_in = row sums + bias
    (3.5, 6.5) and s_out = the columns of W2 (1, -1); the output unit has s_in = 0 + 2 and s_out = 1.
        >>> snap = dense_snapshot([[[1.0, 2.0], [3.0, 4.0]], [[1.0, -1.0]]], biases=[[0.5, -0.5], [2.0]])
        >>> df = node_strength(snap)
        >>> df[["layer", "unit"]].values.tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1], [2, 0]]
        >>> df.s_out.tolist(), df.s.tolist()
        ([4.0, 6.0, 1.0, -1.0, 1.0], [5.0, 7.0, 4.5, 5.5, 3.0])
    """
    table = unit_table(layer_strengths(snapshot))
    table["s"] = table["s_in"].to_numpy() + table["s_out"].to_numpy()
    return table


def unit_table(strengths: Sequence[Strengths], name_in: str = "s_in", name_out: str = "s_out") -> pd.DataFrame:
    """One row per unit of every node layer: ``layer``, ``unit`` (flat index inside the layer),
    then each unit's ``s_in`` and ``s_out`` of ``strengths`` under the names given.

    Example:
        >>> unit_table([Strengths(np.ones(2), np.zeros(2)), Strengths(np.zeros(1), np.ones(1))], "k_in", "k_out").values.tolist()
        [[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]]
    """
    sizes = np.array([len(s.s_in) for s in strengths], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    unit = np.arange(int(sizes.sum()), dtype=np.int64)
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        unit[start : start + size] -= start  # in place: one array, not one per layer
    return pd.DataFrame(
        {
            "layer": np.repeat(np.arange(len(sizes), dtype=np.int64), sizes),
            "unit": unit,
            name_in: np.concatenate([s.s_in for s in strengths]),
            name_out: np.concatenate([s.s_out for s in strengths]),
        },
        copy=False,  # every column is a new array of its own: no need to copy them into one block
    )


def layer_fluctuation(snapshot: Snapshot) -> pd.DataFrame:
    """Population standard deviation (ddof=0) of node strength ``s`` in every node layer 0..K.

    Example (one Linear(2, 1), W = [[1, -3]], b = [0.5]: s = (1 + 1, 1 - 3) and (-1.5 + 1)):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> layer_fluctuation(snap).values.tolist()
        [[0.0, 2.0], [1.0, 0.0]]
    """
    strengths = layer_strengths(snapshot)
    return pd.DataFrame(
        {
            "layer": np.arange(len(strengths), dtype=np.int64),
            "fluctuation": [float(np.std(s.s_in + s.s_out)) for s in strengths],
        }
    )


def link_weights(snapshot: Snapshot, bins: Bins = None) -> pd.DataFrame:
    """Distribution of the link weights (all weights and biases of the links into it) of every node layer 1..K.

    Columns: ``layer``, ``path``, the `summary_stats` columns, ``hist_counts`` and ``hist_edges``
    (arrays; see `histogram` for ``bins``; pass the same edges, e.g. from `fixed_bins`, at every
    epoch of a run). Layers are in forward order.

    Example (one Linear(2, 1), W = [[1, -3]], b = [0.5]: the values 1, -3 and 0.5):
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> df = link_weights(snap, bins=fixed_bins(-4.0, 2.0, 3))
        >>> df[["layer", "path", "count", "mean", "min", "max"]].values.tolist()
        [[1, '0', 3, -0.5, -3.0, 1.0]]
        >>> df.hist_counts[0].tolist()
        [1, 0, 2]
    """
    return parameter_table(layer_parameters(snapshot), bins)


def parameter_table(parameters: Sequence[LayerParameters], bins: Bins = None) -> pd.DataFrame:
    """The rows of `link_weights` for any list of (layer index, path, flat parameters).

    Example:
        >>> parameter_table([(1, "fc", np.array([1.0, -1.0]))], bins=2)[["layer", "path", "mean"]].values.tolist()
        [[1, 'fc', 0.0]]
    """
    rows = []
    for index, path, values in parameters:
        counts, edges = histogram(values, bins)
        rows.append(
            {
                "layer": index,
                "path": path,
                **summary_stats(values),
                "hist_counts": counts,
                "hist_edges": edges,
            }
        )
    return pd.DataFrame(rows)


def layer_parameters(snapshot: Snapshot) -> list[LayerParameters]:
    """(node layer index 1..K, name, the weights then biases of its incoming links as one flat
    float64 array) per node layer, in forward order.

    The multiset behind `link_weights`. A node layer fed by several weighted layers (a residual
    addition: one set of identity links per operand) gets their values one set after the other.

    Example:
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> [(index, path, values.tolist()) for index, path, values in layer_parameters(snap)]
        [(1, '0', [1.0, -3.0, 0.5])]
    """
    values: dict[int, list[np.ndarray]] = {}
    for layer, weight, bias in zip(snapshot.topology.layers, snapshot.weights, snapshot.biases, strict=True):
        links = np.tile(weight[weight != 0], layer.in_shape[0]) if layer.kind in ADAPTIVE_POOLS else weight.ravel()
        values.setdefault(layer.index, []).extend([links, bias if bias is not None else np.empty(0)])
    return [(node.index, node.name, np.concatenate(values[node.index])) for node in snapshot.topology.node_layers[1:]]


def summary_stats(values: npt.ArrayLike) -> dict[str, float]:
    """``count``, ``mean``, ``std`` (ddof=0), ``min``, ``max`` and quantiles ``q05``..``q95``.

    Example:
        >>> stats = summary_stats([1.0, 2.0, 3.0, 4.0, 5.0])
        >>> stats["count"], stats["mean"], stats["std"], stats["q05"], stats["q50"], stats["q95"]
        (5, 3.0, 1.4142135623730951, 1.2, 3.0, 4.8)
        >>> list(stats)
        ['count', 'mean', 'std', 'min', 'max', 'q05', 'q25', 'q50', 'q75', 'q95']
    """
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise MetricError("summary_stats needs at least one value")
    quantiles = np.quantile(array, list(QUANTILES.values()))
    return {
        "count": array.size,
        "mean": float(array.mean()),
        "std": float(array.std()),
        "min": float(array.min()),
        "max": float(array.max()),
        **{name: float(q) for name, q in zip(QUANTILES, quantiles, strict=True)},
    }


def histogram(values: npt.ArrayLike, bins: Bins = None) -> tuple[np.ndarray, np.ndarray]:
    """Counts (int64) and edges (float64) of ``values``.

    ``bins`` is a number of equal-width bins over the values' own range (None: 10), or the bin
    edges, strictly increasing. With fixed edges, values outside ``[edges[0], edges[-1]]`` are not
    counted (``len(values) - counts.sum()`` of them).

    Example:
        >>> counts, edges = histogram([0.1, 0.2, 0.7, 3.0], fixed_bins(0.0, 1.0, 2))
        >>> counts.tolist(), edges.tolist()
        ([2, 1], [0.0, 0.5, 1.0])
    """
    checked = _checked_bins(bins)
    array = np.asarray(values, dtype=np.float64)
    if isinstance(checked, np.ndarray) and np.array_equal(checked, np.linspace(checked[0], checked[-1], checked.size)):
        # the edges of fixed_bins: numpy's equal-width path counts the same bins without sorting the values
        counts, edges = np.histogram(array, bins=checked.size - 1, range=(checked[0], checked[-1]))
    else:
        counts, edges = np.histogram(array, bins=checked)
    return counts.astype(np.int64), edges.astype(np.float64)


def fixed_bins(lo: float, hi: float, n: int) -> np.ndarray:
    """``n`` equal-width bins from ``lo`` to ``hi``, as ``n + 1`` edges to reuse for a whole run.

    Example:
        >>> fixed_bins(-1.0, 1.0, 4).tolist()
        [-1.0, -0.5, 0.0, 0.5, 1.0]
    """
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ConfigurationError(f"fixed_bins needs finite lo < hi, got {lo}, {hi}")
    whole_number("fixed_bins(n)", n)
    return np.linspace(lo, hi, n + 1)


def _checked_bins(bins: Bins) -> int | np.ndarray:
    """``bins`` as np.histogram takes it: a positive number of bins, or finite increasing edges."""
    if bins is None:
        return 10
    if isinstance(bins, (int, np.integer)):
        return whole_number("the number of bins", bins)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.isfinite(edges).all() and np.all(np.diff(edges) > 0)):
        raise ConfigurationError(f"bin edges must be finite and strictly increasing, got {edges!r:.80}")
    return edges


def per_unit(layer: WeightedLayer, values: np.ndarray) -> np.ndarray:
    """Values of ``layer`` given per output channel (a bias, a norm's weight) for every unit of its
    output: a channel's for each of its pixels, a feature's at every position (``"positionwise"``);
    values already given per unit are returned as they are.

    Example:
        >>> fc = WeightedLayer(1, "fc", "positionwise", (3, 2), (3, 2), (), (), (), 1, True, ())
        >>> per_unit(fc, np.array([1.0, 2.0])).tolist()
        [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    """
    copies = math.prod(layer.out_shape) // values.size
    return np.tile(values, copies) if layer.kind == POSITIONWISE else np.repeat(values, copies)


def _link_strengths(layer: WeightedLayer, weight: np.ndarray, bias: np.ndarray | None) -> Strengths:
    """The sums of ``layer``'s links (and bias) into each of its output units, and out of each of its
    (concatenated) input units."""
    if layer.kind == IDENTITY:
        return Strengths(weight.copy(), weight.copy())
    if layer.kind in NORM_KINDS:  # one link per unit, its channel's (or its own) weight
        s_out = per_unit(layer, weight)
        return Strengths(s_out if bias is None else s_out + per_unit(layer, bias), s_out.copy())
    if layer.kind in ADAPTIVE_POOLS:  # the same windows in every channel
        channels = layer.in_shape[0]
        return Strengths(np.tile(weight.sum(axis=1), channels), np.tile(weight.sum(axis=0), channels))
    if layer.kind == POSITIONWISE:  # the same matrix at every position
        positions = layer.in_shape[0]
        s_in = weight.sum(axis=1) if bias is None else weight.sum(axis=1) + bias
        return Strengths(np.tile(s_in, positions), np.tile(weight.sum(axis=0), positions))
    if layer.kind in RECURRENT_KINDS:  # from each time step to the next (back: to the previous) on one block of features
        steps, features = layer.out_shape
        first, hidden, step = recurrent_block(layer)
        into, out_of = np.zeros((steps, features)), np.zeros((steps, features))
        receiving = slice(1, steps) if step < 0 else slice(0, steps - 1)  # the first step (back: the last) gets none
        sending = slice(0, steps - 1) if step < 0 else slice(1, steps)
        into[receiving, first : first + hidden] = weight.sum(axis=1)
        out_of[sending, first : first + hidden] = weight.sum(axis=0)
        return Strengths(into.ravel(), out_of.ravel())
    if layer.kind == POSITIONS:  # the same mean over positions for every feature
        features = layer.in_shape[1]
        return Strengths(np.repeat(weight.sum(axis=1), features), np.repeat(weight.sum(axis=0), features))
    if layer.kind == "linear":
        s_in = weight.sum(axis=1)
        return Strengths(s_in if bias is None else s_in + bias, weight.sum(axis=0))
    if layer.kind in TRANSPOSED_KINDS:  # the forward convolution's sums, roles swapped
        into_inputs, out_of_outputs = _conv_strengths(forward_conv(layer), weight, None)
        s_in = out_of_outputs if bias is None else out_of_outputs + per_unit(layer, bias)
        return Strengths(s_in, into_inputs)
    return _conv_strengths(layer, weight, bias)


def _conv_strengths(layer: WeightedLayer, weight: np.ndarray, bias: np.ndarray | None) -> Strengths:
    """Exact conv strengths (any number of spatial axes), links into padding excluded, by separable sums.

    A link (c_in, p, q) -> (c_out, y, x) through kernel tap (u, v) exists when the channels share a
    group, p = y*s - pad + u*d is a row of the input, and q likewise a column (and so on for a third
    axis). The axes' conditions are independent, so with ``K_in`` the kernel summed over input
    channels, ``s_in[c_out, y, x] = b + sum_uv rows[y, u] K_in[c_out, u, v] cols[x, v]``, and
    ``s_out`` the same with ``K_out`` summed over each group's output channels. These are the sums
    of the spec's ``conv2d``/``conv_transpose2d`` of ones, in O(C H W k) single-threaded work, which
    does not compete with a training process for torch's threads.
    """
    c_in, c_out = layer.in_shape[0], layer.out_shape[0]
    kernel = weight.shape[2:]
    # (C_out, *kernel): einsum, as numpy's sum over a middle axis is several times slower on a kernel of a few taps
    k_in = np.einsum("oik->ok", weight.reshape(c_out, weight.shape[1], -1)).reshape(c_out, *kernel)
    k_out = weight.reshape(layer.groups, c_out // layer.groups, -1, *kernel).sum(axis=1).reshape(c_in, *kernel)
    taps = [_axis_taps(n_in, n_out, layer, axis)
            for axis, (n_in, n_out) in enumerate(zip(layer.in_shape[1:], layer.out_shape[1:], strict=True))]  # fmt: skip
    s_in, s_out = k_in, k_out
    for axis, (into, out_of) in enumerate(taps):  # contract kernel axis 1 + axis with the positions it reaches
        s_in = np.moveaxis(np.tensordot(s_in, into, axes=([1 + axis], [1])), -1, 1 + axis)
        s_out = np.moveaxis(np.tensordot(s_out, out_of, axes=([1 + axis], [1])), -1, 1 + axis)
    if bias is not None:
        s_in = s_in + bias.reshape(-1, *([1] * len(kernel)))
    return Strengths(s_in.reshape(-1), s_out.reshape(-1))


def _axis_taps(n_in: int, n_out: int, layer: WeightedLayer, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Along one axis, 1.0 where kernel tap u links an output and an input position, else 0.0.

    Returns ``into[o, u]`` (output position o reaches an input position through tap u) and
    ``out_of[i, u]`` (input position i reaches some output position through tap u).
    """
    stride, pad, dilation = layer.stride[axis], layer.padding[axis], layer.dilation[axis]
    out_pos, tap = np.ogrid[:n_out, : layer.kernel_size[axis]]
    in_pos = out_pos * stride - pad + tap * dilation
    inside = (in_pos >= 0) & (in_pos < n_in)
    out_of = np.zeros((n_in, layer.kernel_size[axis]))
    out_of[in_pos[inside], np.broadcast_to(tap, inside.shape)[inside]] = 1.0
    return inside.astype(np.float64), out_of
