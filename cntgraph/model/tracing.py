"""Read a PyTorch model as a graph of node layers (a :class:`~cntgraph.core.network.Topology`).

`trace` runs one forward pass on a zero batch of one sample and follows every tensor computed from
the input, with forward hooks on the modules and a torch-function mode for the forward code
between them. A node layer is the input or the output of an operation that makes links
(docs/METRICS.md gives each convention):

- ``nn.Linear`` (on features, or at every position of a (positions, features) sequence),
  ``nn.Conv1d/2d/3d`` (zero padding), ``nn.ConvTranspose1d/2d``, whose weights are the links;
- ``nn.AvgPool2d``, ``nn.MaxPool2d`` (and their 3-d forms) and their adaptive forms (modules, or
  ``F.adaptive_avg_pool2d``/``F.adaptive_max_pool2d`` and their 3-d forms): fixed links of weight 1/|window|;
  ``x.mean(dim=1)`` over positions: fixed links of weight 1/positions;
- ``nn.LayerNorm``/``nn.GroupNorm``: their affine part, one link per unit;
- ``nn.Embedding`` of the input's token ids: a Linear on one-hot inputs;
- ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``batch_first``; stacked; bidirectional): a node layer of (time step,
  hidden) units per layer of the module with input-to-hidden links at every step and hidden-to-hidden links from each
  step to the next (a backward direction's: to the one before), the gates' weights summed;
- self-attention (``nn.MultiheadAttention``): its value and output projections (its
  data-dependent mixing across positions is no link);
- a residual addition ``a + b`` (also ``+=``, ``torch.add``) of two tensors of the same shape:
  identity links of weight 1 from each operand's units (torchvision's ResNets and MobileNets);
- a module type of your own, through `register_links`.

A ``nn.BatchNorm1d/2d/3d`` right after a Linear or Conv (whose output nothing else reads) is folded
into its weights and bias with the running statistics (eval mode): it adds no node layer. Anywhere
else, or with ``trace(..., fold_batchnorm=False)``, it is a node layer of its own whose unit i gets
one link from unit i of its input (kind ``"batchnorm"``). ``torch.cat`` along dimension 1
(channels or features) is wiring: the layer that reads the result gets links from every joined
node layer. The graph is a DAG; a node layer may feed several.

Wiring rules:

- Elementwise modules and the matching functional calls (``F.relu``, ``x.tanh()``...) are wiring.
  A module without weights may be called more than once (a shared ``self.relu``, a shared pooling,
  whose node layers are then named ``pool``, ``pool_2``...); a module with weights may not (shared
  weights are not a layered graph).
- ``nn.Flatten`` and ``view``/``reshape``/``flatten``/``squeeze``/``unsqueeze``/``contiguous``
  keep the batch dimension and the flat (C, H, W) order of units, so they are wiring too.
- ``nn.Softmax``/``nn.LogSoftmax`` (and ``F.softmax``/``F.log_softmax``) are not elementwise; they
  are accepted only as the very last step, as output wiring that adds no layer.
- Every node layer must lead to the model's output, which is one node layer.
- Everything else computed on the data (``x * 2``, ``x + 1``, indexing, products of two tensors...)
  and every other module type (cross-attention, RNNs with ``proj_size``...) raises
  `TopologyError`, naming every such module at once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cntgraph.core.network import NodeLayer, Topology, WeightedLayer
from cntgraph.errors import ConfigurationError, TopologyError

__all__ = ["LinkAdapter", "NodeValues", "register_links", "register_wiring", "trace", "trace_values", "weighted_modules"]

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d)
_WEIGHTED = (nn.Linear, *_CONV, *_TRANSPOSED)  # modules whose weights are links
_ADAPTIVE_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d)
_POOLS = (nn.AvgPool2d, nn.MaxPool2d, nn.AvgPool3d, nn.MaxPool3d, *_ADAPTIVE_POOLS)  # fixed links
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)  # folded into the weighted layer before them
_AFFINE_NORMS = (nn.LayerNorm, nn.GroupNorm)  # their affine part: one link per unit
_RECURRENT = (nn.RNN, nn.LSTM, nn.GRU)  # input-to-hidden and hidden-to-hidden links, summed over gates
_LINKED = (*_WEIGHTED, *_POOLS, *_AFFINE_NORMS, nn.Embedding, *_RECURRENT)  # modules that make a node layer
_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
    nn.AlphaDropout, nn.FeatureAlphaDropout,
)  # fmt: skip
_OUTPUT = (nn.Softmax, nn.LogSoftmax)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)  # containers even when empty
_ATTENTION = (nn.MultiheadAttention,)  # read whole (its out_proj is its own): value and output projections
_SUPPORTED = (*_LINKED, *_NORMS, nn.Flatten, *_ELEMENTWISE, *_OUTPUT)
#: the user's own module types read as wiring (register_wiring)
_REGISTERED_WIRING: set[type[nn.Module]] = set()
#: a function of a module that gives its linear part: (weight (out units, in units), bias (out units,) or None)
LinkAdapter = Callable[[nn.Module], tuple[Any, Any]]
#: the user's own module types that make links, with their adapters (register_links)
_REGISTERED_LINKS: dict[type[nn.Module], LinkAdapter] = {}

_ELEMENTWISE_FUNCTIONS = frozenset(
    "relu relu_ relu6 leaky_relu leaky_relu_ elu elu_ selu selu_ celu celu_ gelu silu mish "
    "tanh tanh_ sigmoid sigmoid_ hardtanh hardtanh_ hardsigmoid hardswish softplus softsign "
    "tanhshrink dropout dropout_ alpha_dropout feature_alpha_dropout dropout1d dropout2d "
    "dropout3d".split()
)
_RESHAPE_FUNCTIONS = frozenset("view reshape flatten squeeze unsqueeze contiguous".split())
_OUTPUT_FUNCTIONS = frozenset({"softmax", "log_softmax"})
_SAME_SHAPE_FUNCTIONS = _ELEMENTWISE_FUNCTIONS | _OUTPUT_FUNCTIONS

_SUPPORTED_TEXT = (
    "cntgraph reads nn.Linear (also at every position of a sequence), nn.Conv1d/2d/3d (padding_mode='zeros'), "
    "nn.ConvTranspose1d/2d, nn.BatchNorm1d/2d/3d (folded into the layer before it, else one-to-one links), "
    "nn.LayerNorm/GroupNorm (their affine part), nn.AvgPool2d/MaxPool2d/AvgPool3d/MaxPool3d and their adaptive forms, nn.Embedding "
    "of the input ids, nn.RNN/LSTM/GRU (batch_first, one or both directions), self-attention (nn.MultiheadAttention, so "
    "nn.TransformerEncoderLayer), means over "
    "positions, residual additions (a + b) and concatenations of channels (torch.cat on dim 1), joined by "
    "parameter-free elementwise modules, Dropout, Identity and Flatten, with Softmax/LogSoftmax only as the "
    "last step (see the README's table of module types)"
)



def trace(model: nn.Module, input_shape: Sequence[int], fold_batchnorm: bool = True) -> Topology:
    """Read ``model`` as a graph of node layers by one forward pass on a zero batch of one sample.

    ``input_shape`` is per sample, e.g. ``(1, 28, 28)`` or ``(784,)``. A BatchNorm right after a
    Linear or Conv is folded into it; with ``fold_batchnorm=False`` (and wherever it cannot be
    folded, e.g. after an activation) it is a node layer of its own, linked one to one. The model is put in eval
    mode and run under ``torch.no_grad()``; every module's training flag is restored afterwards.
    Raises `TopologyError` naming the module or torch function that breaks the rules above, or
    where the forward pass failed if ``input_shape`` does not fit.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 10))
        >>> topo = trace(net, (1, 6, 6))
        >>> [(n.index, n.name, n.shape) for n in topo.node_layers]
        [(0, 'input', (1, 6, 6)), (1, '0', (4, 4, 4)), (2, '3', (10,))]
        >>> topo.layers[0].kind, topo.layers[0].padding, topo.layers[1].in_shape
        ('conv2d', (0, 0), (64,))
    """
    shape = _checked_input_shape(input_shape)
    return _probed(model, torch.zeros((1, *shape), **_input_dtype_and_device(model)), fold_batchnorm, record=False)[0]


@dataclasses.dataclass(frozen=True)
class NodeValues:
    """What every unit of every node layer held on a batch of inputs, as float64 arrays (samples, units).

    ``strength[l]``: the value node layer l's links computed, sum_i w_ij a_i + b_j over its
    incoming links (before any activation function; for a BatchNorm folded into the layer, after
    it; for a recurrent layer, its output). ``activation[l]``: what its units passed on, the
    tensor the next links read (after ReLU and the like; for the output layer, the model's
    output). None where the forward pass does not show it (the input's strength; the inner layers
    of a stacked RNN; one-hot inputs of an embedding).
    """

    topology: Topology
    strength: list[np.ndarray | None]
    activation: list[np.ndarray | None]


def trace_values(model: nn.Module, inputs: torch.Tensor, fold_batchnorm: bool = True) -> NodeValues:
    """`trace` on a batch of real ``inputs`` (eval mode, no gradients), keeping what every node layer held.

    Example:
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
        >>> _ = [nn.init.eye_(net[0].weight), nn.init.zeros_(net[0].bias)]
        >>> values = trace_values(net, torch.tensor([[1.0, -2.0]]))
        >>> values.strength[1].tolist(), values.activation[1].tolist(), values.activation[0].tolist()
        ([[1.0, -2.0]], [[1.0, 0.0]], [[1.0, -2.0]])
    """
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 2 or len(inputs) == 0:
        raise ConfigurationError(f"inputs must be a tensor of shape (samples, ...) with at least one sample, got {inputs!r:.80}")
    topology, probe = _probed(model, inputs, fold_batchnorm, record=True)
    return NodeValues(
        topology,
        [probe.strength_of(node) for node in topology.node_layers],
        [probe.activation_of(node) for node in topology.node_layers],
    )


def _probed(model: nn.Module, batch: torch.Tensor, fold_batchnorm: bool, record: bool) -> tuple[Topology, _GraphProbe]:
    """Run ``model`` on ``batch`` under a probe; the topology read, and the probe (holding any values recorded)."""
    modules = _checked_modules(model)
    probe = _GraphProbe(modules, batch, fold_batchnorm, record)
    with _eval_mode(model), torch.no_grad(), _no_fused_attention(), _hooks(probe, model, modules), probe:
        try:
            output = model(batch)
        except RuntimeError as error:
            raise TopologyError(
                f"input_shape {tuple(batch.shape[1:])} does not fit the model: forward failed {probe.where()}: {error}"
            ) from error
    return probe.topology(output), probe


def weighted_modules(model: nn.Module) -> list[tuple[str, nn.Linear | nn.Conv1d | nn.Conv2d]]:
    """The (dotted path, module) of every Linear/Conv in registration order, without a forward.

    Checks module types only (not the forward wiring, which needs `trace`); raises
    `TopologyError` for an unsupported module. Registration order equals forward order for
    ``nn.Sequential`` and for custom modules that call their layers in the order they define them.

    Example:
        >>> net = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
        >>> [path for path, _ in weighted_modules(net)]
        ['0', '2']
    """
    leaves = _checked_modules(model)
    needs_forward = [
        _step(path, m) for path, m in leaves.items()
        if isinstance(m, (*_LINKED, *_NORMS, *_ATTENTION, *_REGISTERED_LINKS)) and type(m) not in _WEIGHTED
    ]  # fmt: skip
    if needs_forward:
        raise TopologyError(
            f"{', '.join(needs_forward)} can only be read in a forward pass (pooling, normalisation, embedding and "
            "attention layers, and your registered modules, take their links from how the model runs): pass input_shape"
        )
    return [(path, m) for path, m in leaves.items() if isinstance(m, _WEIGHTED)]


def _checked_input_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(input_shape)
    if not shape or not all(isinstance(n, int) and n > 0 for n in shape):
        raise TopologyError(f"input_shape must be a non-empty sequence of positive ints, got {input_shape!r}")
    return shape


def register_wiring(*module_types: type[nn.Module]) -> None:
    """Read modules of ``module_types`` (your own, parameter-free, shape-keeping) as wiring, like ``nn.ReLU``.

    For an elementwise activation or any module whose output unit i depends on input unit i alone:
    it adds no links, so the links of the layers around it are unchanged. A registered module must
    hold no parameters and no submodules, and keep the shape of its input; tracing checks both.

    Example:
        >>> class Swish(nn.Module):
        ...     def forward(self, x):
        ...         return x * torch.sigmoid(x)
        >>> register_wiring(Swish)
        >>> [layer.path for layer in trace(nn.Sequential(nn.Linear(3, 4), Swish(), nn.Linear(4, 2)), (3,)).layers]
        ['0', '2']
    """
    for module_type in module_types:
        if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
            raise ConfigurationError(f"register_wiring takes nn.Module subclasses, got {module_type!r}")
        if issubclass(module_type, _LINKED + _NORMS):
            raise ConfigurationError(f"{module_type.__name__} makes links; it cannot be registered as wiring")
        _REGISTERED_WIRING.add(module_type)


def register_links(module_type: type[nn.Module], adapter: LinkAdapter) -> None:
    """Read modules of ``module_type`` (your own) as a layer of links given by ``adapter``.

    ``adapter(module)`` returns the module's linear part over flat (C, H, W) units: ``(weight,
    bias)``, a tensor or array of shape (output units, input units) whose entry [j, i] is the link
    from input unit i to output unit j, and the bias per output unit (or None), so that the module
    computes ``weight @ x + bias`` on a flattened sample (in eval mode). The module becomes a node
    layer with these dense links, read again at every capture; its submodules are not read on their
    own. Tracing calls the adapter once and checks the shapes.

    Example (a Linear whose weights are masked):
        >>> class MaskedLinear(nn.Linear):
        ...     def __init__(self, n_in, n_out):
        ...         super().__init__(n_in, n_out)
        ...         self.register_buffer("mask", torch.ones(n_out, n_in).tril())
        ...     def forward(self, x):
        ...         return nn.functional.linear(x, self.weight * self.mask, self.bias)
        >>> register_links(MaskedLinear, lambda m: (m.weight * m.mask, m.bias))
        >>> [(layer.path, layer.kind) for layer in trace(nn.Sequential(MaskedLinear(3, 3), nn.ReLU(), nn.Linear(3, 1)), (3,)).layers]
        [('0', 'linear'), ('2', 'linear')]
    """
    if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)) or not callable(adapter):
        raise ConfigurationError(
            f"register_links takes an nn.Module subclass and a function of a module, got {module_type!r}, {adapter!r}"
        )
    _REGISTERED_LINKS[module_type] = adapter


def registered_links(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The (weight, bias) ``register_links`` gives for ``module`` (the adapter of its most specific
    registered type), as tensors; None if no type of it has one.

    Example:
        >>> registered_links(nn.Linear(2, 1)) is None
        True
    """
    adapter = next((_REGISTERED_LINKS[t] for t in type(module).__mro__ if t in _REGISTERED_LINKS), None)  # most specific
    if adapter is None:
        return None
    weight, bias = adapter(module)
    return torch.as_tensor(weight).detach(), None if bias is None else torch.as_tensor(bias).detach()


