"""Copy a model's weights into a :class:`~cntgraph.core.network.Snapshot` (float64 numpy arrays).

The snapshot owns its arrays (read-only, CPU, C-contiguous), so it can be handed to another thread
while training goes on; it is checked on construction (shapes match the topology, all values
finite), so metrics never see NaN or infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cntgraph.core.network import (
    ADAPTIVE_POOLS,
    IDENTITY,
    NORM_KINDS,
    POSITIONS,
    RECURRENT_KINDS,
    RECURRENT_REVERSE,
    Snapshot,
    Topology,
    WeightedLayer,
    adaptive_windows,
    bias_shape,
    sequence_shape,
    weight_shape,
)
from cntgraph.errors import TopologyError
from cntgraph.model.tracing import registered_links

__all__ = ["LayerCopy", "NormCopy", "copy_parameters", "snapshot_of", "take_snapshot", "to_float64"]


def take_snapshot(model: nn.Module, topology: Topology) -> Snapshot:
    """Copy the weights of ``model``'s layers in ``topology`` to float64 numpy arrays.

    A Conv1d's weight gets a height axis of 1; a BatchNorm folded into a layer scales its weights
    and shifts its bias with the running statistics; a pooling layer's fixed weights are
    1/|window|, and the identity links of a residual addition weigh 1. The same as
    ``snapshot_of(topology, copy_parameters(model, topology))``.

    Example:
        >>> from cntgraph.model.tracing import trace
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1, bias=False))
        >>> snap = take_snapshot(net, trace(net, (3,)))
        >>> [w.shape for w in snap.weights], [b is None for b in snap.biases], snap.weights[0].dtype
        ([(2, 3), (1, 2)], [False, True], dtype('float64'))
    """
    return snapshot_of(topology, copy_parameters(model, topology))


@dataclass(frozen=True, eq=False)
class NormCopy:
    """The running statistics and affine parameters of a BatchNorm, cloned."""

    mean: torch.Tensor
    var: torch.Tensor
    gamma: torch.Tensor | None
    beta: torch.Tensor | None
    eps: float


@dataclass(frozen=True, eq=False)
class LayerCopy:
    """The tensors one layer's links are made of, cloned: weight, bias, and a BatchNorm's (folded, or the layer's own)."""

    weight: torch.Tensor | None
    bias: torch.Tensor | None
    norm: NormCopy | None = None
    #: the weight and bias are blocks of the layer's (gates of a recurrent layer; its two biases), to be summed
    blocks: bool = False


#: layers whose links are fixed: nothing to copy
_POOL_KINDS = frozenset({"avgpool2d", "maxpool2d", "avgpool3d", "maxpool3d"})
_FIXED_KINDS = _POOL_KINDS | {IDENTITY, POSITIONS} | ADAPTIVE_POOLS


def copy_parameters(model: nn.Module, topology: Topology) -> tuple[LayerCopy | None, ...]:
    """CPU copies (same dtype) of the tensors the layers of ``topology`` are made of, one
    entry per layer (None for fixed links): what :class:`~cntgraph.Recorder`'s ``capture()`` does
    while training waits, as cheap as cloning those tensors; `snapshot_of` does the rest later.

    Example:
        >>> from cntgraph.model.tracing import trace
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
        >>> copies = copy_parameters(net, trace(net, (3,)))
        >>> copies[0].weight.dtype, copies[0].weight is net[0].weight, copies[0].norm.eps
        (torch.float32, False, 1e-05)
    """
    return tuple(_layer_copy(model, layer) for layer in topology.layers)


def snapshot_of(topology: Topology, copies: Sequence[LayerCopy | None]) -> Snapshot:
    """The float64 snapshot of ``copies`` (from `copy_parameters` of the same topology): BatchNorms
    folded, fixed links filled in, every value checked finite (`MetricError` otherwise).

    Example:
        >>> from cntgraph.model.tracing import trace
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
        >>> topology = trace(net, (3,))
        >>> copies = copy_parameters(net, topology)
        >>> _ = nn.init.zeros_(net[0].weight)  # training goes on: the copies keep what they were
        >>> bool((snapshot_of(topology, copies).weights[0] != 0).all())
        True
    """
    weights, biases = zip(*(_layer_arrays(layer, copy) for layer, copy in zip(topology.layers, copies, strict=True)), strict=True)
    return Snapshot(topology=topology, weights=tuple(weights), biases=tuple(biases))


def _directions(blocks: list[torch.Tensor], hidden: int) -> torch.Tensor:
    """A recurrent layer's input-to-hidden weights (or biases) of each direction, (gates x hidden, ...)
    each, as (gates, directions x hidden, ...): summed over gates, the forward direction's units come first."""
    return torch.cat([block.reshape(-1, hidden, *block.shape[1:]) for block in blocks], dim=1)


def _clone(tensor: torch.Tensor | None) -> torch.Tensor | None:
    """A private CPU copy in the tensor's own dtype (a GPU model's queued epochs take no GPU memory)."""
    return None if tensor is None else tensor.detach().to("cpu", copy=True)


def _layer_copy(model: nn.Module, layer: WeightedLayer) -> LayerCopy | None:
    if layer.kind in _FIXED_KINDS:  # also functional pooling, which has no module
        return None
    if (links := registered_links(_module(model, layer.path))) is not None:
        return LayerCopy(*map(_clone, links))
    module = _layer_module(model, layer)
    if isinstance(module, nn.RNNBase):  # its gates' blocks, summed in float64 by snapshot_of
        k = layer.stack  # the layer of a stacked module: weight_ih_l{k}, ...
        if layer.kind in RECURRENT_KINDS:
            reverse = "_reverse" if layer.kind == RECURRENT_REVERSE else ""
            return LayerCopy(_clone(getattr(module, f"weight_hh_l{k}{reverse}")), None, blocks=True)
        directions = ("", "_reverse") if module.bidirectional else ("",)
        weight = _directions([getattr(module, f"weight_ih_l{k}{d}") for d in directions], module.hidden_size)
        bias = None
        if module.bias:
            bias = torch.stack(
                [_directions([getattr(module, f"bias_{kind}_l{k}{d}") for d in directions], module.hidden_size) for kind in ("ih", "hh")]
            )
        return LayerCopy(_clone(weight), _clone(bias), blocks=True)
    if isinstance(module, nn.Embedding):  # a Linear on one-hot inputs: weight (D, V)
        return LayerCopy(_clone(module.weight.T), None)
    if isinstance(module, nn.MultiheadAttention):  # its value projection: the last third of in_proj
        size = module.embed_dim
        bias = None if module.in_proj_bias is None else module.in_proj_bias[2 * size :]
        return LayerCopy(_clone(module.in_proj_weight[2 * size :]), _clone(bias))
    if layer.kind == "batchnorm":
        return LayerCopy(None, None, _norm_copy(layer.path, module))
    norm = None if layer.folded is None else _norm_copy(layer.folded, _module(model, layer.folded))
    return LayerCopy(_clone(getattr(module, "weight", None)), _clone(getattr(module, "bias", None)), norm)


def _norm_copy(path: str, norm: nn.Module) -> NormCopy:
    if not isinstance(norm, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)) or norm.running_var is None or norm.running_mean is None:
        raise TopologyError(f"module {path!r} is not the BatchNorm with running statistics the topology reads")
    return NormCopy(_clone(norm.running_mean), _clone(norm.running_var), _clone(norm.weight), _clone(norm.bias), float(norm.eps))  # type: ignore[arg-type]


