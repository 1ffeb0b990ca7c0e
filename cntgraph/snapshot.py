"""A frozen float64 copy of a model's weights, laid out by its `Topology`.

A `Snapshot` owns its arrays (read-only, CPU, C-contiguous), so it can be handed to another thread
while training goes on. Every `Snapshot` is checked on construction: array shapes match the
topology and all values are finite, so metrics never see NaN or infinity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cntgraph.errors import MetricError, TopologyError
from cntgraph.topology import Topology, WeightedLayer

__all__ = ["Snapshot", "take_snapshot", "to_float64", "require_finite", "weight_shape"]


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Weights and biases (None where a layer has no bias) of every weighted layer, in order.

    ``weights[l - 1]`` belongs to ``topology.layers[l - 1]`` in torch layout: (out, in) for
    Linear, (C_out, C_in / groups, kh, kw) for Conv2d.
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
                _check_array(layer, "bias", bias, (weight.shape[0],))


def take_snapshot(model: nn.Module, topology: Topology) -> Snapshot:
    """Copy the weights of ``model``'s layers in ``topology`` to float64 numpy arrays.

    Example:
        >>> from cntgraph.topology import trace
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1, bias=False))
        >>> snap = take_snapshot(net, trace(net, (3,)))
        >>> [w.shape for w in snap.weights], [b is None for b in snap.biases], snap.weights[0].dtype
        ([(2, 3), (1, 2)], [False, True], dtype('float64'))
    """
    modules = [_layer_module(model, layer) for layer in topology.layers]
    return Snapshot(
        topology=topology,
        weights=tuple(to_float64(m.weight) for m in modules),
        biases=tuple(None if m.bias is None else to_float64(m.bias) for m in modules),
    )


def to_float64(tensor: torch.Tensor) -> np.ndarray:
    """A private, read-only, C-contiguous float64 CPU copy of ``tensor``, made in one torch call.

    Example:
        >>> a = to_float64(torch.ones(2, 2))
        >>> a.dtype, a.flags.writeable
        (dtype('float64'), False)
    """
    array = (
        tensor.detach()
        .to(device="cpu", dtype=torch.float64, copy=True, memory_format=torch.contiguous_format)
        .numpy()
    )
    array.flags.writeable = False
    return array


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
    """The torch shape of ``layer``'s weight: (out, in) or (C_out, C_in / groups, kh, kw).

    Example:
        >>> from cntgraph.topology import trace
        >>> weight_shape(trace(nn.Conv2d(4, 6, (3, 2), groups=2), (4, 5, 5)).layers[0])
        (6, 2, 3, 2)
    """
    if layer.kind == "linear":
        return (layer.out_shape[0], layer.in_shape[0])
    return (layer.out_shape[0], layer.in_shape[0] // layer.groups, *layer.kernel_size)


def _layer_module(model: nn.Module, layer: WeightedLayer) -> nn.Linear | nn.Conv2d:
    try:
        module = model.get_submodule(layer.path)
    except AttributeError as error:
        raise TopologyError(f"the model has no module {layer.path!r} of the topology") from error
    if isinstance(module, nn.Linear) and layer.kind == "linear":
        return module
    if isinstance(module, nn.Conv2d) and layer.kind == "conv2d":
        return module
    raise TopologyError(f"module {layer.path!r} is a {type(module).__name__}, the topology says {layer.kind}")


def _check_array(layer: WeightedLayer, what: str, array: np.ndarray, shape: tuple[int, ...]) -> None:
    if not (isinstance(array, np.ndarray) and array.dtype == np.float64 and array.shape == shape):
        raise MetricError(
            f"layer {layer.path!r}: {what} must be a float64 array of shape {shape}, got {array!r:.80}"
        )
    if not array.flags.c_contiguous:
        raise MetricError(f"layer {layer.path!r}: {what} must be C-contiguous")
    require_finite(layer.path, array)
