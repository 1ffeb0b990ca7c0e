"""Residual additions and concatenations against an explicit unrolled graph stated by hand.

Each model's graph is written down here from its forward code (which node layer feeds which),
independently of the tracer; the links of each weighted step are the Jacobian of that step's
affine map (autograd), identity links weigh 1, and strengths are math.fsum over the graph's edges.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v2, resnet18
from torchvision.models.resnet import BasicBlock

from cntgraph.core.links import stored_links
from cntgraph.core.metrics import layer_fluctuation, layer_parameters
from cntgraph.model.metrics import as_snapshot, node_strength
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from tests.model.test_adapters import jacobian, randomized


class ResidualConcat(nn.Module):
    """x -> fc1 -> relu -> fc2; add = fc2 + x; head reads cat([add, side(x)])."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.side, self.head = nn.Linear(4, 5), nn.Linear(5, 4), nn.Linear(4, 3), nn.Linear(7, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(torch.relu(self.fc1(x))) + x
        return self.head(torch.cat([y, self.side(x)], dim=1))


class Expected:
    """The unrolled graph: nodes (layer name, unit), edges with weights, biases per node."""

    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.graph = nx.DiGraph()
        for name, size in sizes.items():
            self.graph.add_nodes_from(((name, u) for u in range(size)), bias=0.0)

    def affine(self, dst: str, sources: list[str], module: nn.Module, in_shape: tuple[int, ...]) -> None:
        """The links of ``module`` (its Jacobian) from the concatenated units of ``sources`` into ``dst``."""
        matrix = jacobian(module, in_shape)
        with torch.no_grad():
            bias = module(torch.zeros((1, *in_shape), dtype=torch.float64)).reshape(-1).numpy()
        owners = [(name, u) for name in sources for u in range(self.sizes[name])]
        for j, i in zip(*np.nonzero(matrix), strict=True):
            self.graph.add_edge(owners[i], (dst, int(j)), weight=float(matrix[j, i]))
        for j, b in enumerate(bias):
            self.graph.nodes[(dst, j)]["bias"] += float(b)

    def identity(self, dst: str, src: str) -> None:
        for u in range(self.sizes[dst]):
            self.graph.add_edge((src, u), (dst, u), weight=1.0)

    def strengths(self, name: str, output: str) -> tuple[np.ndarray, np.ndarray]:
        units = range(self.sizes[name])
        s_in = [1.0 if name == "input" else math.fsum(
            [self.graph.nodes[(name, u)]["bias"]] + [w for *_, w in self.graph.in_edges((name, u), data="weight")]
        ) for u in units]  # fmt: skip
        s_out = [1.0 if name == output else math.fsum(w for *_, w in self.graph.out_edges((name, u), data="weight"))
                 for u in units]  # fmt: skip
        return np.array(s_in), np.array(s_out)


def check(model: nn.Module, shape: tuple[int, ...], expected: Expected, output: str, fold_batchnorm: bool = True) -> None:
    """Node strengths and every stored link (Full sample) equal the expected graph's."""
    snapshot = take_snapshot(model, trace(model, shape, fold_batchnorm))
    names = [node.name for node in snapshot.topology.node_layers]
    assert sorted(names) == sorted(expected.sizes)
    strengths = node_strength(snapshot)
    for index, name in enumerate(names):
        rows = strengths[strengths["layer"] == index]
        s_in, s_out = expected.strengths(name, output)
        np.testing.assert_allclose(rows["s_in"], s_in, rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(rows["s_out"], s_out, rtol=1e-10, atol=1e-12, err_msg=name)
    samples = [np.arange(node.size) for node in snapshot.topology.node_layers]
    links = {}
    for number, layer in enumerate(snapshot.topology.layers, start=1):
        for src_layer, src, dst, w in zip(*stored_links(snapshot, number, samples), strict=True):
            key = ((names[src_layer], int(src)), (names[layer.index], int(dst)))
            assert key not in links, f"link {key} stored twice"
            links[key] = w
    edges = {(a, b): w for a, b, w in expected.graph.edges(data="weight")}
    assert links.keys() == edges.keys()
    np.testing.assert_allclose([links[k] for k in edges], list(edges.values()), rtol=1e-12, atol=1e-12)


def test_a_residual_addition_and_a_concatenation() -> None:
    model = randomized(ResidualConcat())
    expected = Expected({"input": 4, "fc1": 5, "fc2": 4, "add": 4, "side": 3, "head": 2})
    expected.affine("fc1", ["input"], model.fc1, (4,))
    expected.affine("fc2", ["fc1"], model.fc2, (5,))
    expected.identity("add", "fc2")
    expected.identity("add", "input")
    expected.affine("side", ["input"], model.side, (4,))
    expected.affine("head", ["add", "side"], model.head, (7,))
    check(model, (4,), expected, output="head")
    topology = trace(model, (4,))
    assert [(layer.path, layer.kind, layer.sources) for layer in topology.layers if layer.index == 3] == [
        ("add", "identity", (2,)), ("add", "identity", (0,))
    ]
    assert topology.sinks == {5}


@pytest.mark.parametrize("stride", [1, 2])
def test_a_torchvision_basic_block_with_batchnorm_folded(stride: int) -> None:
    """The block of resnet18: conv-bn-relu-conv-bn, plus x (or a 1x1 conv-bn of x), then relu."""
    downsample = nn.Sequential(nn.Conv2d(4, 6, 1, stride=stride, bias=False), nn.BatchNorm2d(6))
    block = randomized(BasicBlock(4, 6, stride=stride, downsample=downsample), seed=stride)
    shape, out = (4, 5, 6), (6, 5, 6) if stride == 1 else (6, 3, 3)
    size = math.prod(out)
    expected = Expected({"input": 4 * 5 * 6, "conv1": size, "conv2": size, "downsample.0": size, "add": size})
    expected.affine("conv1", ["input"], nn.Sequential(block.conv1, block.bn1), shape)
    expected.affine("conv2", ["conv1"], nn.Sequential(block.conv2, block.bn2), out)
    expected.affine("downsample.0", ["input"], block.downsample, shape)
    expected.identity("add", "conv2")
    expected.identity("add", "downsample.0")
    check(block, shape, expected, output="add")


def test_batchnorm_kept_as_its_own_layer_and_where_it_cannot_be_folded() -> None:
    model = randomized(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.BatchNorm1d(3), nn.Linear(3, 2)))
    expected = Expected({"input": 4, "0": 3, "1": 3, "3": 3, "4": 2})
    for name, source, step, size in [("0", "input", model[0], 4), ("1", "0", model[1], 3), ("3", "1", model[3], 3),
                                     ("4", "3", model[4], 3)]:  # fmt: skip
        expected.affine(name, [source], step, (size,))
    check(model, (4,), expected, output="4", fold_batchnorm=False)
    folded = Expected({"input": 4, "0": 3, "3": 3, "4": 2})  # the first folds; the second follows a ReLU
    folded.affine("0", ["input"], model[:2], (4,))
    folded.affine("3", ["0"], model[3], (3,))
    folded.affine("4", ["3"], model[4], (3,))
    check(model, (4,), folded, output="4")