def _checked_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every leaf module by dotted path, once every module is checked: one error names them all."""
    leaves: dict[str, nn.Module] = {}
    refused: list[str] = []
    inside_registered: list[str] = []  # paths of modules with a link adapter: their submodules are theirs
    for path, module in model.named_modules():
        if any(outer == "" or path.startswith(f"{outer}.") for outer in inside_registered):
            continue
        if isinstance(module, (*_REGISTERED_LINKS, *_ATTENTION)):
            inside_registered.append(path)
            if (why := _unreadable_setting(module)) is not None:
                refused.append(f"{_step(path, module)} {why}")
            else:
                leaves[path] = module
            continue
        has_children = isinstance(module, _CONTAINERS) or next(module.children(), None) is not None
        own = [name for name, p in module._parameters.items() if p is not None]
        if has_children and own:
            refused.append(f"{_step(path, module)} is not supported (it holds weights of its own, "
                           f"{', '.join(own)}, beside its submodules)")  # fmt: skip
        elif isinstance(module, tuple(_REGISTERED_WIRING)):
            if own or has_children:
                refused.append(f"{_step(path, module)} is registered as wiring but holds "
                               f"{'weights' if own else 'submodules'}: wiring has none")  # fmt: skip
            else:
                leaves[path] = module
        elif has_children:
            continue
        elif not isinstance(module, _SUPPORTED):
            refused.append(f"{_step(path, module)} is not supported")
        elif isinstance(module, (*_CONV, *_TRANSPOSED)) and module.padding_mode != "zeros":
            refused.append(f"{_step(path, module)} has padding_mode={module.padding_mode!r}")
        elif (why := _unreadable_setting(module)) is not None:
            refused.append(f"{_step(path, module)} {why}")
        else:
            leaves[path] = module
    if refused:
        raise TopologyError(
            f"{len(refused)} module(s) of {type(model).__name__} cannot be read as links: " + "; ".join(refused)
            + f". {_SUPPORTED_TEXT}. Ways out: a module of your own that maps each unit to itself (an "
            "activation) can be declared wiring with cntgraph.register_wiring(ItsType); one whose output is "
            "linear in its input can give its links with cntgraph.register_links(ItsType, adapter); else "
            "record a sub-module that cntgraph reads (for example the backbone or a classifier head)."
        )
    return leaves


def _unreadable_setting(module: nn.Module) -> str | None:
    """Why a supported module type is not readable with its settings, or None when it is."""
    if isinstance(module, _RECURRENT) and (not module.batch_first or getattr(module, "proj_size", 0)):
        return "is read only with batch_first=True and no projection (proj_size=0)"
    if isinstance(module, nn.Embedding) and module.max_norm is not None:
        return "has max_norm: it rescales its weights in the forward pass, so its links are not its weights"
    if isinstance(module, nn.MultiheadAttention):
        if not module.batch_first:
            return "has batch_first=False: cntgraph reads (batch, positions, features) inputs (pass batch_first=True)"
        if not module._qkv_same_embed_dim or module.bias_k is not None or module.add_zero_attn:
            return "has kdim/vdim, add_bias_kv or add_zero_attn: only self-attention of one embedding size is read"
    if isinstance(module, _NORMS) and not module.track_running_stats:
        return "has track_running_stats=False: it normalises with each batch's statistics, not fixed ones"
    if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d, nn.AvgPool3d, nn.MaxPool3d)) and module.ceil_mode:
        return "has ceil_mode=True: its last windows are cut short (use ceil_mode=False)"
    if isinstance(module, (nn.AvgPool2d, nn.AvgPool3d)) and (not module.count_include_pad or module.divisor_override is not None):
        return "divides by a window size that varies (count_include_pad=False or divisor_override)"
    if isinstance(module, (nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)) and module.return_indices:
        return "has return_indices=True: it returns two tensors"
    return None


def _step(path: str, module: nn.Module) -> str:
    return f"module {_name(path)} ({type(module).__name__})"


def _name(path: str) -> str:
    return repr(path) if path else "<root>"


def _input_dtype_and_device(model: nn.Module) -> dict[str, Any]:
    """Token ids (long) for a model with an embedding, else the dtype and device of its floats."""
    tensors = (t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point())  # running stats too
    first = next(tensors, None)
    device = {} if first is None else {"device": first.device}
    if any(isinstance(m, nn.Embedding) for m in model.modules()):
        return {"dtype": torch.long, **device}
    return {} if first is None else {"dtype": first.dtype, **device}


@contextmanager
def _no_fused_attention() -> Iterator[None]:
    """Turn off torch's fused transformer kernels, so that attention runs as the modules it is made of."""
    mha = getattr(torch.backends, "mha", None)
    if mha is None or not hasattr(mha, "set_fastpath_enabled"):
        yield
        return
    enabled = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(enabled)


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


