"""Copy a model's weights into a :class:`~cntgraph.core.network.Snapshot` (float64 numpy arrays).

The snapshot owns its arrays (read-only, CPU, C-contiguous), so it can be handed to another thread
while training goes on; it is checked on construction (shapes match the topology, all values
finite), so metrics never see NaN or infinity.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from cntgraph.core.network import (
    ADAPTIVE_POOL,
    IDENTITY,
    Snapshot,
    Topology,
    WeightedLayer,
    adaptive_windows,
    weight_shape,
)
from cntgraph.errors import TopologyError

__all__ = ["take_snapshot", "to_float64"]


def take_snapshot(model: nn.Module, topology: Topology) -> Snapshot:
    """Copy the weights of ``model``'s layers in ``topology`` to float64 numpy arrays.

    A Conv1d's weight gets a height axis of 1; a BatchNorm folded into a layer scales its weights
    and shifts its bias with the running statistics; a pooling layer's fixed weights are
    1/|window|, and the identity links of a residual addition weigh 1.

    Example:
        >>> from cntgraph.model.tracing import trace
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1, bias=False))
        >>> snap = take_snapshot(net, trace(net, (3,)))
        >>> [w.shape for w in snap.weights], [b is None for b in snap.biases], snap.weights[0].dtype
        ([(2, 3), (1, 2)], [False, True], dtype('float64'))
    """
    weights, biases = zip(*(_layer_parameters(model, layer) for layer in topology.layers), strict=True)
    return Snapshot(topology=topology, weights=tuple(weights), biases=tuple(biases))


def _layer_parameters(model: nn.Module, layer: WeightedLayer) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight (in the shape of :func:`~cntgraph.core.network.weight_shape`) and bias of ``layer``."""
    if layer.kind in ("avgpool2d", "maxpool2d"):  # fixed links (also of functional pooling, which has no module)
        return _read_only(np.full(weight_shape(layer), 1.0 / math.prod(layer.kernel_size))), None
    if layer.kind == IDENTITY:
        return _read_only(np.ones(weight_shape(layer))), None
    if layer.kind == ADAPTIVE_POOL:
        return _read_only(adaptive_windows(layer.in_shape[1:], layer.out_shape[1:])), None
    module = _layer_module(model, layer)
    weight = to_float64(module.weight).reshape(weight_shape(layer))
    bias = None if module.bias is None else to_float64(module.bias)
    if layer.folded is None:
        return weight, bias
    norm = _module(model, layer.folded)
    if not isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) or norm.running_var is None:
        raise TopologyError(f"module {layer.folded!r} is not the BatchNorm with running statistics the topology folds")
    scale = 1.0 / np.sqrt(to_float64(norm.running_var) + norm.eps)
    shift = -to_float64(norm.running_mean) * scale
    if norm.weight is not None:
        scale, shift = scale * to_float64(norm.weight), shift * to_float64(norm.weight) + to_float64(norm.bias)
    folded_bias = shift if bias is None else bias * scale + shift
    return _read_only(weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))), _read_only(folded_bias)


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


_KINDS: dict[str, tuple[type[nn.Module], ...]] = {
    "linear": (nn.Linear,),
    "conv1d": (nn.Conv1d,),
    "conv2d": (nn.Conv2d,),
    "convtranspose1d": (nn.ConvTranspose1d,),
    "convtranspose2d": (nn.ConvTranspose2d,),
}


def _layer_module(model: nn.Module, layer: WeightedLayer) -> nn.Module:
    module = _module(model, layer.path)
    if isinstance(module, _KINDS[layer.kind]):
        return module
    raise TopologyError(f"module {layer.path!r} is a {type(module).__name__}, the topology says {layer.kind}")


def _module(model: nn.Module, path: str) -> nn.Module:
    try:
        return model.get_submodule(path)
    except AttributeError as error:
        raise TopologyError(f"the model has no module {path!r} of the topology") from error


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array, dtype=np.float64)
    array.flags.writeable = False
    return array