def _layer_arrays(layer: WeightedLayer, copy: LayerCopy | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight (in the shape of :func:`~cntgraph.core.network.weight_shape`) and bias of ``layer``."""
    if layer.kind in _POOL_KINDS:
        return _read_only(np.full(weight_shape(layer), 1.0 / math.prod(layer.kernel_size))), None
    if layer.kind == IDENTITY:
        return _read_only(np.ones(weight_shape(layer))), None
    if layer.kind in ADAPTIVE_POOLS:
        return _read_only(adaptive_windows(layer.in_shape[1:], layer.out_shape[1:])), None
    if layer.kind == POSITIONS:  # a mean over positions
        rows, positions = sequence_shape(layer)
        return _read_only(np.full((rows, positions), 1.0 / positions)), None
    assert copy is not None, f"layer {layer.path!r} of kind {layer.kind} has parameters"
    if layer.kind == "batchnorm":
        assert copy.norm is not None
        return _batchnorm_affine(copy.norm)
    if layer.kind in NORM_KINDS:  # the affine part of a GroupNorm (per channel) or a LayerNorm (per unit)
        return _affine_part(layer, copy.weight, copy.bias)
    assert copy.weight is not None
    if copy.blocks:  # a recurrent layer's gates (and its two biases), summed
        bias = None if copy.bias is None else _read_only(to_float64(copy.bias).reshape(-1, *bias_shape(layer)).sum(axis=0))
        return _read_only(to_float64(copy.weight).reshape(-1, *weight_shape(layer)).sum(axis=0)), bias
    weight = to_float64(copy.weight).reshape(weight_shape(layer))
    bias = None if copy.bias is None else to_float64(copy.bias)
    if copy.norm is None:
        return weight, bias
    scale, shift = _batchnorm_affine(copy.norm)
    folded_bias = shift if bias is None else bias * scale + shift
    return _read_only(weight * scale.reshape(-1, *([1] * (weight.ndim - 1)))), _read_only(folded_bias)


def _batchnorm_affine(norm: NormCopy) -> tuple[np.ndarray, np.ndarray]:
    """A BatchNorm's per-channel map in eval mode, x -> scale x + shift: scale = gamma /
    sqrt(running_var + eps), shift = beta - running_mean * scale (gamma 1, beta 0 without affine)."""
    scale = 1.0 / np.sqrt(to_float64(norm.var) + norm.eps)
    shift = -to_float64(norm.mean) * scale
    if norm.gamma is not None and norm.beta is not None:
        scale, shift = scale * to_float64(norm.gamma), shift * to_float64(norm.gamma) + to_float64(norm.beta)
    return _read_only(scale), _read_only(shift)


def _affine_part(layer: WeightedLayer, gamma: torch.Tensor | None, beta: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray | None]:
    """gamma and beta of a GroupNorm or LayerNorm, per channel or (LayerNorm) broadcast to every unit;
    ones and no bias without affine parameters."""
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
    "batchnorm": (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d),
    "groupnorm": (nn.GroupNorm,),
    "layernorm": (nn.LayerNorm,),
    "linear": (nn.Linear,),
    "positionwise": (nn.Linear, nn.MultiheadAttention, nn.Embedding, nn.RNN, nn.LSTM, nn.GRU),
    "recurrent": (nn.RNN, nn.LSTM, nn.GRU),
    "recurrent_reverse": (nn.RNN, nn.LSTM, nn.GRU),
    "conv1d": (nn.Conv1d,),
    "conv2d": (nn.Conv2d,),
    "conv3d": (nn.Conv3d,),
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
