"""Read a PyTorch model as a layered neuron graph (a :class:`~cntgraph.core.network.Topology`).

`trace` runs one forward pass on a zero batch of one sample and watches it with hooks. It accepts
a simple chain of layers that make links, in ``nn.Sequential`` or in nested custom modules:

- ``nn.Linear``, ``nn.Conv1d``, ``nn.Conv2d`` (zero padding), ``nn.ConvTranspose1d`` and
  ``nn.ConvTranspose2d``, whose weights are the links;
- ``nn.BatchNorm1d``/``nn.BatchNorm2d`` right after one of them, folded into its weights and bias
  with the running statistics (eval mode): a BatchNorm adds no node layer;
- ``nn.AvgPool2d``, ``nn.MaxPool2d`` and their adaptive forms (when the input size is a multiple
  of the output size), each a node layer with fixed links of weight 1/|window| (docs/METRICS.md);

joined by parameter-free wiring (elementwise activations, dropout, identity, flatten/view/reshape),
and raises `TopologyError` for anything else.

Wiring rules:

- Elementwise modules and the matching functional calls (``F.relu``, ``x.tanh()``...) are wiring.
  A stateless elementwise module may be called more than once (a shared ``self.act``); a weighted
  layer may not (shared weights are not a layered graph).
- ``nn.Flatten`` and ``view``/``reshape``/``flatten``/``squeeze``/``unsqueeze``/``contiguous``
  keep the batch dimension and the flat (C, H, W) order of units, so they are wiring too.
- ``nn.Softmax``/``nn.LogSoftmax`` (and ``F.softmax``/``F.log_softmax``) are not elementwise; they
  are accepted only as the very last step, as output wiring that adds no layer.
- Everything else computed on the data between layers (``torch.cat``, ``x + y``, functional
  pooling, indexing, ``x * 2``...) and every other module (LayerNorm, embeddings, RNNs, attention,
  ``nn.Unflatten``...) raises `TopologyError`, naming every such module at once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from cntgraph.core.network import NodeLayer, Topology, WeightedLayer
from cntgraph.errors import ConfigurationError, TopologyError

__all__ = ["register_wiring", "trace", "weighted_modules"]

_CONV = (nn.Conv1d, nn.Conv2d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d)
_WEIGHTED = (nn.Linear, *_CONV, *_TRANSPOSED)  # modules whose weights are links
_POOLS = (nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)  # fixed links
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)  # folded into the weighted layer before them
_LINKED = (*_WEIGHTED, *_POOLS)  # modules that make a node layer
_ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardsigmoid, nn.Hardswish, nn.Softplus, nn.Softsign,
    nn.Tanhshrink, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
    nn.AlphaDropout, nn.FeatureAlphaDropout,
)  # fmt: skip
_OUTPUT = (nn.Softmax, nn.LogSoftmax)
_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)  # containers even when empty
_SUPPORTED = (*_LINKED, *_NORMS, nn.Flatten, *_ELEMENTWISE, *_OUTPUT)
#: the user's own module types read as wiring (register_wiring)
_REGISTERED_WIRING: set[type[nn.Module]] = set()

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
    "cntgraph supports a simple chain of nn.Linear, nn.Conv1d, nn.Conv2d (padding_mode='zeros'), "
    "nn.ConvTranspose1d/2d, "
    "each optionally followed by a BatchNorm1d/2d (folded into it), and nn.AvgPool2d/MaxPool2d and "
    "their adaptive forms, joined by parameter-free elementwise modules, Dropout, Identity and "
    "Flatten, with Softmax/LogSoftmax only as the last step"
)



def trace(model: nn.Module, input_shape: Sequence[int]) -> Topology:
    """Read ``model`` as a layered graph by one forward pass on a zero batch of one sample.

    ``input_shape`` is per sample, e.g. ``(1, 28, 28)`` or ``(784,)``. The model is put in eval
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
    modules = _checked_modules(model)
    sample = torch.zeros((1, *shape), **_input_dtype_and_device(model))
    probe = _ChainProbe(modules, sample)
    with _eval_mode(model), torch.no_grad(), _hooks(probe, modules), probe:
        try:
            output = model(sample)
        except RuntimeError as error:
            raise TopologyError(
                f"input_shape {shape} does not fit the model: forward failed {probe.where()}: {error}"
            ) from error
    return probe.topology(shape, output)


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
    needs_forward = [_step(path, m) for path, m in leaves.items() if isinstance(m, (*_POOLS, *_NORMS))]
    if needs_forward:
        raise TopologyError(
            f"{', '.join(needs_forward)} can only be read in a forward pass (pooling layers are node layers, "
            "BatchNorm is folded into the layer before it): pass input_shape"
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


def _checked_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every leaf module by dotted path, once every module is checked: one error names them all."""
    leaves: dict[str, nn.Module] = {}
    refused: list[str] = []
    for path, module in model.named_modules():
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
            + f". {_SUPPORTED_TEXT}. Ways out today: a module of your own that maps each unit to itself (an "
            "activation) can be declared wiring with cntgraph.register_wiring(ItsType); else record a "
            "sub-module made of such a chain (for example a classifier head)."
        )
    return leaves


def _unreadable_setting(module: nn.Module) -> str | None:
    """Why a supported module type is not readable with its settings, or None when it is."""
    if isinstance(module, _NORMS) and not module.track_running_stats:
        return "has track_running_stats=False: it normalises with each batch's statistics, not fixed ones"
    if isinstance(module, (nn.AvgPool2d, nn.MaxPool2d)) and module.ceil_mode:
        return "has ceil_mode=True: its last windows are cut short (use ceil_mode=False)"
    if isinstance(module, nn.AvgPool2d) and (not module.count_include_pad or module.divisor_override is not None):
        return "divides by a window size that varies (count_include_pad=False or divisor_override)"
    if isinstance(module, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)) and module.return_indices:
        return "has return_indices=True: it returns two tensors"
    return None


def _step(path: str, module: nn.Module) -> str:
    return f"module {_name(path)} ({type(module).__name__})"


def _name(path: str) -> str:
    return repr(path) if path else "<root>"


def _input_dtype_and_device(model: nn.Module) -> dict[str, Any]:
    param = next(model.parameters(), None)
    if param is None or not param.is_floating_point():
        return {}
    return {"dtype": param.dtype, "device": param.device}


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
def _hooks(probe: _ChainProbe, modules: dict[str, nn.Module]) -> Iterator[None]:
    handles = []
    try:
        for path, module in modules.items():
            handles.append(module.register_forward_pre_hook(probe.pre_hook(path)))
            handles.append(module.register_forward_hook(probe.post_hook(path)))
        yield
    finally:
        for handle in handles:
            handle.remove()


class _ChainProbe(TorchFunctionMode):
    """Follows the one tensor that flows through the chain and records the weighted layers.

    Leaf modules report through forward hooks; torch functions called between them (in custom
    ``forward`` code) report through this torch-function mode. Calls inside a leaf are its own.
    """

    def __init__(self, modules: dict[str, nn.Module], sample: torch.Tensor) -> None:
        super().__init__()
        self.modules = modules
        self.current = sample  # the tensor the next step must consume
        self.running: str | None = None  # the leaf module whose forward is running
        self.last_step = "the model input"
        self.final_step: str | None = None  # set by a Softmax/LogSoftmax: nothing may follow
        self.layers: list[WeightedLayer] = []

    def where(self) -> str:
        return f"in {self.running}" if self.running is not None else f"after {self.last_step}"

    def pre_hook(self, path: str) -> Callable[[nn.Module, tuple[Any, ...]], None]:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            step = _step(path, module)
            self._check_consumes(step, tree_leaves(args))
            if isinstance(module, _WEIGHTED) and any(layer.path == path for layer in self.layers):
                raise TopologyError(
                    f"{step} is called twice; shared weights are not supported: {_SUPPORTED_TEXT}"
                )
            self.running = step

        return hook

    def post_hook(self, path: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            step = _step(path, module)
            self.running = None
            if isinstance(module, _LINKED):
                self.layers.append(_linked_layer(len(self.layers) + 1, path, module, args[0], output))
            elif isinstance(module, _NORMS):
                self._fold(step, path, module)
            elif isinstance(module, nn.Flatten):
                _check_batch_kept(step, output)
            elif isinstance(module, tuple(_REGISTERED_WIRING)) and (
                not isinstance(output, torch.Tensor) or output.shape != args[0].shape
            ):
                raise TopologyError(
                    f"{step} is registered as wiring but changes the shape "
                    f"{tuple(args[0].shape)} -> {tuple(getattr(output, 'shape', ()))}: wiring keeps every unit"
                )
            self._advance(step, output, final=isinstance(module, _OUTPUT))

        return hook

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        output = func(*args, **(kwargs or {}))
        if self.running is not None or not isinstance(output, torch.Tensor):
            return output
        name = getattr(func, "__name__", repr(func))
        step = f"torch function {name!r}"
        self._check_consumes(step, tree_leaves((args, kwargs)))
        inputs_shape = self.current.shape  # the one input, as just checked
        if name in _RESHAPE_FUNCTIONS:
            _check_batch_kept(step, output)
        elif name not in _SAME_SHAPE_FUNCTIONS or output.shape != inputs_shape:
            raise TopologyError(
                f"{step} after {self.last_step} is not wiring cntgraph can read: {_SUPPORTED_TEXT}"
            )
        self._advance(step, output, final=name in _OUTPUT_FUNCTIONS)
        return output

    def _fold(self, step: str, path: str, norm: nn.Module) -> None:
        """Fold BatchNorm ``norm`` into the Linear or Conv layer whose output it just normalised."""
        last = self.layers[-1] if self.layers else None
        if last is None or last.kind not in _FOLDABLE or last.folded is not None or self.last_step != _step(
            last.path, self.modules[last.path]
        ):
            raise TopologyError(
                f"{step} does not directly follow a Linear or Conv layer (it follows {self.last_step}); "
                "cntgraph folds a BatchNorm into the weights of the layer right before it"
            )
        self.layers[-1] = dataclasses.replace(last, folded=path, has_bias=True)

    def _check_consumes(self, step: str, inputs: list[Any]) -> None:
        if self.final_step is not None:
            raise TopologyError(f"{step} comes after {self.final_step}: {_SUPPORTED_TEXT}")
        tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
        if len(tensors) != 1 or tensors[0] is not self.current:
            raise TopologyError(
                f"the input of {step} is not just the output of {self.last_step}; "
                f"the model is not a simple chain: {_SUPPORTED_TEXT}"
            )

    def _advance(self, step: str, output: Any, final: bool) -> None:
        if not isinstance(output, torch.Tensor):
            raise TopologyError(f"{step} does not return a single tensor: {_SUPPORTED_TEXT}")
        self.current = output
        self.last_step = step
        if final:
            self.final_step = step

    def topology(self, input_shape: tuple[int, ...], output: Any) -> Topology:
        if output is not self.current:
            raise TopologyError(
                f"the model's output is not the output of {self.last_step}: {_SUPPORTED_TEXT}"
            )
        called = {layer.path for layer in self.layers} | {layer.folded for layer in self.layers}
        unused = [p for p, m in self.modules.items() if isinstance(m, (*_WEIGHTED, *_NORMS)) and p not in called]
        if unused:
            raise TopologyError(f"weighted modules {unused} are never called in forward: {_SUPPORTED_TEXT}")
        if not self.layers:
            raise TopologyError(f"the model has no layer that makes links: {_SUPPORTED_TEXT}")
        inputs = NodeLayer(0, "input", input_shape, math.prod(input_shape))
        outputs = [NodeLayer(w.index, w.path, w.out_shape, math.prod(w.out_shape)) for w in self.layers]
        return Topology(node_layers=(inputs, *outputs), layers=tuple(self.layers))


def _check_batch_kept(step: str, output: torch.Tensor) -> None:
    if output.dim() < 2 or output.shape[0] != 1:
        raise TopologyError(
            f"{step} does not keep the batch dimension (shape {tuple(output.shape)} for a batch of 1)"
        )


#: the kinds a BatchNorm may be folded into
_FOLDABLE = frozenset({"linear", "conv1d", "conv2d"})


def _linked_layer(index: int, path: str, module: nn.Module, data: torch.Tensor, output: torch.Tensor) -> WeightedLayer:
    """The layer of links that ``module`` makes, read off its settings and its input and output."""
    in_shape, out_shape = tuple(data.shape[1:]), tuple(output.shape[1:])
    expected_dim = 2 if isinstance(module, nn.Linear) else 3 if isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)) else 4
    if data.dim() != expected_dim:
        wanted = {2: "features", 3: "C, L", 4: "C, H, W"}[expected_dim]
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
    if isinstance(module, nn.Conv2d):
        return WeightedLayer(
            index, path, "conv2d", in_shape, out_shape,
            stride=tuple(module.stride), padding=_padding_before(module), dilation=tuple(module.dilation),
            groups=module.groups, has_bias=module.bias is not None, kernel_size=tuple(module.kernel_size),
        )  # fmt: skip
    return _pool_layer(index, path, module, in_shape, out_shape)


def _pool_layer(
    index: int, path: str, module: nn.Module, in_shape: tuple[int, ...], out_shape: tuple[int, ...]
) -> WeightedLayer:
    """A pooling layer as fixed links over each channel's windows (one group per channel)."""
    kind = "maxpool2d" if isinstance(module, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)) else "avgpool2d"
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        (_, height, width), (_, out_height, out_width) = in_shape, out_shape
        if height % out_height or width % out_width:
            raise TopologyError(
                f"module {_name(path)} ({type(module).__name__}) pools {height}x{width} into {out_height}x{out_width}: "
                "windows of unequal sizes, which cntgraph reads only when the input size is a multiple of the output size"
            )
        kernel = (height // out_height, width // out_width)
        stride, padding, dilation = kernel, (0, 0), (1, 1)
    else:
        kernel = _pair(module.kernel_size)
        stride = _pair(module.stride if module.stride is not None else module.kernel_size)
        padding = _pair(module.padding)
        dilation = _pair(getattr(module, "dilation", 1))
    return WeightedLayer(index, path, kind, in_shape, out_shape, stride, padding, dilation, in_shape[0], False, kernel)


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _padding_before(module: nn.Conv1d | nn.Conv2d) -> tuple[int, ...]:
    """Zero rows/columns torch adds before the input, per axis (torch's rule for 'same')."""
    padding = module.padding
    if padding == "valid":
        return (0,) * len(module.kernel_size)
    if padding == "same":
        return tuple(d * (k - 1) // 2 for d, k in zip(module.dilation, module.kernel_size, strict=True))
    assert isinstance(padding, tuple)  # torch turns int padding into a tuple
    return padding