@contextmanager
def _hooks(probe: _GraphProbe, model: nn.Module, modules: dict[str, nn.Module]) -> Iterator[None]:
    handles = []
    try:
        for path, module in model.named_modules():
            if path in modules and isinstance(module, _ATTENTION):  # its masks come as keyword arguments
                handles.append(module.register_forward_pre_hook(probe.attention_pre_hook(path), with_kwargs=True))
                handles.append(module.register_forward_hook(probe.post_hook(path)))
            elif path in modules:
                handles.append(module.register_forward_pre_hook(probe.pre_hook(path)))
                handles.append(module.register_forward_hook(probe.post_hook(path)))
            else:  # a container: its path names the additions its forward code makes
                handles.append(module.register_forward_pre_hook(probe.enter(path)))
                handles.append(module.register_forward_hook(probe.leave(path)))
        yield
    finally:
        for handle in handles:
            handle.remove()


#: torch functions that add their two tensor operands: a residual addition
_ADD_FUNCTIONS = frozenset({"add", "add_", "__add__", "__radd__", "__iadd__"})
#: torch functions that join tensors along a dimension: wiring when they join channels
_CAT_FUNCTIONS = frozenset({"cat", "concat", "concatenate"})
#: functional pooling: the same links as the module of the same name
_POOL_FUNCTIONS = {
    "adaptive_avg_pool2d": nn.AdaptiveAvgPool2d, "adaptive_max_pool2d": nn.AdaptiveMaxPool2d,
    "adaptive_avg_pool3d": nn.AdaptiveAvgPool3d, "adaptive_max_pool3d": nn.AdaptiveMaxPool3d,
}
#: the node layers whose units, concatenated in this order, are a tensor's units
Sources = tuple[int, ...]


