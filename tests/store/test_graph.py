"""The query API against the real server, on runs whose weights the tests set by hand."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence

import networkx as nx
import numpy as np
import pytest
import torch
from torch import nn

from cntgraph.cli import main
from cntgraph.core.sampling import Full, Sampler
from cntgraph.errors import QueryError
from cntgraph.recording.recorder import Recorder
from cntgraph.store import library
from cntgraph.store.graph import Graph
from tests.conftest import delete_run
from tests.divergences import oracle, reference_jeffreys

pytestmark = pytest.mark.neo4j

Params = list[tuple[np.ndarray, np.ndarray | None]]  # (weight, bias) of each weighted layer

# A 3-2-2 MLP. Epoch e: W1 = W1_0 + e * dW1, W2 = W2_0 + e * dW2 (all exact in float32).
W1_0 = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
DW1 = np.array([[0.5, 0.0, 0.0], [0.0, -1.0, 0.0]])
B1 = np.array([0.5, -1.0])
W2_0 = np.array([[2.0, -0.5], [1.0, 4.0]])
DW2 = np.array([[0.0, 0.0], [0.0, 0.25]])
B2 = np.array([0.0, 1.0])
EPOCHS = 3


def hand_params(epoch: int) -> Params:
    return [(W1_0 + epoch * DW1, B1), (W2_0 + epoch * DW2, B2)]


def hand_mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2))


def strengths(params: Params, input_size: int) -> list[np.ndarray]:
    """The oracle: node strength s of every unit of each node layer of an MLP, by the definition."""
    s_in = [np.ones(input_size)] + [w.sum(axis=1) + (0.0 if b is None else b) for w, b in params]
    s_out = [w.sum(axis=0) for w, _ in params] + [np.ones(params[-1][0].shape[0])]
    return [i + o for i, o in zip(s_in, s_out, strict=True)]


def set_weights(model: nn.Module, params: Params) -> None:
    layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    with torch.no_grad():
        for layer, (w, b) in zip(layers, params, strict=True):
            layer.weight.copy_(torch.as_tensor(w))
            if b is not None:
                layer.bias.copy_(torch.as_tensor(b))


def record(
    graph: Graph, run: str, model: nn.Module, input_shape: Sequence[int], epochs: Sequence[Params], sample: Sampler | None = None
) -> None:
    """Record one epoch per entry of ``epochs``, the model holding exactly those weights."""
    with Recorder(model, run, input_shape, graph=graph, sample=sample or Full(), progress=False) as recorder:
        for epoch, params in enumerate(epochs):
            set_weights(model, params)
            recorder.capture(epoch, loss=1.0 / (epoch + 1))


def float32(*shape: int, seed: int) -> np.ndarray:
    """Random weights that float32 holds exactly, so stored and expected values are equal."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32).astype(np.float64)


@pytest.fixture(scope="module")
def hand(graph: Graph) -> Iterator[str]:
    """The 3-2-2 MLP recorded in full for epochs 0, 1, 2."""
    name = "test-queries-hand"
    delete_run(graph, name)
    record(graph, name, hand_mlp(), (3,), [hand_params(e) for e in range(EPOCHS)])
    yield name
    delete_run(graph, name)


@pytest.fixture(scope="module")
def other(graph: Graph) -> Iterator[str]:
    """The same MLP with every weight doubled and biases zero, one epoch."""
    name = "test-queries-other"
    delete_run(graph, name)
    record(graph, name, hand_mlp(), (3,), [[(2 * W1_0, 0 * B1), (2 * W2_0, 0 * B2)]])
    yield name
    delete_run(graph, name)


# -- runs and epochs -------------------------------------------------------------------------
def test_runs_and_epochs(graph: Graph, hand: str) -> None:
    runs = graph.runs().set_index("run")
    assert runs.loc[hand, "epochs"] == EPOCHS and runs.loc[hand, "last_epoch"] == EPOCHS - 1
    epochs = graph.epochs(hand)
    assert epochs["epoch"].tolist() == [0, 1, 2]
    assert epochs["loss"].tolist() == [1.0, 0.5, 1 / 3]
    assert epochs["links"].tolist() == [3 * 2 + 2 * 2] * 3
    assert graph.layers(hand)[["layer", "size", "sampled"]].values.tolist() == [[0, 3, 3], [1, 2, 2], [2, 2, 2]]


