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
    NORM_KINDS,
    Snapshot,
    Topology,
    WeightedLayer,
    adaptive_windows,
    weight_shape,
)
from cntgraph.errors import TopologyError
from cntgraph.model.tracing import registered_links

__all__ = ["batchnorm_affine", "take_snapshot", "to_float64"]


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
    if (links := registered_links(_module(model, layer.path))) is not None:
        weight, bias = links
        return to_float64(weight).reshape(weight_shape(layer)), None if bias is None else to_float64(bias)
    module = _layer_module(model, layer)
    if layer.kind == "batchnorm":
        return batchnorm_affine(layer.path, module)
    if layer.kind in NORM_KINDS:  # the affine part of a GroupNorm (per channel) or a LayerNorm (per unit)
        return _affine_part(layer, module)
    weight = to_float64(module.weight).reshape(weight_shape(layer))
    bias = None if module.bias is None else to_float64(module.bias)
    if layer.folded is None:
        return weight, bias
    scale, shift = batchnorm_affine(layer.folded, _module(model, layer.folded))
    folded_bias = shift if bias is None else bias * scale + shift
    return _read_only(weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))), _read_only(folded_bias)


def batchnorm_affine(path: str, norm: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    """The per-channel map of BatchNorm ``norm`` in eval mode, x -> scale x + shift:
    scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale (gamma 1, beta 0
    without affine parameters).

    Example:
        >>> norm = nn.BatchNorm1d(2, eps=0.0).eval()
        >>> _ = norm.running_var.fill_(4.0), norm.running_mean.fill_(1.0)
        >>> [a.tolist() for a in batchnorm_affine("bn", norm)]
        [[0.5, 0.5], [-0.5, -0.5]]
    """
    if not isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d)) or norm.running_var is None:
        raise TopologyError(f"module {path!r} is not the BatchNorm with running statistics the topology reads")
    scale = 1.0 / np.sqrt(to_float64(norm.running_var) + norm.eps)
    shift = -to_float64(norm.running_mean) * scale
    if norm.weight is not None:
        scale, shift = scale * to_float64(norm.weight), shift * to_float64(norm.weight) + to_float64(norm.bias)
    return _read_only(scale), _read_only(shift)


def _affine_part(layer: WeightedLayer, norm: nn.Module) -> tuple[np.ndarray, np.ndarray | None]:
    """gamma and beta of a GroupNorm or LayerNorm, per channel or (LayerNorm) broadcast to every unit;
    ones and no bias without affine parameters."""
    gamma, beta = getattr(norm, "weight", None), getattr(norm, "bias", None)
    shape = layer.out_shape if layer.kind == "layernorm" else (layer.out_shape[0],)
    weight = np.ones(shape) if gamma is None else np.broadcast_to(to_float64(gamma), shape)
    bias = None if beta is None else np.broadcast_to(to_float64(beta), shape).ravel()
    return _read_only(weight.ravel()), None if bias is None else _read_only(bias)


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
    "batchnorm": (nn.BatchNorm1d, nn.BatchNorm2d),
    "groupnorm": (nn.GroupNorm,),
    "layernorm": (nn.LayerNorm,),
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
