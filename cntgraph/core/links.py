"""The actual links of one weighted layer, as flat arrays, found by index arithmetic.

Units are flat (C, H, W) indices of the layer's input (its source node layers, concatenated) and of
its destination node layer. A Conv2d link
exists only where the kernel lands inside the input (links into padding do not exist) and the
input channel is in the output channel's group. Memory is O(number of candidate pairs enumerated
from the smaller side), so restrict ``src_units``/``dst_units`` for big layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cntgraph.core.metrics import per_unit
from cntgraph.core.network import (  # noqa: F401 - NodeLayer, Topology: the example
    ADAPTIVE_POOLS,
    IDENTITY,
    NORM_KINDS,
    POSITIONS,
    POSITIONWISE,
    RECURRENT_KINDS,
    TRANSPOSED_KINDS,
    NodeLayer,
    Snapshot,
    Topology,
    WeightedLayer,
    forward_conv,
    recurrent_block,
)
from cntgraph.errors import ConfigurationError

__all__ = ["layer_links", "stored_links"]

Links = tuple[np.ndarray, np.ndarray, np.ndarray]
SourcedLinks = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def layer_links(
    snapshot: Snapshot,
    layer_index: int,
    src_units: npt.ArrayLike | None = None,
    dst_units: npt.ArrayLike | None = None,
) -> Links:
    """All links ``src -> dst`` of the ``layer_index``-th weighted layer (1-based, in forward order:
    ``snapshot.topology.layers[layer_index - 1]``; in a chain, the one into node layer
    ``layer_index``) and their weights.

    ``src_units`` (units of the layer's input: its source node layers, concatenated) and
    ``dst_units`` (units of its destination node layer) restrict both ends; None means all units. Returns ``(src, dst, w)``: int64, int64, float64 arrays,
    ordered by ``dst`` then ``src``. Summed per unit they give the strengths, minus biases.

    Example (a 1 -> 1 channel 2x2 kernel on a 3x3 input with padding 1: the corner output
    (0, 0) sees only input pixel (0, 0), through kernel entry (1, 1) = 4):
        >>> conv = WeightedLayer(1, "conv", "conv2d", (1, 3, 3), (1, 4, 4), (1, 1), (1, 1), (1, 1), 1, False, (2, 2))
        >>> topo = Topology((NodeLayer(0, "input", (1, 3, 3), 9), NodeLayer(1, "conv", (1, 4, 4), 16)), (conv,))
        >>> snap = Snapshot(topo, weights=(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),), biases=(None,))
        >>> src, dst, w = layer_links(snap, 1, dst_units=[0, 1])
        >>> src.tolist(), dst.tolist(), w.tolist()
        ([0, 0, 1], [0, 1, 1], [4.0, 3.0, 4.0])
    """
    layers = snapshot.topology.layers
    if not (isinstance(layer_index, (int, np.integer)) and 1 <= layer_index <= len(layers)):
        raise ConfigurationError(
            f"layer_index must be a weighted layer index 1..{len(layers)}, got {layer_index!r}"
        )
    layer = layers[layer_index - 1]
    weight = snapshot.weights[layer_index - 1]
    n_src = math.prod(layer.in_shape)
    src = _units(src_units, n_src, "src_units")
    n_dst = math.prod(layer.out_shape)
    dst = _units(dst_units, n_dst, "dst_units")
    if layer.kind == "linear":
        return np.tile(src, dst.size), np.repeat(dst, src.size), weight[np.ix_(dst, src)].ravel()
    if layer.kind == IDENTITY or layer.kind in NORM_KINDS:  # unit i -> unit i
        both = np.intersect1d(src, dst)
        return both, both.copy(), per_unit(layer, weight)[both]
    if layer.kind in ADAPTIVE_POOLS:  # the windows matrix in every channel: channel-major units (c, pixel)
        return _either_end(weight, weight != 0, src, dst, n_src, n_dst, _inner)
    if layer.kind == POSITIONWISE:  # the weight at every position: units (position, feature)
        return _either_end(weight, np.ones(weight.shape, dtype=bool), src, dst, n_src, n_dst, _inner)
    if layer.kind in RECURRENT_KINDS:  # the weight from each time step to the next (or the previous): units (time step, feature)
        steps, features = layer.out_shape
        first, hidden, step = recurrent_block(layer)
        time, feature = np.divmod(dst, features)
        into = dst[(feature >= first) & (feature < first + hidden) & (time + step >= 0) & (time + step < steps)]
        return _matrix_links(weight, np.ones(weight.shape, dtype=bool), src, into, n_src, _neighbour(features, first, step))
    if layer.kind == POSITIONS:  # a mean over positions, for every feature: units (position, feature)
        features = layer.in_shape[1]
        return _either_end(weight, weight != 0, src, dst, n_src, n_dst, lambda _: _outer(features))
    if layer.kind in TRANSPOSED_KINDS:  # the forward convolution's links, reversed
        back_src, back_dst, w = _conv_links(forward_conv(layer), weight, dst, src)
        order = np.lexsort((back_dst, back_src))  # by dst, then src, of the transposed layer
        return back_dst[order], back_src[order], w[order]
    return _conv_links(layer, weight, src, dst)


def stored_links(snapshot: Snapshot, layer_index: int, samples: Sequence[np.ndarray]) -> SourcedLinks:
    """The links of the ``layer_index``-th weighted layer between the sampled units of node layers,
    ``samples[i]`` being node layer i's: ``(src_layer, src, dst, w)``, the source named by its node
    layer and its unit there, ordered as `layer_links` orders them.

    Example (``y = fc(x) + x``: the identity links from the input into the addition):
        >>> from cntgraph.core.network import NodeLayer, Topology
        >>> nodes = tuple(NodeLayer(i, name, (3,), 3) for i, name in enumerate(["input", "fc", "add"]))
        >>> fc = WeightedLayer(1, "fc", "linear", (3,), (3,), (), (), (), 1, False, ())
        >>> skip_fc, skip_x = (WeightedLayer(2, "add", "identity", (3,), (3,), (), (), (), 1, False, (), sources=(s,)) for s in (1, 0))
        >>> snap = Snapshot(Topology(nodes, (fc, skip_fc, skip_x)), (np.eye(3), np.ones(3), np.ones(3)), (None,) * 3)
        >>> [a.tolist() for a in stored_links(snap, 3, [np.array([0, 2]), np.array([1]), np.array([0, 1])])]
        [[0], [0], [0], [1.0]]
    """
    layer = snapshot.topology.layers[layer_index - 1]
    offsets = snapshot.topology.source_offsets(layer)
    src_units = np.concatenate([samples[s] + offset for s, offset in zip(layer.sources, offsets, strict=False)])
    src, dst, w = layer_links(snapshot, layer_index, src_units, samples[layer.index])
    which = np.searchsorted(offsets, src, side="right") - 1
    return np.asarray(layer.sources, dtype=np.int64)[which], src - offsets[which], dst, w


def _units(units: npt.ArrayLike | None, size: int, name: str) -> np.ndarray:
    """Sorted unique int64 units in 0..size-1 (all of them for None)."""
    if units is None:
        return np.arange(size, dtype=np.int64)
    array = np.asarray(units)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ConfigurationError(f"{name} must be a 1-d array of int unit indices, got {array!r:.80}")
    array = np.unique(array.astype(np.int64))
    if array.size and (array[0] < 0 or array[-1] >= size):
        raise ConfigurationError(f"{name} must lie in 0..{size - 1}, got {array[0]}..{array[-1]}")
    return array


def _conv_links(layer: WeightedLayer, weight: np.ndarray, src: np.ndarray, dst: np.ndarray) -> Links:
    """Enumerate the links at whichever end has fewer candidates, keep those whose other end is wanted."""
    per_dst = (layer.in_shape[0] // layer.groups) * math.prod(layer.kernel_size)
    per_src = (layer.out_shape[0] // layer.groups) * math.prod(layer.kernel_size)
    from_dst = dst.size * per_dst <= src.size * per_src
    if from_dst:
        link_src, link_dst, kernel_index = _links_into(layer, dst)
        keep = _member(link_src, src, math.prod(layer.in_shape))
    else:
        link_src, link_dst, kernel_index = _links_out_of(layer, src)
        keep = _member(link_dst, dst, math.prod(layer.out_shape))
    link_src, link_dst, kernel_index = link_src[keep], link_dst[keep], kernel_index[keep]
    if not from_dst:
        order = np.lexsort((link_src, link_dst))
        link_src, link_dst, kernel_index = link_src[order], link_dst[order], kernel_index[order]
    return link_src, link_dst, weight.ravel()[kernel_index]


def _links_into(layer: WeightedLayer, dst: np.ndarray) -> Links:
    """(src, dst, flat kernel index) of every link into ``dst``, ordered by dst then src (any number of spatial axes)."""
    c_in, spatial_in, kernel = layer.in_shape[0], layer.in_shape[1:], layer.kernel_size
    c_in_group, c_out_group = c_in // layer.groups, layer.out_shape[0] // layer.groups
    c_out, *out_pos = (a[:, None] for a in np.unravel_index(dst, layer.out_shape))
    offset = np.arange(c_in_group * math.prod(kernel))[None, :]  # (channel in group, *taps), flat
    channel, *taps = np.unravel_index(offset, (c_in_group, *kernel))
    src = (c_out // c_out_group) * c_in_group + channel
    inside = np.ones((dst.size, offset.size), dtype=bool)
    for y, u, n, stride, pad, dilation in zip(out_pos, taps, spatial_in, layer.stride, layer.padding, layer.dilation, strict=True):
        position = y * stride - pad + u * dilation
        inside &= (position >= 0) & (position < n)
        src = src * n + position
    kernel_index = c_out * offset.size + offset
    return src[inside], np.broadcast_to(dst[:, None], inside.shape)[inside], kernel_index[inside]


def _links_out_of(layer: WeightedLayer, src: np.ndarray) -> Links:
    """(src, dst, flat kernel index) of every link out of ``src``, unordered (any number of spatial axes)."""
    c_in_group, c_out_group = layer.in_shape[0] // layer.groups, layer.out_shape[0] // layer.groups
    kernel = layer.kernel_size
    c_in, *in_pos = (a[:, None] for a in np.unravel_index(src, layer.in_shape))
    out_channel, *taps = np.unravel_index(np.arange(c_out_group * math.prod(kernel))[None, :], (c_out_group, *kernel))
    c_out = (c_in // c_in_group) * c_out_group + out_channel
    dst, kernel_index = c_out, c_out * c_in_group + c_in % c_in_group
    linked = np.ones(np.broadcast_shapes(src[:, None].shape, out_channel.shape), dtype=bool)
    for p, u, n, k, stride, pad, dilation in zip(in_pos, taps, layer.out_shape[1:], kernel, layer.stride, layer.padding,
                                                 layer.dilation, strict=True):  # fmt: skip
        steps = p + pad - u * dilation  # = y * stride for a link
        y = steps // stride
        linked &= (steps % stride == 0) & (y >= 0) & (y < n)
        dst = dst * n + y
        kernel_index = kernel_index * k + u
    return np.broadcast_to(src[:, None], linked.shape)[linked], dst[linked], kernel_index[linked]


#: where the matrix of a layer applies: dst unit -> (matrix row, a function of matrix columns giving src units)
RowsAndSources = Callable[[np.ndarray, int], tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]]


def _inner(n_in: int) -> RowsAndSources:
    """A matrix applied along the inner axis of (outer, inner) units, the same for every outer index."""

    def rows_and_sources(dst: np.ndarray, n_out: int) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
        outer, row = np.divmod(dst, n_out)
        return row, lambda which, col: outer[which] * n_in + col

    return rows_and_sources


def _neighbour(features: int, first: int, step: int) -> RowsAndSources:
    """A matrix from each time step ``t + step`` to ``t``, on features ``first``.. of (time step, feature) units."""

    def rows_and_sources(dst: np.ndarray, n_out: int) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
        time, feature = np.divmod(dst, features)
        return feature - first, lambda which, col: (time[which] + step) * features + first + col

    return rows_and_sources


def _outer(features: int) -> RowsAndSources:
    """A matrix applied along the outer axis of (outer, features) units, the same for every feature."""

    def rows_and_sources(dst: np.ndarray, n_out: int) -> tuple[np.ndarray, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
        row, feature = np.divmod(dst, features)
        return row, lambda which, col: col * features + feature[which]

    return rows_and_sources


def _either_end(
    weight: np.ndarray, linked: np.ndarray, src: np.ndarray, dst: np.ndarray, n_src: int, n_dst: int,
    along: Callable[[int], RowsAndSources],
) -> Links:
    """`_matrix_links` enumerated from whichever end has fewer candidate links (an embedding's sampled
    vocabulary entries, or its sampled outputs), ordered by dst, then src. ``along(n)`` says where a
    matrix of ``n`` columns applies."""
    from_dst = dst.size * linked.sum() / max(linked.shape[0], 1) <= src.size * linked.sum() / max(linked.shape[1], 1)
    if from_dst:
        return _matrix_links(weight, linked, src, dst, n_src, along(weight.shape[1]))
    back_src, back_dst, w = _matrix_links(weight.T, linked.T, dst, src, n_dst, along(weight.shape[0]))
    order = np.lexsort((back_dst, back_src))  # by dst (the transposed call's sources), then src
    return back_dst[order], back_src[order], w[order]


def _matrix_links(
    weight: np.ndarray, linked: np.ndarray, src: np.ndarray, dst: np.ndarray, n_src: int, per_dst: RowsAndSources
) -> Links:
    """The links of a layer that applies one (rows, columns) matrix many times, enumerated from the
    wanted ``dst`` units (row j of the matrix links into a dst unit; column i names its source via
    ``per_dst``), kept where the source is wanted; ordered by dst, then src."""
    rows_of, cols_of = np.nonzero(linked)  # row-major: each row's columns ascending
    starts = np.searchsorted(rows_of, np.arange(weight.shape[0] + 1))
    row, source_of = per_dst(dst, weight.shape[0])
    counts = starts[row + 1] - starts[row]
    which = np.repeat(np.arange(dst.size), counts)  # the dst each candidate link goes into
    entry = np.arange(which.size) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(starts[row], counts)
    col = cols_of[entry]
    link_src = source_of(which, col)
    keep = _member(link_src, src, n_src)
    return link_src[keep], dst[which][keep], weight[row[which], col][keep]


def _member(units: np.ndarray, wanted: np.ndarray, size: int) -> np.ndarray:
    """Whether each of ``units`` is in ``wanted`` (units of a layer of ``size``), by table look-up."""
    table = np.zeros(size, dtype=bool)
    table[wanted] = True
    return table[units]