def test_incomplete_epochs_are_ignored(graph: Graph, run_name: str) -> None:
    record(graph, run_name, hand_mlp(), (3,), [hand_params(e) for e in range(3)])
    graph.runner.driver.execute_query("MATCH (e:Epoch {run: $run, epoch: 1}) SET e.complete = false", run=run_name)
    assert graph.epochs(run_name)["epoch"].tolist() == [0, 2]
    assert graph.link_history(run_name, (0, 0), (1, 0))["epoch"].tolist() == [0, 2]
    assert graph.neuron_history(run_name, 1, 0)["epoch"].tolist() == [0, 2]
    assert graph.fluctuation(run_name)["epoch"].unique().tolist() == [0, 2]
    with pytest.raises(QueryError, match="no complete epoch 1; its complete epochs are 0, 2"):
        graph.strongest_links(run_name, epoch=1, k=1)


# -- histories -------------------------------------------------------------------------------
def test_link_history(graph: Graph, hand: str) -> None:
    history = graph.link_history(hand, src=(0, 0), dst=(1, 0))
    assert history.to_dict("list") == {"epoch": [0, 1, 2], "w": [1.0, 1.5, 2.0]}
    assert graph.link_history(hand, src=(1, 1), dst=(2, 1))["w"].tolist() == [4.0, 4.25, 4.5]


def test_neuron_history(graph: Graph, hand: str) -> None:
    history = graph.neuron_history(hand, layer=1, unit=1)
    # s_in = row 1 of W1 + b1 = 2.25 - e - 1; s_out = column 1 of W2 = 3.5 + 0.25 e
    assert history["epoch"].tolist() == [0, 1, 2]
    assert history["s_in"].tolist() == [1.25, 0.25, -0.75]
    assert history["s_out"].tolist() == [3.5, 3.75, 4.0]
    assert history["s"].tolist() == [4.75, 4.0, 3.25]
    assert history["bias"].tolist() == [-1.0] * 3
    assert graph.neuron_history(hand, layer=0, unit=2)["s"].tolist() == [1.0 + 0.5 - 1.0] * 3


