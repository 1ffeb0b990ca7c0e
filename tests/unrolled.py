"""Test oracle: the unrolled neuron graph built link by link, straight from cnt-metrics.md.

Deliberately naive and independent of cntgraph: python loops over output positions and kernel
offsets, networkx for the graph, math.fsum for the sums. Also a hypothesis strategy that draws
small random chains of Conv2d/Linear layers in nested containers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import assume
from hypothesis import strategies as st
from torch import nn


@dataclass
class Unrolled:
    graph: nx.DiGraph  # nodes (layer, unit) with attribute "bias"; edges with attribute "weight"
    sizes: list[int]  # units per node layer 0..K

    def s_in(self, layer: int) -> np.ndarray:
        if layer == 0:
            return np.ones(self.sizes[0])
        return np.array(
            [
                math.fsum(
                    [self.graph.nodes[(layer, j)]["bias"]]
                    + [w for *_, w in self.graph.in_edges((layer, j), data="weight")]
                )
                for j in range(self.sizes[layer])
            ]
        )

    def s_out(self, layer: int) -> np.ndarray:
        if layer == len(self.sizes) - 1:
            return np.ones(self.sizes[layer])
        return np.array(
            [
                math.fsum(w for *_, w in self.graph.out_edges((layer, i), data="weight"))
                for i in range(self.sizes[layer])
            ]
        )

    def links(self, layer: int) -> dict[tuple[int, int], float]:
        """{(src unit, dst unit): weight} of weighted layer ``layer``."""
        return {(i, j): w for (_, i), (lj, j), w in self.graph.edges(data="weight") if lj == layer}


def unrolled(model: nn.Module, input_shape: tuple[int, ...]) -> Unrolled:
    """The graph of a chain whose Linear/Conv2d modules run in registration order."""
    graph = nx.DiGraph()
    shape = tuple(input_shape)
    sizes = [math.prod(shape)]
    graph.add_nodes_from((0, i) for i in range(sizes[0]))
    weighted = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    for layer, module in enumerate(weighted, start=1):
        if isinstance(module, nn.Linear):
            out_shape = (module.out_features,)
            _add_linear(graph, layer, module)
        else:
            with torch.no_grad():
                out_shape = tuple(module(torch.zeros(1, *shape)).shape[1:])
            _add_conv2d(graph, layer, module, shape, out_shape)
        shape = out_shape
        sizes.append(math.prod(shape))
    return Unrolled(graph, sizes)


def _params(module: nn.Module) -> tuple[np.ndarray, np.ndarray]:
    weight = module.weight.detach().double().numpy()
    bias = np.zeros(weight.shape[0]) if module.bias is None else module.bias.detach().double().numpy()
    return weight, bias


def _add_linear(graph: nx.DiGraph, layer: int, module: nn.Linear) -> None:
    weight, bias = _params(module)
    for j in range(module.out_features):
        graph.add_node((layer, j), bias=float(bias[j]))
        for i in range(module.in_features):
            graph.add_edge((layer - 1, i), (layer, j), weight=float(weight[j, i]))


def _add_conv2d(graph: nx.DiGraph, layer: int, module: nn.Conv2d, in_shape: tuple, out_shape: tuple) -> None:
    """Link (c_in, p, q) -> (c_out, y, x) when p = y*s - pad + u*d, q likewise, is inside the input."""
    weight, bias = _params(module)
    (c_in, height, width), (c_out, out_height, out_width) = in_shape, out_shape
    kh, kw = module.kernel_size
    (sh, sw), (dh, dw) = module.stride, module.dilation
    if module.padding == "same":  # torch pads d*(k-1)//2 before, the rest after
        ph, pw = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    elif module.padding == "valid":
        ph, pw = 0, 0
    else:
        ph, pw = module.padding
    in_per_group, out_per_group = c_in // module.groups, c_out // module.groups
    for co in range(c_out):
        for y in range(out_height):
            for x in range(out_width):
                j = (co * out_height + y) * out_width + x
                graph.add_node((layer, j), bias=float(bias[co]))
                for ci_local in range(in_per_group):
                    ci = (co // out_per_group) * in_per_group + ci_local
                    for u in range(kh):
                        for v in range(kw):
                            p, q = y * sh - ph + u * dh, x * sw - pw + v * dw
                            if 0 <= p < height and 0 <= q < width:
                                i = (ci * height + p) * width + q
                                assert not graph.has_edge((layer - 1, i), (layer, j))
                                graph.add_edge(
                                    (layer - 1, i), (layer, j), weight=float(weight[co, ci_local, u, v])
                                )


class ReluAfter(nn.Module):
    """A custom container: runs its children, then a functional relu."""

    def __init__(self, *children: nn.Module) -> None:
        super().__init__()
        self.body = nn.Sequential(*children)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x))


@st.composite
def conv2d_layers(draw: st.DrawFn, shape: tuple[int, int, int]) -> tuple[nn.Conv2d, tuple[int, int, int]]:
    """A random Conv2d that fits ``shape`` and the (C, H, W) shape of its output."""
    c_in = shape[0]
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if c_in % g == 0]))
    c_out = groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 4)))
    stride = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 2), (3, 2)]))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    paddings = [st.just("valid"), st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))]
    if stride == (1, 1):  # torch allows 'same' only without stride
        paddings.append(st.just("same"))
    padding = draw(st.one_of(*paddings))
    module = nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, groups, bias=draw(st.booleans()))
    with torch.no_grad():
        try:
            out_shape = tuple(module(torch.zeros(1, *shape)).shape[1:])
        except RuntimeError:
            assume(False)  # kernel larger than the (padded) input
    return module, out_shape


@st.composite
def networks(draw: st.DrawFn) -> tuple[nn.Module, tuple[int, ...]]:
    """A random small chain: 0-2 Conv2d, then Flatten and 0-2 Linear (at least one layer in all),
    activations and dropout in between, parts of it nested in Sequential and custom modules."""
    torch.manual_seed(draw(st.integers(0, 2**16)))
    n_conv = draw(st.sampled_from([0, 1, 1, 2, 2]))
    n_linear = draw(st.integers(0 if n_conv else 1, 2))
    shape: tuple[int, ...] = (draw(st.integers(1, 3)), draw(st.integers(2, 6)), draw(st.integers(2, 6)))
    if not n_conv:
        shape = (draw(st.integers(1, 8)),)
    input_shape = shape
    modules: list[nn.Module] = []
    for _ in range(n_conv):
        conv, shape = draw(conv2d_layers(shape))
        modules += [conv, draw(st.sampled_from([nn.ReLU, nn.Tanh, nn.Identity]))()]
    if n_conv and n_linear:
        modules.append(nn.Flatten())
    width = math.prod(shape)
    for _ in range(n_linear):
        out = draw(st.integers(1, 6))
        modules += [
            nn.Linear(width, out, bias=draw(st.booleans())),
            draw(st.sampled_from([nn.ReLU, nn.Dropout]))(),
        ]
        width = out
    cut = draw(st.integers(0, len(modules)))
    model = nn.Sequential(ReluAfter(*modules[:cut]), nn.Sequential(*modules[cut:]))
    return model, input_shape
