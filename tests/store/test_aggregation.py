"""In-database aggregation against the real server: exact on Full runs, the documented estimator on sampled ones."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from torch import nn

from cntgraph import layer_fluctuation, node_strength
from cntgraph.cli import main
from cntgraph.core.estimators import fluctuation_estimate
from cntgraph.core.links import layer_links
from cntgraph.core.sampling import Uniform
from cntgraph.errors import QueryError
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.store.graph import Graph
from cntgraph.store.verification import RTOL, disagreements, fully_stored
from tests.store.test_graph import Params, float32, record, strengths

pytestmark = pytest.mark.neo4j

SIZES = [6, 5, 4, 3]


def mlp_params(epoch: int) -> Params:
    """Float32-exact weights of a 6-5-4-3 MLP whose middle layer has no bias."""
    pairs = list(itertools.pairwise(SIZES))
    return [
        (float32(n, m, seed=100 * epoch + i), None if i == 1 else float32(n, seed=100 * epoch + 50 + i))
        for i, (m, n) in enumerate(pairs)
    ]


def mlp() -> nn.Module:
    a, b, c, d = SIZES
    return nn.Sequential(nn.Linear(a, b), nn.ReLU(), nn.Linear(b, c, bias=False), nn.Tanh(), nn.Linear(c, d))


def stored_states(graph: Graph, run: str, epoch: int) -> pd.DataFrame:
    return graph.cypher(
        "MATCH (r:Run {name: $run}) MATCH (s:NeuronState {rid: r.rid, epoch: $epoch}) "
        "RETURN s.layer AS layer, s.unit AS unit, s.s AS s, "
        "s.db_s_in AS db_s_in, s.db_s_out AS db_s_out, s.db_s AS db_s ORDER BY layer, unit",
        run=run, epoch=epoch,
    )


def test_full_mlp_run_agrees_with_python(graph: Graph, run_name: str) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0), mlp_params(1)])
    frame = graph.aggregate(run_name)
    assert frame[["epoch", "layer"]].values.tolist() == [[e, layer] for e in (0, 1) for layer in range(4)]
    assert fully_stored(frame) and disagreements(frame).empty
    assert (frame["fluctuation_error"].abs().max(), frame["s_error"].max()) < (RTOL, RTOL)
    assert set(frame["estimate_kind"]) == {"exact"} and (frame["estimate_se"] == 0).all()
    np.testing.assert_allclose(frame["estimate"], frame["exact_fluctuation"], rtol=1e-9)
    for epoch in (0, 1):
        expected = strengths(mlp_params(epoch), SIZES[0])
        states = stored_states(graph, run_name, epoch)
        np.testing.assert_allclose(states["db_s"], np.concatenate(expected), rtol=1e-9)
        np.testing.assert_allclose(states["db_s"], states["s"], rtol=1e-9)
        np.testing.assert_allclose(frame.query("epoch == @epoch")["fluctuation"], [np.std(s) for s in expected], rtol=1e-9)
    db = graph.cypher(
        "MATCH (:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState) "
        "RETURN s.epoch AS epoch, s.layer AS layer, s.db_fluctuation AS f ORDER BY epoch, layer",
        run=run_name,
    )
    np.testing.assert_array_equal(db["f"], frame["fluctuation"])


def test_full_conv_run_agrees_with_python(graph: Graph, run_name: str) -> None:
    model = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 3 * 3, 4))
    shape = (2, 5, 5)
    params = [(float32(3, 2, 3, 3, seed=1), float32(3, seed=2)), (float32(4, 27, seed=3), float32(4, seed=4))]
    record(graph, run_name, model, shape, [params])
    frame = graph.aggregate(run_name)
    assert fully_stored(frame) and disagreements(frame).empty
    np.testing.assert_allclose(frame["fluctuation"], layer_fluctuation(model, shape)["fluctuation"], rtol=1e-9)
    states = stored_states(graph, run_name, 0)
    exact = node_strength(model, shape)  # links into padding do not exist: border units have smaller sums
    np.testing.assert_allclose(states["db_s_in"] + states["db_s_out"], exact["s"], rtol=1e-9)


def stored_units(graph: Graph, run: str) -> list[np.ndarray]:
    units = graph.cypher("MATCH (n:Neuron {run: $run}) RETURN n.layer AS layer, collect(n.unit) AS units ORDER BY layer", run=run)
    return [np.sort(np.asarray(u)) for u in units["units"]]


def test_sampled_run_gives_the_documented_estimates(graph: Graph, run_name: str) -> None:
    model = mlp()
    record(graph, run_name, model, (6,), [mlp_params(0)], sample=Uniform(3, seed=7))
    frame = graph.aggregate(run_name)
    samples = stored_units(graph, run_name)
    assert [s.size for s in samples] == [3, 3, 3, 3] and frame["sampled"].tolist() == [3, 3, 3, 3]
    estimates = _estimates(model, (6,), samples)
    exact = strengths(mlp_params(0), SIZES[0])
    states = stored_states(graph, run_name, 0)
    np.testing.assert_allclose(states["db_s"], np.concatenate(estimates), rtol=1e-9)
    np.testing.assert_allclose(frame["fluctuation"], [np.std(e) for e in estimates], rtol=1e-9)
    np.testing.assert_allclose(frame["exact_fluctuation"], [np.std(s) for s in exact], rtol=1e-12)
    expected_error = [(np.std(e) - np.std(s)) / np.std(s) for e, s in zip(estimates, exact, strict=True)]
    np.testing.assert_allclose(frame["fluctuation_error"], expected_error, rtol=1e-9, atol=1e-15)
    s_error = [np.abs(e - s[u]).max() / np.abs(s[u]).max() for e, s, u in zip(estimates, exact, samples, strict=True)]
    np.testing.assert_allclose(frame["s_error"], s_error, rtol=1e-9, atol=1e-15)
    assert not fully_stored(frame) and not disagreements(frame).empty
    # the fluctuation from the stored exact strengths: exact where every unit is stored (layer 3), else estimated
    for row, s, u in zip(frame.itertuples(index=False), exact, samples, strict=True):
        expected = fluctuation_estimate(s[u], s.size)
        assert row.estimate_kind == expected.kind == ("exact" if u.size == s.size else "estimate")
        assert (row.estimate, row.estimate_se, row.estimate_low, row.estimate_high) == pytest.approx(
            (expected.value, expected.se, expected.low, expected.high), rel=1e-9, abs=1e-15)


def test_sampled_conv_neurons_without_stored_links_get_estimates(graph: Graph, run_name: str) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    params = [(float32(2, 1, 3, 3, seed=5), float32(2, seed=6)), (float32(3, 32, seed=7), float32(3, seed=8))]
    record(graph, run_name, model, (1, 6, 6), [params], sample=Uniform(4, seed=3))
    frame = graph.aggregate(run_name)
    samples = stored_units(graph, run_name)
    # with this sample, input unit 6 links to no stored unit and conv unit 7 is reached by no stored input
    assert samples[0].tolist() == [2, 6, 8, 26] and samples[1].tolist() == [7, 13, 17, 28]
    estimates = _estimates(model, (1, 6, 6), samples)
    np.testing.assert_allclose(stored_states(graph, run_name, 0)["db_s"], np.concatenate(estimates), rtol=1e-9)
    np.testing.assert_allclose(frame["fluctuation"], [np.std(e) for e in estimates], rtol=1e-9)
    assert estimates[0][1] == 1.0  # s_in = 1, and no stored out-link: the estimate of s_out is 0


def _estimates(model: nn.Module, shape: tuple[int, ...], samples: list[np.ndarray]) -> list[np.ndarray]:
    """The estimator by its definition: sums over the stored links, scaled by size / sampled of the other layer."""
    snapshot = take_snapshot(model, trace(model, shape))
    sizes = [node.size for node in snapshot.topology.node_layers]
    scale = [n / units.size for n, units in zip(sizes, samples, strict=True)]
    s_in = [np.ones(samples[0].size)] + [np.zeros(units.size) for units in samples[1:]]
    s_out = [np.zeros(units.size) for units in samples[:-1]] + [np.ones(samples[-1].size)]
    for layer, bias in enumerate(snapshot.biases, start=1):
        src, dst, w = layer_links(snapshot, layer, samples[layer - 1], samples[layer])
        np.add.at(s_in[layer], np.searchsorted(samples[layer], dst), scale[layer - 1] * w)
        np.add.at(s_out[layer - 1], np.searchsorted(samples[layer - 1], src), scale[layer] * w)
        if bias is not None:
            s_in[layer] += np.repeat(bias, sizes[layer] // bias.size)[samples[layer]]
    return [i + o for i, o in zip(s_in, s_out, strict=True)]


def test_some_epochs_only(graph: Graph, run_name: str) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0), mlp_params(1)])
    assert graph.aggregate(run_name, epochs=[1])["epoch"].unique().tolist() == [1]
    assert stored_states(graph, run_name, 0)["db_s"].isna().all()
    assert stored_states(graph, run_name, 1)["db_s"].notna().all()
    with pytest.raises(QueryError, match="no complete epoch 7; its complete epochs are 0..1"):
        graph.aggregate(run_name, epochs=[7])
    with pytest.raises(QueryError, match="no run named 'no-such-run'"):
        graph.aggregate("no-such-run")


def test_cli_aggregate_and_verify(graph: Graph, run_name: str, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0)])
    assert main(["aggregate", run_name, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("epoch,layer,size,sampled,neurons,fluctuation")
    assert main(["verify", run_name]) == 0
    assert "stores every unit; all agree within rtol 1e-09" in capsys.readouterr().out
    graph.runner.driver.execute_query(
        "MATCH (:Neuron {run: $run, layer: 2})-[:HAS_STATE]->(s:NeuronState {epoch: 0}) WITH s LIMIT 1 "
        "SET s.w_in = [s.w_in[0] + 0.001] + s.w_in[1..]", run=run_name
    )
    assert main(["verify", run_name]) == 1
    assert "pairs differ by more than rtol 1e-09" in capsys.readouterr().out


def test_cli_verify_of_a_sampled_run(graph: Graph, run_name: str, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0)], sample=Uniform(3, seed=7))
    assert main(["verify", run_name]) == 0
    printed = capsys.readouterr().out
    assert "max_fluctuation_error" in printed and "is sampled: the in-database values are estimates" in printed
    assert main(["verify", run_name, "--strict"]) == 1
