"""The network as CNT reads it, as plain data: node layers, weighted layers, and a weight snapshot.

These types hold no tensors and import no torch: the PyTorch side (:mod:`cntgraph.model`) builds
them from a model, and every metric of the core (:mod:`cntgraph.core.metrics`) reads them.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cntgraph.errors import MetricError

__all__ = ["KERNEL_KINDS", "TRANSPOSED_KINDS", "FIXED_KINDS", "IDENTITY", "ADAPTIVE_POOLS", "NORM_KINDS", "POSITIONWISE", "POSITIONS", "RECURRENT", "RECURRENT_REVERSE", "RECURRENT_KINDS", "recurrent_block", "bias_shape", "sequence_shape", "adaptive_windows", "forward_conv", "NodeLayer", "WeightedLayer", "Topology", "Snapshot", "dense_snapshot", "require_finite", "weight_shape"]


@dataclass(frozen=True)
class NodeLayer:
    """One group of neurons: index 0 is the input, index l > 0 the output of an operation that
    makes links (a weighted module, a pooling, a residual addition), numbered in forward order.

    ``name`` is ``"input"`` for layer 0, else the module's dotted path (``"layer1.0.add"`` for an
    addition in the forward code of module ``layer1.0``); ``shape`` is per sample, (C, H, W) for
    images; ``size`` is the number of units.
    """

    index: int
    name: str
    shape: tuple[int, ...]
    size: int


#: the kinds of layer whose links follow a kernel over (C, H, W) units, as a Conv2d's do
KERNEL_KINDS = frozenset(
    {"conv1d", "conv2d", "conv3d", "avgpool2d", "maxpool2d", "avgpool3d", "maxpool3d", "convtranspose1d", "convtranspose2d"}
)
#: links that join each unit of a node layer to the unit of the same index of another, weight 1:
#: one set per operand of a residual addition
IDENTITY = "identity"
#: adaptive pooling (2-d or 3-d) whose windows differ in size (an input size is not a multiple of the
#: output size): its weight is one (output pixels, input pixels) matrix shared by every channel
ADAPTIVE_POOLS = frozenset({"adaptivepool2d", "adaptivepool3d"})
#: a Linear applied at every position of a sequence (input (L, D_in), output (L, D_out)): links
#: (l, i) -> (l, j) of weight W[j, i], the same matrix at every position
POSITIONWISE = "positionwise"
#: a mean over the positions of a sequence, feature by feature: links (m, d) -> (d) of weight 1/L from
#: every position m (in general (m, d) -> (l, d) of weight 1/L_in, for L_out output positions)
POSITIONS = "positions"
#: the hidden-to-hidden links of a recurrent layer (RNN, LSTM, GRU), within its own node layer of
#: (time steps, hidden) units: (t - 1, k) -> (t, j) of weight W_hh[j, k], summed over gates
RECURRENT = "recurrent"
#: the hidden-to-hidden links of a bidirectional layer's backward direction, against time: (t + 1, H + k)
#: -> (t, H + j) of weight W_hh_reverse[j, k] in its node layer of (time steps, 2 H) units
RECURRENT_REVERSE = "recurrent_reverse"
RECURRENT_KINDS = frozenset({RECURRENT, RECURRENT_REVERSE})
#: normalisations read as one link per unit, unit i -> unit i, with the weight of the affine map they
#: apply: a BatchNorm not folded (per channel: gamma / sqrt(running_var + eps), bias beta -
#: running_mean * that), a GroupNorm's affine part (per channel) and a LayerNorm's (per unit)
NORM_KINDS = frozenset({"batchnorm", "groupnorm", "layernorm"})
#: the transposed convolutions: their links are those of the convolution from their outputs to their
#: inputs (same kernel, stride, padding, dilation, groups), reversed
TRANSPOSED_KINDS = frozenset({"convtranspose1d", "convtranspose2d"})
#: the kinds whose link weights the architecture fixes (pooling, residual identities, means over
#: positions): they hold no parameters, and a null model leaves them as they are
FIXED_KINDS = frozenset({IDENTITY, POSITIONS, "avgpool2d", "maxpool2d", "avgpool3d", "maxpool3d"}) | ADAPTIVE_POOLS


@dataclass(frozen=True)
class WeightedLayer:
    """A set of links into node layer ``index`` from the units of node layers ``sources``.

    ``sources`` are node layers whose units, concatenated in this order (as ``torch.cat`` on the
    channels joins them), are the layer's inputs, of shape ``in_shape``; the default ``()`` means
    ``(index - 1,)``, a chain. A node layer may receive several sets (one per operand of a
    residual addition); every source comes before ``index`` in forward order.

    ``kind`` is ``"linear"``, or one of :data:`KERNEL_KINDS`, whose links follow a kernel:
    ``"conv2d"``; ``"conv1d"`` (read as a Conv2d of height 1: shapes (C, 1, L), kernel (1, k));
    ``"avgpool2d"`` and ``"maxpool2d"`` (fixed links of weight 1/|window| from each input of a
    window, one group per channel; see docs/METRICS.md), ``"avgpool3d"`` and ``"maxpool3d"`` (the
    same over (depth, height, width)); ``"convtranspose1d"`` and
    ``"convtranspose2d"`` (see :func:`forward_conv`). For these, ``stride``, ``padding``,
    ``dilation`` and ``kernel_size`` are per axis (height, width); ``padding`` is the zero padding
    before the first row/column (``padding="same"`` with an even receptive field pads one more
    after, which ``out_shape`` accounts for). For ``"linear"`` they are empty tuples and
    ``groups`` is 1. ``folded`` is the path of a BatchNorm folded into the layer's weights and bias.
    ``"identity"`` (:data:`IDENTITY`) links unit i of its input to unit i of node layer ``index``
    with weight 1 (its weight holds these ones); an addition ``a + b`` is one such set per operand.
    ``"adaptivepool2d"`` and ``"adaptivepool3d"`` (:data:`ADAPTIVE_POOLS`) are adaptive poolings with windows of unequal sizes:
    its weight is :func:`adaptive_windows`, the same in every channel; its kernel settings are empty.
    ``"batchnorm"``, ``"groupnorm"`` and ``"layernorm"`` (:data:`NORM_KINDS`) link unit i to unit i
    with the weight of its channel (the first axis of ``out_shape``; per unit for ``"layernorm"``);
    their weight and bias have one entry per channel (per unit).
    ``"positionwise"`` (:data:`POSITIONWISE`): a Linear at every position of a sequence, shapes
    (L, D_in) -> (L, D_out), weight (D_out, D_in). ``"positions"`` (:data:`POSITIONS`): fixed
    links (m, d) -> (l, d) of weight 1/L_in across positions, shapes (L_in, D) -> (L_out, D) (or
    (D,) for a mean over positions), weight (L_out, L_in). ``"recurrent"`` (:data:`RECURRENT`):
    the hidden-to-hidden links of a recurrent layer, from node layer ``index`` to itself, one time
    step on: shapes (T, H) -> (T, H), weight (H, H); ``sources`` is ``(index,)``. A bidirectional
    layer's node layer has (T, 2H) units, its forward direction's first: ``groups`` is 2, the
    ``"recurrent"`` links join the first H features one step on and the ``"recurrent_reverse"``
    links the last H one step back (see :func:`recurrent_block`).
    """

    index: int
    path: str
    kind: Literal[
        "linear", "conv1d", "conv2d", "conv3d", "avgpool2d", "maxpool2d", "avgpool3d", "maxpool3d", "convtranspose1d",
        "convtranspose2d", "identity",
        "adaptivepool2d", "batchnorm", "groupnorm", "layernorm", "positionwise", "positions", "recurrent",
        "recurrent_reverse", "adaptivepool3d",
    ]
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    has_bias: bool
    kernel_size: tuple[int, ...]
    folded: str | None = None
    sources: tuple[int, ...] = ()
    #: which layer of a stacked recurrent module (``num_layers`` > 1) the weights are (``weight_ih_l{stack}``)
    stack: int = 0

    def __post_init__(self) -> None:
        if not self.sources:
            object.__setattr__(self, "sources", (self.index - 1,))


@dataclass(frozen=True)
class Topology:
    """The node layers 0..K and the weighted layers (sets of links between them), in forward order.

    A chain has one weighted layer into each node layer 1..K, from the node layer before it; a
    network with residual additions or concatenations is a directed acyclic graph of node layers.

    Example (a residual block: ``y = fc(x) + x``):
        >>> nodes = (NodeLayer(0, "input", (2,), 2), NodeLayer(1, "fc", (2,), 2), NodeLayer(2, "add", (2,), 2))
        >>> fc = WeightedLayer(1, "fc", "linear", (2,), (2,), (), (), (), 1, True, ())
        >>> skips = [WeightedLayer(2, "add", "identity", (2,), (2,), (), (), (), 1, False, (), sources=(s,)) for s in (1, 0)]
        >>> topology = Topology(nodes, (fc, *skips))
        >>> topology.sinks, [layer.sources for layer in topology.into(2)]
        (frozenset({2}), [(1,), (0,)])
    """

    node_layers: tuple[NodeLayer, ...]
    layers: tuple[WeightedLayer, ...]

    def __post_init__(self) -> None:
        count = len(self.node_layers)
        if any(node.index != i for i, node in enumerate(self.node_layers)):
            raise MetricError(f"node layers must be numbered 0..{count - 1} in order")
        for layer in self.layers:
            recurrent = layer.kind in RECURRENT_KINDS and layer.sources == (layer.index,)
            if not 1 <= layer.index < count or not (recurrent or all(0 <= s < layer.index for s in layer.sources)):
                raise MetricError(
                    f"layer {layer.path!r} links node layers {layer.sources} to {layer.index}: each set of links "
                    f"goes into one of the node layers 1..{count - 1} from node layers before it"
                )
            if sum(self.node_layers[s].size for s in layer.sources) != math.prod(layer.in_shape) or (
                self.node_layers[layer.index].size != math.prod(layer.out_shape)
            ):
                raise MetricError(f"layer {layer.path!r}: its shapes do not match the sizes of the node layers it links")
        unfed = sorted(set(range(1, count)) - {layer.index for layer in self.layers})
        if unfed:
            raise MetricError(f"node layers {unfed} receive no links")

    @property
    def sinks(self) -> frozenset[int]:
        """The node layers no link leaves: the model's output (their units get ``s_out = 1``)."""
        fed = {s for layer in self.layers for s in layer.sources if s != layer.index}  # recurrent links stay inside
        return frozenset(range(len(self.node_layers))) - fed

    def into(self, index: int) -> list[WeightedLayer]:
        """The weighted layers whose links go into node layer ``index``, in forward order."""
        return [layer for layer in self.layers if layer.index == index]

    def source_offsets(self, layer: WeightedLayer) -> np.ndarray:
        """Where each of ``layer.sources`` starts among its concatenated input units, then their total.

        Example (a layer reading ``torch.cat([a, b], dim=1)`` of a 3-unit and a 2-unit node layer):
            >>> nodes = tuple(NodeLayer(i, n, (k,), k) for i, (n, k) in enumerate([("input", 4), ("a", 3), ("b", 2), ("fc", 1)]))
            >>> a, b = (WeightedLayer(i, n, "linear", (4,), (k,), (), (), (), 1, False, (), sources=(0,)) for i, n, k in [(1, "a", 3), (2, "b", 2)])
            >>> fc = WeightedLayer(3, "fc", "linear", (5,), (1,), (), (), (), 1, False, (), sources=(1, 2))
            >>> Topology(nodes, (a, b, fc)).source_offsets(fc).tolist()
            [0, 3, 5]
        """
        return np.cumsum([0, *(self.node_layers[s].size for s in layer.sources)])


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Weights and biases (None where a layer has no bias) of every weighted layer, in order.

    ``weights[i]`` belongs to ``topology.layers[i]`` in torch layout: (out, in) for Linear,
    (C_out, C_in / groups, kh, kw) for Conv2d, see :func:`weight_shape`.
    """

    topology: Topology
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray | None, ...]

    def __post_init__(self) -> None:
        layers = self.topology.layers
        if not len(layers) == len(self.weights) == len(self.biases):
            raise MetricError(
                f"a snapshot needs one weight and one bias entry per layer: {len(layers)} layers, "
                f"{len(self.weights)} weights, {len(self.biases)} biases"
            )
        for layer, weight, bias in zip(layers, self.weights, self.biases, strict=True):
            _check_array(layer, "weight", weight, weight_shape(layer))
            if layer.has_bias != (bias is not None):
                raise MetricError(f"layer {layer.path!r}: has_bias is {layer.has_bias} but bias is {bias!r}")
            if bias is not None:
                _check_array(layer, "bias", bias, bias_shape(layer))


def dense_snapshot(weights: Sequence[npt.ArrayLike], biases: Sequence[npt.ArrayLike | None] | None = None) -> Snapshot:
    """A snapshot of a chain of fully connected layers given as weight matrices, without torch.

    ``weights[l]`` is layer l+1's (out, in) matrix (PyTorch's layout: row i holds the weights into
    unit i); ``biases[l]`` its bias vector or None (default: no biases). Layers are named
    ``"0"``, ``"1"``, ...; the input is node layer 0. Weights from any framework can be read this
    way (transpose Keras/JAX kernels, which are (in, out)).

    Example:
        >>> snap = dense_snapshot([[[1.0, -3.0]]], biases=[[0.5]])
        >>> [node.size for node in snap.topology.node_layers], snap.weights[0].tolist()
        ([2, 1], [[1.0, -3.0]])
    """
    matrices = [_float64(w) for w in weights]
    vectors = [None if b is None else _float64(b) for b in (biases if biases is not None else [None] * len(matrices))]
    if not matrices or len(vectors) != len(matrices):
        raise MetricError(f"dense_snapshot needs at least one weight matrix and one bias entry per matrix, got "
                          f"{len(matrices)} and {len(vectors)}")
    sizes = [matrices[0].shape[1] if matrices[0].ndim == 2 else 0] + [w.shape[0] for w in matrices]
    nodes = tuple(NodeLayer(i, "input" if i == 0 else str(i - 1), (size,), size) for i, size in enumerate(sizes))
    layers = tuple(
        WeightedLayer(i + 1, str(i), "linear", (sizes[i],), (sizes[i + 1],), (), (), (), 1, b is not None, ())
        for i, b in enumerate(vectors)
    )
    return Snapshot(Topology(nodes, layers), tuple(matrices), tuple(vectors))


def _float64(values: npt.ArrayLike) -> np.ndarray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    array.flags.writeable = False
    return array


def forward_conv(layer: WeightedLayer) -> WeightedLayer:
    """The convolution a transposed convolution ``layer`` is the transpose of: from its output units
    to its input units, with the same weight, kernel, stride, padding, dilation and groups.

    A link i -> j of ``layer`` is the link j -> i of this convolution, with the same weight (a
    ConvTranspose's weight (C_in, C_out / groups, kh, kw) is that convolution's weight).

    Example:
        >>> up = WeightedLayer(1, "up", "convtranspose2d", (2, 3, 3), (4, 6, 6), (2, 2), (0, 0), (1, 1), 1, True, (2, 2))
        >>> down = forward_conv(up)
        >>> down.kind, down.in_shape, down.out_shape, down.has_bias
        ('conv2d', (4, 6, 6), (2, 3, 3), False)
    """
    return dataclasses.replace(layer, kind="conv2d", in_shape=layer.out_shape, out_shape=layer.in_shape, has_bias=False)


def bias_shape(layer: WeightedLayer) -> tuple[int]:
    """The shape of ``layer``'s bias: one per output channel (feature, for ``"positionwise"``), or one
    per unit (``"layernorm"``).

    Example:
        >>> bias_shape(WeightedLayer(1, "fc", "positionwise", (5, 3), (5, 4), (), (), (), 1, True, ()))
        (4,)
    """
    if layer.kind == "layernorm":
        return (math.prod(layer.out_shape),)
    return (layer.out_shape[-1] if layer.kind == POSITIONWISE else layer.out_shape[0],)


def sequence_shape(layer: WeightedLayer) -> tuple[int, int]:
    """(output positions, input positions) of a ``"positions"`` layer: its input is (L_in, D).

    Example:
        >>> mean = WeightedLayer(2, "mean", "positions", (5, 4), (4,), (), (), (), 1, False, ())
        >>> sequence_shape(mean)
        (1, 5)
    """
    positions, features = layer.in_shape
    return math.prod(layer.out_shape) // features, positions


def recurrent_block(layer: WeightedLayer) -> tuple[int, int, int]:
    """Where the hidden-to-hidden links of a recurrent layer go in its node layer of (T, F) units:
    ``(first, hidden, step)``: they join features ``first`` .. ``first + hidden - 1`` of time step
    ``t + step`` to the same features of step ``t`` (step -1: from the previous step; +1, a
    bidirectional layer's backward direction: from the next).

    Example (a bidirectional layer of 2 x 3 features: its backward links are features 3..5, one step back):
        >>> backward = WeightedLayer(1, "rnn", "recurrent_reverse", (4, 6), (4, 6), (), (), (), 2, False, (), sources=(1,))
        >>> recurrent_block(backward)
        (3, 3, 1)
    """
    hidden = layer.out_shape[-1] // layer.groups
    return (hidden, hidden, 1) if layer.kind == RECURRENT_REVERSE else (0, hidden, -1)


def adaptive_windows(in_hw: Sequence[int], out_hw: Sequence[int]) -> np.ndarray:
    """The (output pixels, input pixels) weights of an adaptive average pooling of one channel, over
    2 axes (height, width) or 3 (depth, height, width): 1/|window| from each input pixel of an
    output pixel's window, PyTorch's windows (along each axis, floor(i H / h) to ceil((i + 1) H / h)),
    0 elsewhere. Pixels are numbered row-major, as in a flattened channel.

    Example (a row of 3 pixels pooled into 2: windows {0, 1} and {1, 2}):
        >>> adaptive_windows((1, 3), (1, 2)).tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
        >>> adaptive_windows((1, 1, 3), (1, 1, 2)).tolist()
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]
    """
    axes = []
    for n_in, n_out in zip(in_hw, out_hw, strict=True):
        position = np.arange(n_in)
        start = (np.arange(n_out) * n_in) // n_out
        stop = -((-(np.arange(n_out) + 1) * n_in) // n_out)  # ceil
        inside = (position >= start[:, None]) & (position < stop[:, None])
        axes.append(inside / inside.sum(axis=1, keepdims=True))
    return functools.reduce(np.kron, axes)


def require_finite(path: str, values: np.ndarray) -> None:
    """Raise `MetricError` naming the layer ``path`` if ``values`` holds a NaN or an infinity.

    Example:
        >>> require_finite("fc1", np.array([1.0, np.nan]))
        Traceback (most recent call last):
        ...
        cntgraph.errors.MetricError: layer 'fc1' has non-finite parameters (1 of 2 values)
    """
    finite = np.isfinite(values)
    if not finite.all():
        bad = finite.size - np.count_nonzero(finite)
        raise MetricError(f"layer {path!r} has non-finite parameters ({bad} of {finite.size} values)")


def weight_shape(layer: WeightedLayer) -> tuple[int, ...]:
    """The torch shape of ``layer``'s weight: (out, in), (C_out, C_in / groups, kh, kw), or (units,)
    for identity links.

    Example:
        >>> conv = WeightedLayer(1, "conv", "conv2d", (4, 5, 5), (6, 3, 4), (1, 1), (0, 0), (1, 1), 2, True, (3, 2))
        >>> weight_shape(conv)
        (6, 2, 3, 2)
    """
    if layer.kind == "linear":
        return (layer.out_shape[0], layer.in_shape[0])
    if layer.kind == IDENTITY:
        return (math.prod(layer.out_shape),)
    if layer.kind in ADAPTIVE_POOLS:
        return (math.prod(layer.out_shape[1:]), math.prod(layer.in_shape[1:]))
    if layer.kind in NORM_KINDS:
        return (math.prod(layer.out_shape) if layer.kind == "layernorm" else layer.out_shape[0],)
    if layer.kind in RECURRENT_KINDS:
        hidden = layer.out_shape[-1] // layer.groups
        return (hidden, hidden)
    if layer.kind == POSITIONWISE:
        return (layer.out_shape[-1], layer.in_shape[-1])
    if layer.kind == POSITIONS:
        return sequence_shape(layer)
    if layer.kind in TRANSPOSED_KINDS:
        return (layer.in_shape[0], layer.out_shape[0] // layer.groups, *layer.kernel_size)
    return (layer.out_shape[0], layer.in_shape[0] // layer.groups, *layer.kernel_size)


def _check_array(layer: WeightedLayer, what: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and array.shape == shape):
        raise MetricError(
            f"layer {layer.path!r}: {what} must be a float64 array of shape {shape}, got {array!r:.80}"
        )
    if not array.flags.c_contiguous:
        raise MetricError(f"layer {layer.path!r}: {what} must be C-contiguous")
    require_finite(layer.path, array)