class _GraphProbe(TorchFunctionMode):
    """Follows every tensor computed from the input and records node layers and the links between them.

    Each tracked tensor is known by the node layers whose units it holds (several after a
    ``torch.cat`` of channels). Leaf modules report through forward hooks; torch functions called
    between them (in custom ``forward`` code) report through this torch-function mode. Calls inside
    a leaf are its own.
    """

    def __init__(self, modules: dict[str, nn.Module], sample: torch.Tensor, fold_batchnorm: bool, record: bool = False) -> None:
        super().__init__()
        # with record: node layer -> the tensor its links computed, and the tensor that read its units
        self.record = record
        self.strengths: dict[int, torch.Tensor | None] = {}
        self.activations: dict[int, torch.Tensor] = {}
        self.fold_batchnorm = fold_batchnorm
        self.modules = modules
        self.shape = tuple(sample.shape[1:])
        self.batch = len(sample)
        self.nodes: list[NodeLayer] = [NodeLayer(0, "input", self.shape, math.prod(self.shape))]
        self.layers: list[WeightedLayer] = []
        # id(tensor) -> (the tensor, kept alive so that its id stays its own; its sources, or why it is unreadable)
        self.tracked: dict[int, tuple[torch.Tensor, Sources | str]] = {id(sample): (sample, (0,))}
        self.unread: dict[int, int] = {}  # id of a linked layer's output, not yet read -> its position in layers
        self.running: str | None = None  # the leaf module whose forward is running
        self.scopes: list[str] = []  # the containers whose forward is running
        self.last_step = "the model input"
        self.final_step: str | None = None  # set by a Softmax/LogSoftmax: nothing may follow

    def where(self) -> str:
        return f"in {self.running}" if self.running is not None else f"after {self.last_step}"

    def enter(self, path: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            self.scopes.append(path)

        return hook

    def leave(self, path: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            self.scopes.pop()

        return hook

    def pre_hook(self, path: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            step = _step(path, module)
            self._one_input(step, tree_leaves(args))
            self._check_called_once(step, path, module)
            self.running = step

        return hook

    def attention_pre_hook(self, path: str) -> Callable[[nn.Module, tuple[Any, ...], dict[str, Any]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            step = _step(path, module)
            query = args[0] if args else kwargs.get("query")
            others = [*args[1:3], *(kwargs[k] for k in ("key", "value") if k in kwargs)]
            if any(other is not query for other in others):
                raise TopologyError(f"{step} attends to another tensor than its query: only self-attention (q = k = v) is read")
            self._one_input(step, [query])
            self._check_called_once(step, path, module)
            self.running = step

        return hook

    def post_hook(self, path: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            step = _step(path, module)
            self.running = None
            data = args[0]
            if isinstance(module, _NORMS) and self.fold_batchnorm and self._foldable(data):
                self._fold(step, path, data, output)
                return
            links = isinstance(module, (_ATTENTION, nn.Embedding, *_RECURRENT, *_LINKED, *_NORMS, *_REGISTERED_LINKS))
            sources = self._read(step, data, links)
            if isinstance(module, _ATTENTION):
                self._attention(step, path, module, data, output, sources)
                return
            if isinstance(module, nn.Embedding):
                self._embedding(step, path, module, data, output, sources)
                return
            if isinstance(module, _RECURRENT):
                self._recurrent(step, path, module, data, output, sources)
                return
            if isinstance(module, (*_LINKED, *_NORMS, *_REGISTERED_LINKS)):  # a BatchNorm not folded: one to one
                self._link(step, path, module, data, output, sources)
                return
            if isinstance(module, nn.Flatten):
                _check_batch_kept(step, output, self.batch)
            elif isinstance(module, tuple(_REGISTERED_WIRING)) and (
                not isinstance(output, torch.Tensor) or output.shape != data.shape
            ):
                raise TopologyError(
                    f"{step} is registered as wiring but changes the shape "
                    f"{tuple(data.shape)} -> {tuple(getattr(output, 'shape', ()))}: wiring keeps every unit"
                )
            self._track(step, output, sources, final=isinstance(module, _OUTPUT))

        return hook

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        output = func(*args, **kwargs)
        if self.running is not None or not isinstance(output, torch.Tensor):
            return output
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        if not any(id(t) in self.tracked for t in tensors):
            return output  # a computation on constants, not on the data
        name = getattr(func, "__name__", repr(func))
        step = f"torch function {name!r}" + (f" in module {self.scopes[-1]!r}" if self.scopes and self.scopes[-1] else "")
        if name in _ADD_FUNCTIONS:
            self._add(step, name, args, kwargs, output)
        elif name in _CAT_FUNCTIONS:
            self._cat(step, args, kwargs, output)
        elif name == "mean":
            self._mean(step, args, kwargs, self._one_input(step, tensors), output)
        elif name in _POOL_FUNCTIONS:
            data = self._one_input(step, tensors)
            pool = _POOL_FUNCTIONS[name](*args[1:], **kwargs)
            self._link(step, self._name(name), pool, data, output, self._read(step, data))
        else:
            data = self._one_input(step, tensors)
            if name in _RESHAPE_FUNCTIONS:
                _check_batch_kept(step, output, self.batch)
            elif name not in _SAME_SHAPE_FUNCTIONS or output.shape != data.shape:
                raise TopologyError(f"{step} after {self.last_step} is not wiring cntgraph can read: {_SUPPORTED_TEXT}")
            self._track(step, output, self._read(step, data, links=False), final=name in _OUTPUT_FUNCTIONS)
        return output

    def _check_called_once(self, step: str, path: str, module: nn.Module) -> None:
        """A module with weights makes links once: called again, its weights would be shared."""
        if next(module.parameters(), None) is not None and any(path in (layer.path, layer.folded) for layer in self.layers):
            raise TopologyError(f"{step} is called twice; shared weights are not supported: {_SUPPORTED_TEXT}")

    def _one_input(self, step: str, tensors: list[Any]) -> torch.Tensor:
        """The one tracked tensor ``step`` reads; TopologyError if it reads others too."""
        if self.final_step is not None:
            raise TopologyError(f"{step} comes after {self.final_step}: {_SUPPORTED_TEXT}")
        tensors = [t for t in tensors if isinstance(t, torch.Tensor)]
        if len(tensors) != 1 or id(tensors[0]) not in self.tracked:
            raise TopologyError(
                f"the input of {step} is not just one tensor computed from the model's input (it reads "
                f"{len(tensors)} tensors); cntgraph reads operations on one tensor, additions of two and "
                f"concatenations of channels: {_SUPPORTED_TEXT}"
            )
        return tensors[0]

    def _read(self, step: str, data: torch.Tensor, links: bool = True) -> Sources:
        """The sources of tracked ``data``, now read by ``step`` (so a BatchNorm can no longer fold into it);
        ``links``: ``step`` makes links from them (not wiring)."""
        sources = self.tracked[id(data)][1]
        if isinstance(sources, str):
            raise TopologyError(f"{step} reads {sources}")
        self.unread.pop(id(data), None)
        if self.record and links:  # the first read by links of a node layer's units is what they passed on
            flat = data.reshape(len(data), -1)
            sizes = [self.nodes[s].size for s in sources]
            parts = torch.split(flat, sizes, dim=1) if flat.shape[1] == sum(sizes) else [flat]  # else not their units
            for source, part in zip(sources, parts, strict=False):
                self.activations.setdefault(source, part)
        return sources

    def strength_of(self, node: NodeLayer) -> np.ndarray | None:
        return _flat(self.strengths.get(node.index), node)

    def activation_of(self, node: NodeLayer) -> np.ndarray | None:
        return _flat(self.activations.get(node.index), node)

    def _track(self, step: str, output: Any, sources: Sources, final: bool = False) -> None:
        if not isinstance(output, torch.Tensor):
            raise TopologyError(f"{step} does not return a single tensor: {_SUPPORTED_TEXT}")
        self.tracked[id(output)] = (output, sources)
        self.last_step = step
        if final:
            self.final_step = step

    def _name(self, what: str) -> str:
        """The name of an operation of the forward code of the innermost running container (`_new_node` makes it unique)."""
        return ".".join(filter(None, [self.scopes[-1] if self.scopes else "", what]))

    def _new_node(self, name: str, output: torch.Tensor) -> int:
        """A new node layer named ``name`` (``name_2``, ... when a module without weights runs again)."""
        taken = {node.name for node in self.nodes}
        unique = name if name not in taken else next(f"{name}_{n}" for n in range(2, len(taken) + 2) if f"{name}_{n}" not in taken)
        shape = tuple(output.shape[1:])
        self.nodes.append(NodeLayer(len(self.nodes), unique, shape, math.prod(shape)))
        if self.record:
            self.strengths[len(self.nodes) - 1] = output
        return len(self.nodes) - 1

    def _link(
        self, step: str, path: str, module: nn.Module, data: torch.Tensor, output: Any, sources: Sources
    ) -> None:
        """A module (or functional pooling) that makes links: a new node layer fed by ``sources``."""
        if self.final_step is not None:
            raise TopologyError(f"{step} comes after {self.final_step}: {_SUPPORTED_TEXT}")
        if not isinstance(output, torch.Tensor):
            raise TopologyError(f"{step} does not return a single tensor: {_SUPPORTED_TEXT}")
        index = self._new_node(path, output)
        layer = _linked_layer(index, path, module, data, output)
        self.layers.append(dataclasses.replace(layer, sources=sources))
        self._track(step, output, (index,))
        self.unread[id(output)] = len(self.layers) - 1

    def _attention(
        self, step: str, path: str, module: nn.MultiheadAttention, data: torch.Tensor, output: Any, sources: Sources
    ) -> None:
        """Self-attention as two node layers: the value projection and the output projection. The
        mixing across positions depends on the data, so it is no link: it is read as wiring that
        keeps each position (docs/METRICS.md)."""
        result = output[0] if isinstance(output, tuple) else output
        shape = tuple(data.shape[1:])
        if len(shape) != 2:
            raise TopologyError(f"{step} gets input of shape {tuple(data.shape)}; it must be (batch, positions, features)")
        value = self._new_node(f"{path}.value", result)
        self.layers.append(WeightedLayer(value, path, "positionwise", shape, shape, (), (), (), 1,
                                         module.in_proj_bias is not None, (), sources=sources))  # fmt: skip
        out = self._new_node(f"{path}.out_proj", result)
        self.layers.append(WeightedLayer(out, f"{path}.out_proj", "positionwise", shape, shape, (), (), (), 1,
                                         module.out_proj.bias is not None, (), sources=(value,)))  # fmt: skip
        self._track(step, result, (out,))

    def _recurrent(self, step: str, path: str, module: nn.RNNBase, data: torch.Tensor, output: Any, sources: Sources) -> None:
        """Each layer of a recurrent module (``num_layers`` of them, stacked) as one node layer of
        (time step, hidden) units, named ``path`` (one layer) or ``path.l0``, ``path.l1``..., with its
        input-to-hidden links at every step (from the layer below, or the module's input) and its
        hidden-to-hidden links from each step to the next. A bidirectional module's node layers have
        (time step, 2 hidden) units, as its output does: the forward direction's features, then the
        backward direction's, whose hidden-to-hidden links go from each step to the one before."""
        result = output[0] if isinstance(output, tuple) else output
        if data.dim() != 3:
            raise TopologyError(f"{step} gets input of shape {tuple(data.shape)}; it must be (batch, time steps, features)")
        in_shape, out_shape = tuple(data.shape[1:]), tuple(result.shape[1:])
        for stack in range(module.num_layers):
            index = self._new_node(path if module.num_layers == 1 else f"{path}.l{stack}", result)
            self.layers.append(WeightedLayer(index, path, "positionwise", in_shape, out_shape, (), (), (), 1, module.bias, (),
                                             sources=sources, stack=stack))  # fmt: skip
            directions = 2 if module.bidirectional else 1
            for kind in ("recurrent", "recurrent_reverse")[:directions]:
                self.layers.append(WeightedLayer(index, path, kind, out_shape, out_shape, (), (), (), directions, False, (),
                                                 sources=(index,), stack=stack))  # fmt: skip
            if self.record and stack < module.num_layers - 1:
                self.strengths[index] = None  # only the last layer's states come out of the module
            in_shape, sources = out_shape, (index,)
        self._track(step, result, sources)

    def _embedding(
        self, step: str, path: str, module: nn.Embedding, data: torch.Tensor, output: Any, sources: Sources
    ) -> None:
        """An embedding of the model's input ids: a Linear on one-hot inputs, so the input's units are
        (position, vocabulary entry) and the links (l, v) -> (l, d) weigh E[v, d]."""
        if sources != (0,) or data.dim() != 2 or any(0 in layer.sources for layer in self.layers):
            raise TopologyError(
                f"{step} is read only as the first layer, on the model's input: token ids of shape (batch, positions)"
            )
        positions, vocabulary = data.shape[1], module.num_embeddings
        self.nodes[0] = NodeLayer(0, "input", (positions, vocabulary), positions * vocabulary)
        index = self._new_node(path, output)
        in_shape, out_shape = (positions, vocabulary), tuple(output.shape[1:])
        self.layers.append(WeightedLayer(index, path, "positionwise", in_shape, out_shape, (), (), (), 1, False, (), sources=(0,)))
        self._track(step, output, (index,))
        self.unread[id(output)] = len(self.layers) - 1

    def _mean(self, step: str, args: tuple, kwargs: dict, data: torch.Tensor, output: torch.Tensor) -> None:
        """A mean over the positions of (batch, positions, features): fixed links of weight 1/positions."""
        dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
        if data.dim() != 3 or dim not in (1, -2, (1,), [1]) or kwargs.get("keepdim") or len(args) > 2:
            raise TopologyError(
                f"{step} is read only as a mean over the positions of (batch, positions, features), "
                f"x.mean(dim=1), got dim={dim} on shape {tuple(data.shape)}: {_SUPPORTED_TEXT}"
            )
        shape = tuple(data.shape[1:])
        index = self._new_node(self._name("mean"), output)
        sources = self._read(step, data)
        self.layers.append(WeightedLayer(index, self.nodes[index].name, "positions", shape, tuple(output.shape[1:]),
                                         (), (), (), 1, False, (), sources=sources))  # fmt: skip
        self._track(step, output, (index,))

    def _foldable(self, data: torch.Tensor) -> bool:
        """Whether ``data`` is the output of a Linear or Conv that nothing else has read (nor folded)."""
        position = self.unread.get(id(data))
        if position is None:
            return False
        layer = self.layers[position]
        registered = isinstance(self.modules.get(layer.path), tuple(_REGISTERED_LINKS))  # its adapter gives its weights
        return layer.kind in _FOLDABLE and layer.folded is None and not registered

    def _fold(self, step: str, path: str, data: torch.Tensor, output: Any) -> None:
        """Fold BatchNorm ``path`` into the Linear or Conv layer whose output ``data`` it normalises."""
        position = self.unread.pop(id(data))
        layer = self.layers[position]
        self.layers[position] = dataclasses.replace(layer, folded=path, has_bias=True)
        if self.record:
            self.strengths[layer.index] = output
        self.tracked[id(data)] = (data, f"the output of module {layer.path!r} before {step}, which is folded into it")
        self._track(step, output, (layer.index,))

    def _add(self, step: str, name: str, args: tuple, kwargs: dict, output: torch.Tensor) -> None:
        """``a + b`` of two tracked tensors of the same shape: a node layer with identity links from each."""
        operands = [a for a in args[:2] if isinstance(a, torch.Tensor)]
        known = [a for a in operands if id(a) in self.tracked]
        if len(args) != 2 or kwargs or len(known) != 2 or any(a.shape != output.shape for a in known):
            raise TopologyError(
                f"{step} after {self.last_step} is not a residual addition cntgraph can read: it adds two tensors "
                f"computed from the input, of the same shape, without a scale (alpha) or a constant: {_SUPPORTED_TEXT}"
            )
        sources = [self._read(step, a) for a in known]
        if set(sources[0]) & set(sources[1]):
            raise TopologyError(f"{step} adds units of node layers {sources} to themselves: {_SUPPORTED_TEXT}")
        index = self._new_node(self._name("add"), output)
        shape = tuple(output.shape[1:])
        for operand in sources:
            self.layers.append(
                WeightedLayer(index, self.nodes[index].name, "identity", shape, shape, (), (), (), 1, False, (), sources=operand)
            )
        self._track(step, output, (index,))

    def _cat(self, step: str, args: tuple, kwargs: dict, output: torch.Tensor) -> None:
        """``torch.cat`` of tracked tensors along the channels (dimension 1): wiring, the sources joined."""
        parts = list(args[0]) if args and isinstance(args[0], (list, tuple)) else []
        dim = kwargs.get("dim", args[1] if len(args) > 1 else 0)
        if (
            not parts or any(not isinstance(p, torch.Tensor) or id(p) not in self.tracked for p in parts)
            or dim % output.dim() != 1
        ):  # fmt: skip
            raise TopologyError(
                f"{step} is read only when it joins tensors computed from the input along dimension 1 (the "
                f"channels or features), got dim={dim}: {_SUPPORTED_TEXT}"
            )
        sources = tuple(s for part in parts for s in self._read(step, part, links=False))
        if len(set(sources)) != len(sources):
            raise TopologyError(f"{step} joins node layers {sources}, some twice: {_SUPPORTED_TEXT}")
        self._track(step, output, sources)

    def topology(self, output: Any) -> Topology:
        if self.final_step is None and not isinstance(output, torch.Tensor) or id(output) not in self.tracked:
            raise TopologyError(f"the model's output is not one tensor computed from its input: {_SUPPORTED_TEXT}")
        sources = self._read("the model's output", output)
        called = {layer.path for layer in self.layers} | {layer.folded for layer in self.layers}
        unused = [p for p, m in self.modules.items() if isinstance(m, (*_WEIGHTED, *_NORMS)) and p not in called]
        if unused:
            raise TopologyError(f"weighted modules {unused} are never called in forward: {_SUPPORTED_TEXT}")
        if not self.layers:
            raise TopologyError(f"the model has no layer that makes links: {_SUPPORTED_TEXT}")
        topology = Topology(node_layers=tuple(self.nodes), layers=tuple(self.layers))
        if len(sources) != 1 or topology.sinks != set(sources):
            dead = sorted(topology.sinks - set(sources))
            raise TopologyError(
                f"the model's output must be the output of one layer that makes links, and every other such "
                f"layer must feed the output; the output holds node layers {[self.nodes[s].name for s in sources]}"
                + (f" and {[self.nodes[s].name for s in dead]} reach no output" if dead else "")
            )
        return topology


def _flat(values: torch.Tensor | None, node: NodeLayer) -> np.ndarray | None:
    """``values`` as float64 (samples, units) in the node layer's flat unit order; None if they are not its units."""
    if values is None or values[0].numel() != node.size:
        return None
    return values.detach().reshape(len(values), -1).to(torch.float64).cpu().numpy()


def _check_batch_kept(step: str, output: torch.Tensor, batch: int) -> None:
    if output.dim() < 2 or output.shape[0] != batch:
        raise TopologyError(
            f"{step} does not keep the batch dimension (shape {tuple(output.shape)} for a batch of {batch})"
        )


#: the kinds a BatchNorm may be folded into
_FOLDABLE = frozenset({"linear", "conv1d", "conv2d", "conv3d"})


def _linked_layer(index: int, path: str, module: nn.Module, data: torch.Tensor, output: torch.Tensor) -> WeightedLayer:
    """The layer of links that ``module`` makes, read off its settings and its input and output."""
    in_shape, out_shape = tuple(data.shape[1:]), tuple(output.shape[1:])
    if (links := registered_links(module)) is not None:
        return _registered_layer(index, path, module, in_shape, out_shape, *links)
    if isinstance(module, _NORMS):  # torch has checked its input: (N, C), (N, C, L) or (N, C, H, W)
        return WeightedLayer(index, path, "batchnorm", in_shape, out_shape, (), (), (), 1, True, ())
    if isinstance(module, _AFFINE_NORMS):
        kind = "layernorm" if isinstance(module, nn.LayerNorm) else "groupnorm"
        return WeightedLayer(index, path, kind, in_shape, out_shape, (), (), (), 1, getattr(module, "bias", None) is not None, ())
    if isinstance(module, nn.Linear) and data.dim() == 3:  # (batch, positions, features): at every position
        return WeightedLayer(index, path, "positionwise", in_shape, out_shape, (), (), (), 1, module.bias is not None, ())
    expected_dim = (
        2 if isinstance(module, nn.Linear) else 3 if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d))
        else 5 if isinstance(module, (nn.Conv3d, nn.AvgPool3d, nn.MaxPool3d, nn.AdaptiveAvgPool3d, nn.AdaptiveMaxPool3d)) else 4
    )  # fmt: skip
    if data.dim() != expected_dim:
        wanted = {2: "features", 3: "C, L", 4: "C, H, W", 5: "C, D, H, W"}[expected_dim]
        raise TopologyError(
            f"module {_name(path)} ({type(module).__name__}) gets input of shape {tuple(data.shape)}; "
            f"it must be (batch, {wanted}), e.g. add nn.Flatten"
        )
    if isinstance(module, nn.Linear):
        return WeightedLayer(index, path, "linear", in_shape, out_shape, (), (), (), 1, module.bias is not None, ())

    if isinstance(module, nn.Conv1d):  # a Conv2d of height 1: the flat (C, L) order of units is kept
        return WeightedLayer(
            index, path, "conv1d", (in_shape[0], 1, in_shape[1]), (out_shape[0], 1, out_shape[1]),
            stride=(1, *module.stride), padding=(0, *_padding_before(module)), dilation=(1, *module.dilation),
            groups=module.groups, has_bias=module.bias is not None, kernel_size=(1, *module.kernel_size),
        )  # fmt: skip
    if isinstance(module, _TRANSPOSED):  # links: those of the convolution it transposes, reversed
        flat = isinstance(module, nn.ConvTranspose1d)  # read as height 1, as a Conv1d
        lift = (lambda values: (1, *values)) if flat else tuple
        shapes = ((in_shape[0], 1, in_shape[1]), (out_shape[0], 1, out_shape[1])) if flat else (in_shape, out_shape)
        return WeightedLayer(
            index, path, "convtranspose1d" if flat else "convtranspose2d", *shapes,
            stride=lift(module.stride), padding=(0, *module.padding) if flat else tuple(module.padding),
            dilation=lift(module.dilation), groups=module.groups, has_bias=module.bias is not None,
            kernel_size=lift(module.kernel_size),
        )  # fmt: skip
    if isinstance(module, (nn.Conv2d, nn.Conv3d)):
        return WeightedLayer(
            index, path, "conv2d" if isinstance(module, nn.Conv2d) else "conv3d", in_shape, out_shape,
            stride=tuple(module.stride), padding=_padding_before(module), dilation=tuple(module.dilation),
            groups=module.groups, has_bias=module.bias is not None, kernel_size=tuple(module.kernel_size),
        )  # fmt: skip
    return _pool_layer(index, path, module, in_shape, out_shape)


def _registered_layer(
    index: int, path: str, module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
    weight: torch.Tensor, bias: torch.Tensor | None,
) -> WeightedLayer:
    """A module with a link adapter: dense links between its flat input and output units."""
    n_in, n_out = math.prod(in_shape), math.prod(out_shape)
    if tuple(weight.shape) != (n_out, n_in) or (bias is not None and tuple(bias.shape) != (n_out,)):
        raise TopologyError(
            f"the link adapter of {_step(path, module)} gives a weight of shape {tuple(weight.shape)} and a bias of "
            f"shape {None if bias is None else tuple(bias.shape)}; its input has {n_in} units and its output "
            f"{n_out}, so they must be ({n_out}, {n_in}) and ({n_out},) or None"
        )
    return WeightedLayer(index, path, "linear", (n_in,), (n_out,), (), (), (), 1, bias is not None, ())


def _pool_layer(
    index: int, path: str, module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> WeightedLayer:
    """A pooling layer as fixed links over each channel's windows (one group per channel)."""
    kind = "maxpool" if isinstance(module, (nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)) else "avgpool"
    axes = len(in_shape) - 1  # (depth,) height, width
    kind += f"{axes}d"
    if isinstance(module, _ADAPTIVE_POOLS):
        if any(n % m for n, m in zip(in_shape[1:], out_shape[1:], strict=True)):  # windows of unequal sizes: a windows matrix
            return WeightedLayer(index, path, f"adaptivepool{axes}d", in_shape, out_shape, (), (), (), 1, False, ())
        kernel = tuple(n // m for n, m in zip(in_shape[1:], out_shape[1:], strict=True))
        stride, padding, dilation = kernel, (0,) * axes, (1,) * axes
    else:
        kernel = _per_axis(module.kernel_size, axes)
        stride = _per_axis(module.stride if module.stride is not None else module.kernel_size, axes)
        padding = _per_axis(module.padding, axes)
        dilation = _per_axis(getattr(module, "dilation", 1), axes)
    return WeightedLayer(index, path, kind, in_shape, out_shape, stride, padding, dilation, in_shape[0], False, kernel)


def _per_axis(value: int | Sequence[int], axes: int) -> tuple[int, ...]:
    return (value,) * axes if isinstance(value, int) else tuple(int(v) for v in value)


def _padding_before(module: nn.Conv1d | nn.Conv2d) -> tuple[int, ...]:
    """Zero rows/columns torch adds before the input, per axis (torch's rule for 'same')."""
    padding = module.padding
    if padding == "valid":
        return (0,) * len(module.kernel_size)
    if padding == "same":
        return tuple(d * (k - 1) // 2 for d, k in zip(module.dilation, module.kernel_size, strict=True))
    assert isinstance(padding, tuple)  # torch turns int padding into a tuple
    return padding