def test_identity_skips_into_a_sum_weigh_one_in_the_link_weights() -> None:
    snapshot = as_snapshot(randomized(ResidualConcat()), (4,))
    by_name = {path: values for _, path, values in layer_parameters(snapshot)}
    np.testing.assert_array_equal(by_name["add"], np.ones(8))  # one link per unit from each operand
    assert len(layer_fluctuation(snapshot)) == 6


@pytest.mark.parametrize("build", [resnet18, mobilenet_v2])
def test_torchvision_models_trace_as_dags(build) -> None:
    model = build(num_classes=10)
    topology = trace(model, (3, 32, 32))
    adds = [node.name for node in topology.node_layers if node.name.endswith("add")]
    assert len(adds) == (8 if build is resnet18 else 10)  # one per residual block
    folded = {layer.folded for layer in topology.layers} - {None}
    norms = {path for path, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    assert folded == norms  # every BatchNorm folded into the conv before it
    assert topology.sinks == {len(topology.node_layers) - 1}
    strengths = node_strength(model, (3, 32, 32))
    assert strengths.groupby("layer").size().tolist() == [node.size for node in topology.node_layers]
    assert np.isfinite(strengths[["s_in", "s_out"]].to_numpy()).all()


class Recurrent(nn.Module):
    def __init__(self, kind: type[nn.RNNBase], num_layers: int = 1, bidirectional: bool = False) -> None:
        super().__init__()
        self.rnn = kind(3, 4, batch_first=True, num_layers=num_layers, bidirectional=bidirectional)
        self.head = nn.Linear(8 if bidirectional else 4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out.mean(dim=1))


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM, nn.GRU])
def test_recurrent_layers_link_each_time_step_to_the_next(kind: type[nn.RNNBase]) -> None:
    """Unrolled by hand: input (t, i) -> hidden (t, j) and hidden (t - 1, k) -> hidden (t, j), the gates'
    weights summed (torch.chunk of PyTorch's stacked gates), both biases of every gate in each hidden unit."""
    model = randomized(Recurrent(kind))
    steps, features, hidden = 5, 3, 4
    gates = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}[kind]
    rnn = model.rnn
    w_ih = sum(torch.chunk(rnn.weight_ih_l0.detach(), gates)).numpy()
    w_hh = sum(torch.chunk(rnn.weight_hh_l0.detach(), gates)).numpy()
    bias = sum(torch.chunk((rnn.bias_ih_l0 + rnn.bias_hh_l0).detach(), gates)).numpy()
    expected = Expected({"input": steps * features, "rnn": steps * hidden, "mean": hidden, "head": 2})
    for t in range(steps):
        for j in range(hidden):
            expected.graph.nodes[("rnn", t * hidden + j)]["bias"] = float(bias[j])
            expected.graph.add_edge(("rnn", t * hidden + j), ("mean", j), weight=1.0 / steps)
            for i in range(features):
                expected.graph.add_edge(("input", t * features + i), ("rnn", t * hidden + j), weight=float(w_ih[j, i]))
            for k in range(hidden) if t > 0 else ():
                expected.graph.add_edge(("rnn", (t - 1) * hidden + k), ("rnn", t * hidden + j), weight=float(w_hh[j, k]))
    expected.affine("head", ["mean"], model.head, (hidden,))
    check(model, (steps, features), expected, output="head")


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_bidirectional_module_links_its_backward_direction_against_time(kind: type[nn.RNNBase]) -> None:
    """num_layers=2, bidirectional, unrolled by hand: node layer k has (t, 2 hidden) units, the forward
    direction's features first (as PyTorch's output). Forward unit (t, j) reads layer k - 1 at step t
    through weight_ih_l{k} and its own forward units at step t - 1 through weight_hh_l{k}; backward unit
    (t, hidden + j) reads layer k - 1 at step t through weight_ih_l{k}_reverse and its own backward units
    at step t + 1 through weight_hh_l{k}_reverse; each direction's gates summed, both its biases."""
    model = randomized(Recurrent(kind, num_layers=2, bidirectional=True))
    steps, features, hidden, layers = 4, 3, 4, 2
    width = 2 * hidden
    gates = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}[kind]
    rnn = model.rnn
    names = ["input"] + [f"rnn.l{k}" for k in range(layers)]
    expected = Expected({"input": steps * features, **{name: steps * width for name in names[1:]}, "mean": width, "head": 2})
    for k in range(layers):
        below, size_below, here = names[k], features if k == 0 else width, names[k + 1]
        for direction, (offset, step) in (("", (0, -1)), ("_reverse", (hidden, 1))):
            w_ih = sum(torch.chunk(getattr(rnn, f"weight_ih_l{k}{direction}").detach(), gates)).numpy()
            w_hh = sum(torch.chunk(getattr(rnn, f"weight_hh_l{k}{direction}").detach(), gates)).numpy()
            bias = sum(torch.chunk((getattr(rnn, f"bias_ih_l{k}{direction}") + getattr(rnn, f"bias_hh_l{k}{direction}")).detach(), gates)).numpy()
            for t in range(steps):
                for j in range(hidden):
                    unit = (here, t * width + offset + j)
                    expected.graph.nodes[unit]["bias"] = float(bias[j])
                    for i in range(size_below):
                        expected.graph.add_edge((below, t * size_below + i), unit, weight=float(w_ih[j, i]))
                    for m in range(hidden) if 0 <= t + step < steps else ():
                        expected.graph.add_edge((here, (t + step) * width + offset + m), unit, weight=float(w_hh[j, m]))
    for t in range(steps):
        for f in range(width):
            expected.graph.add_edge((names[-1], t * width + f), ("mean", f), weight=1.0 / steps)
    expected.affine("head", ["mean"], model.head, (width,))
    check(model, (steps, features), expected, output="head")