def test_fluctuation(graph: Graph, hand: str) -> None:
    frame = graph.fluctuation(hand)
    assert frame[["epoch", "layer"]].values.tolist() == [[e, layer] for e in range(EPOCHS) for layer in range(3)]
    expected = [np.std(s) for e in range(EPOCHS) for s in strengths(hand_params(e), 3)]
    np.testing.assert_allclose(frame["fluctuation"], expected, rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "params", "operator", "index"),
    [
        ("query/link_history", {"src_layer": 0, "src_unit": 0, "dst_layer": 1, "dst_unit": 0}, "NodeUniqueIndexSeek", "NeuronState(rid, layer, unit, epoch)"),
        ("query/neuron_history", {"layer": 1, "unit": 0}, "NodeUniqueIndexSeek", "NeuronState(rid, layer, unit, epoch)"),
        ("query/strongest_links", {"epoch": 0, "k": 1}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
        ("query/epoch_links", {"epoch": 0}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
        ("read/epoch_weights", {"epoch": 0}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
        ("query/path_step", {"epoch": 0, "dst_layer": 1, "scores": [[1.0]]}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
        ("query/top_movers", {"layer": 1, "k": 1, "start": 0, "end": 1}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
        ("aggregate/epoch", {"epoch": 0}, "NodeIndexSeek", "NeuronState(rid, epoch)"),
    ],
)
def test_queries_seek_their_indexes(graph: Graph, hand: str, name: str, params: dict, operator: str, index: str) -> None:
    plan = _plan(graph, name, run=hand, **params)
    assert any(operator in op and index in op for op in plan), "\n".join(plan)
    assert not [op for op in plan if "Scan" in op], "\n".join(plan)


def _plan(graph: Graph, name: str, **params: object) -> list[str]:
    """Every operator of the EXPLAIN plan of library query ``name``, with its details."""
    plan = graph.runner.driver.execute_query("EXPLAIN " + library.load(name), params).summary.plan
    ops, stack = [], [plan]
    while stack:
        op = stack.pop()
        ops.append(f"{op['operatorType'].removesuffix('@neo4j')} {op.get('args', {}).get('Details', '')}")
        stack.extend(op.get("children", []))
    return ops


# -- rankings --------------------------------------------------------------------------------
def test_top_movers(graph: Graph, hand: str) -> None:
    movers = graph.top_movers(hand, layer=1, k=2, start=0, end=2)
    # s of layer 1: epoch 0 (3.0, 4.75), epoch 2 (4.0, 3.25)
    assert movers.to_dict("list") == {"unit": [1, 0], "s_start": [4.75, 3.0], "s_end": [3.25, 4.0], "delta": [-1.5, 1.0]}
    assert graph.top_movers(hand, layer=1, k=1, start=0, end=2)["unit"].tolist() == [1]


def test_strongest_links(graph: Graph, hand: str) -> None:
    links = graph.strongest_links(hand, epoch=2, k=4)
    # epoch 2: W1 = [[2, -2, .5], [.25, 1, -1]], W2 = [[2, -.5], [1, 4.5]]; ties by link id
    assert links.values.tolist() == [[1, 1, 2, 1, 4.5], [0, 0, 1, 0, 2.0], [0, 1, 1, 0, -2.0], [1, 0, 2, 0, 2.0]]


def test_strongest_path_of_the_hand_set_net(graph: Graph, hand: str) -> None:
    path = graph.strongest_path(hand, epoch=2, unit=0)
    # from input 0: via hidden 0, |2| * |2| = 4, beats via hidden 1, |0.25| * |4.5|
    assert path[["layer", "unit"]].values.tolist() == [[0, 0], [1, 0], [2, 0]]
    assert path["score"].tolist() == [1.0, 2.0, 4.0]
    assert path["w"].tolist()[1:] == [2.0, 2.0]


def test_strongest_path_matches_brute_force(graph: Graph, run_name: str) -> None:
    sizes = [4, 5, 4, 3]
    params = [(float32(n, m, seed=m * 10 + n), None) for m, n in itertools.pairwise(sizes)]
    model = nn.Sequential(*(nn.Linear(m, n, bias=False) for m, n in itertools.pairwise(sizes)))
    record(graph, run_name, model, (4,), [params])
    net = nx.DiGraph()
    for layer, (w, _) in enumerate(params):
        rows, columns = w.shape
        net.add_weighted_edges_from(((layer, i), (layer + 1, j), abs(w[j, i])) for j in range(rows) for i in range(columns))
    for unit in range(sizes[0]):
        paths = (p for end in range(sizes[-1]) for p in nx.all_simple_paths(net, (0, unit), (len(sizes) - 1, end)))
        best = max(paths, key=lambda p: np.prod([net.edges[a, b]["weight"] for a, b in itertools.pairwise(p)]))
        found = graph.strongest_path(run_name, epoch=0, unit=unit)
        assert [tuple(row) for row in found[["layer", "unit"]].values.tolist()] == best
        expected = np.prod([net.edges[a, b]["weight"] for a, b in itertools.pairwise(best)])
        assert found["score"].iloc[-1] == pytest.approx(expected, rel=1e-12)


# -- whole epochs ----------------------------------------------------------------------------
def test_to_networkx(graph: Graph, hand: str) -> None:
    net = graph.to_networkx(hand, epoch=1)
    assert sorted(net.nodes) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 1)]
    w1, w2 = W1_0 + DW1, W2_0 + DW2
    expected = {((0, i), (1, j)): w1[j, i] for i in range(3) for j in range(2)}
    expected |= {((1, i), (2, j)): w2[j, i] for i in range(2) for j in range(2)}
    assert {edge: net.edges[edge]["w"] for edge in net.edges} == expected
    s = strengths(hand_params(1), 3)
    stored = [net.nodes[(layer, unit)]["s"] for layer in range(3) for unit in range(len(s[layer]))]
    assert stored == pytest.approx(np.concatenate(s))
    assert net.graph == {"run": hand, "epoch": 1}


def test_compare_runs_and_groups(graph: Graph, hand: str, other: str) -> None:
    s_hand, s_other = strengths(hand_params(0), 3)[1], strengths([(2 * W1_0, 0 * B1), (2 * W2_0, 0 * B2)], 3)[1]
    frame = graph.compare([hand, other], epoch=0, layer=1)
    assert frame["group"].tolist() == [hand, other]
    assert frame["s_mean"].tolist() == pytest.approx([s_hand.mean(), s_other.mean()])
    assert frame["s_std"].tolist() == pytest.approx([s_hand.std(), s_other.std()])
    assert frame["fluctuation_mean"].tolist() == pytest.approx([s_hand.std(), s_other.std()])
    assert frame["jeffreys"].tolist() == pytest.approx([0.0, oracle(s_other, s_hand)["jeffreys"]])
    assert set(frame["estimator"]) == {"histogram"}
    reference = graph.compare([hand, other], epoch=0, layer=1, estimator="kde_reference")
    assert set(reference["estimator"]) == {"kde_reference"}
    assert reference["jeffreys"].tolist() == pytest.approx([0.0, reference_jeffreys(s_other, s_hand)], rel=1e-12)
    grouped = graph.compare({"one": [other], "both": [hand, other]}, layer=1)  # each run's last epoch
    both = grouped.set_index("group").loc["both"]
    s_last = strengths(hand_params(EPOCHS - 1), 3)[1]
    assert (both["runs"], both["neurons"]) == (2, 4)
    assert both["s_mean"] == pytest.approx(np.concatenate([s_last, s_other]).mean())
    assert both["fluctuation_mean"] == pytest.approx((s_last.std() + s_other.std()) / 2)
    assert both["jeffreys"] == pytest.approx(oracle(np.concatenate([s_last, s_other]), s_other)["jeffreys"])


def test_complete_epochs_lists_or_checks_them(graph: Graph, hand: str) -> None:
    assert graph.complete_epochs(hand) == list(range(EPOCHS))
    assert graph.complete_epochs(hand, [2, 0]) == [2, 0]
    with pytest.raises(QueryError, match=f"no complete epoch {EPOCHS}; its complete epochs are 0"):
        graph.complete_epochs(hand, [0, EPOCHS])
    with pytest.raises(QueryError, match="no run named 'no-such-run'"):
        graph.complete_epochs("no-such-run")


# -- errors ----------------------------------------------------------------------------------
def test_an_unknown_run_is_named_with_the_known_ones(graph: Graph, hand: str) -> None:
    with pytest.raises(QueryError, match=f"no run named 'no-such-run' .*known runs: .*'{hand}'.*`cntgraph runs`"):
        graph.neuron_history("no-such-run", 1, 0)
    with pytest.raises(QueryError, match="no run named 'no-such-run'"):
        graph.epochs("no-such-run")


def test_what_is_not_stored_is_named(graph: Graph, hand: str) -> None:
    with pytest.raises(QueryError, match=r"has no stored neuron \(1, 7\)"):
        graph.neuron_history(hand, layer=1, unit=7)
    with pytest.raises(QueryError, match=r"has no stored link \(0, 0\) -> \(1, 9\)"):
        graph.link_history(hand, (0, 0), (1, 9))
    with pytest.raises(QueryError, match=r"has no stored link \(0, 0\) -> \(2, 0\)"):
        graph.link_history(hand, (0, 0), (2, 0))  # node layer 0 does not feed node layer 2
    with pytest.raises(QueryError, match="no complete epoch 5; its complete epochs are 0..2"):
        graph.top_movers(hand, layer=1, k=1, start=0, end=5)
    with pytest.raises(QueryError, match="k must be a whole number >= 1, got 0"):
        graph.strongest_links(hand, epoch=0, k=0)


def test_parameters_are_checked_before_sending(graph: Graph) -> None:
    with pytest.raises(QueryError, match=r"takes \$layer, \$run, \$unit \(missing: layer, unit\)\. Parameters: \$run"):
        graph.query("query/neuron_history", run="x")
    with pytest.raises(QueryError, match=r"\(unknown: unti\)"):
        graph.query("query/neuron_history", run="x", layer=1, unit=0, unti=0)
    assert library.parameters_in("MATCH (n {a: $a}) // $b\nRETURN '$c', \"$d\", `$e`, $f /* $g */") == ("a", "f")


def test_library_queries_and_ad_hoc_cypher_are_read_only(graph: Graph) -> None:
    with pytest.raises(QueryError, match="read-only; nothing was changed"):
        graph.query("write/run", name="read-only-probe", rid=1, props={})
    with pytest.raises(QueryError, match="read-only; nothing was changed"):
        graph.cypher("MATCH (run:Run) SET run.touched = true")
    assert graph.query("read/run", name="read-only-probe").empty


# -- the command line ------------------------------------------------------------------------
def test_cli_runs_and_query(cli_env: None, capsys: pytest.CaptureFixture[str], hand: str) -> None:
    assert main(["runs"]) == 0
    assert hand in capsys.readouterr().out
    params = ["--param", f"run={hand}", "--param", "layer=1", "--param", "unit=1"]
    assert main(["query", "query/neuron_history", *params, "--format", "json"]) == 0
    assert [row["s"] for row in json.loads(capsys.readouterr().out)] == [4.75, 4.0, 3.25]
    params = ["--param", f"run={hand}", "--param", "epoch=2", "--param", "k=1"]
    assert main(["query", "query/strongest_links", *params, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["src_layer,src_unit,dst_layer,dst_unit,w", "1,1,2,1,4.5"]
    assert main(["query", "--list"]) == 0
    assert "query/link_history" in capsys.readouterr().out


def test_cli_query_says_which_parameters_are_needed(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "query/top_movers", "--param", "run=x"]) == 1
    error = capsys.readouterr().err
    assert "takes $end, $k, $layer, $run, $start (missing: end, k, layer, start)" in error
    assert main(["query", "query/nope"]) == 1
    assert "no query named 'query/nope'" in capsys.readouterr().err
