"""Copy a model's weights into a :class:`~cntgraph.core.network.Snapshot` (float64 numpy arrays).

The snapshot owns its arrays (read-only, CPU, C-contiguous), so it can be handed to another thread
while training goes on; it is checked on construction (shapes match the topology, all values
finite), so metrics never see NaN or infinity.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cntgraph.core.network import Snapshot, Topology, WeightedLayer
from cntgraph.errors import TopologyError

__all__ = ["take_snapshot", "to_float64"]


def take_snapshot(model: nn.Module, topology: Topology) -> Snapshot:
    """Copy the weights of ``model``'s layers in ``topology`` to float64 numpy arrays.

    Example:
        >>> from cntgraph.model.tracing import trace
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