@pytest.mark.parametrize("kind", [nn.RNN, nn.LSTM, nn.GRU])
def test_a_stacked_recurrent_module_is_a_node_layer_per_layer(kind: type[nn.RNNBase]) -> None:
    """num_layers=3, unrolled by hand from weight_ih_l{k}, weight_hh_l{k} and both biases of layer k:
    layer k reads layer k - 1 (the input for k = 0) at the same step and itself at the step before."""
    model = randomized(Recurrent(kind, num_layers=3))
    steps, features, hidden, layers = 4, 3, 4, 3
    gates = {nn.RNN: 1, nn.LSTM: 4, nn.GRU: 3}[kind]
    rnn = model.rnn
    names = ["input"] + [f"rnn.l{k}" for k in range(layers)]
    expected = Expected({"input": steps * features, **{name: steps * hidden for name in names[1:]}, "mean": hidden, "head": 2})
    for k in range(layers):
        w_ih = sum(torch.chunk(getattr(rnn, f"weight_ih_l{k}").detach(), gates)).numpy()
        w_hh = sum(torch.chunk(getattr(rnn, f"weight_hh_l{k}").detach(), gates)).numpy()
        bias = sum(torch.chunk((getattr(rnn, f"bias_ih_l{k}") + getattr(rnn, f"bias_hh_l{k}")).detach(), gates)).numpy()
        below, size_below, here = names[k], features if k == 0 else hidden, names[k + 1]
        for t in range(steps):
            for j in range(hidden):
                expected.graph.nodes[(here, t * hidden + j)]["bias"] = float(bias[j])
                for i in range(size_below):
                    expected.graph.add_edge((below, t * size_below + i), (here, t * hidden + j), weight=float(w_ih[j, i]))
                for m in range(hidden) if t > 0 else ():
                    expected.graph.add_edge((here, (t - 1) * hidden + m), (here, t * hidden + j), weight=float(w_hh[j, m]))
    for t in range(steps):
        for j in range(hidden):
            expected.graph.add_edge((names[-1], t * hidden + j), ("mean", j), weight=1.0 / steps)
    expected.affine("head", ["mean"], model.head, (hidden,))
    check(model, (steps, features), expected, output="head")
