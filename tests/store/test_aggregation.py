"""In-database aggregation against the real server: exact on Full runs, the documented estimator on sampled ones."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cntgraph import layer_fluctuation, node_strength
from cntgraph.cli import main
from cntgraph.core.estimators import Z95, fluctuation_estimate
from cntgraph.core.links import stored_links
from cntgraph.core.metrics import per_unit
from cntgraph.core.network import Snapshot
from cntgraph.core.sampling import Full, TopStrength, Uniform
from cntgraph.errors import QueryError
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from cntgraph.store.verification import (
    RTOL,
    coverage,
    disagreements,
    fully_stored,
    judge,
)
from cntgraph.studies.digits import cnn, load_digits, train
from cntgraph.studies.ensemble import torch_threads
from tests.conftest import delete_run
from tests.model.test_dag import Recurrent
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
        "s.db_s_in AS db_s_in, s.db_s_out AS db_s_out, s.db_s AS db_s, s.db_s_se AS db_s_se ORDER BY layer, unit",
        run=run, epoch=epoch,
    )


def test_full_mlp_run_agrees_with_python(graph: Graph, run_name: str) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0), mlp_params(1)])
    frame = graph.aggregate(run_name)
    assert frame[["epoch", "layer"]].values.tolist() == [[e, layer] for e in (0, 1) for layer in range(4)]
    assert fully_stored(frame) and disagreements(frame).empty
    assert (frame["fluctuation_error"].abs().max(), frame["s_error"].max()) < (RTOL, RTOL)
    assert set(frame["fluctuation_kind"]) == set(frame["s_kind"]) == {"exact"} and (frame["fluctuation_se"] == 0).all()
    assert (frame["s_inside"] == frame["neurons"]).all() and judge(frame).passed
    assert frame["w_in_error"].iloc[1:].max() < RTOL and np.isnan(frame["w_in_error"].iloc[0])  # the input has no links
    for epoch in (0, 1):
        expected = strengths(mlp_params(epoch), SIZES[0])
        states = stored_states(graph, run_name, epoch)
        np.testing.assert_allclose(states["db_s"], np.concatenate(expected), rtol=1e-9)
        np.testing.assert_allclose(states["db_s"], states["s"], rtol=1e-9)
        np.testing.assert_allclose(frame.query("epoch == @epoch")["fluctuation"], [np.std(s) for s in expected], rtol=1e-9)
    db = graph.cypher(
        "MATCH (:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_STATE]->(s:LayerState) "
        "RETURN s.epoch AS epoch, s.layer AS layer, s.db_fluctuation AS f, s.db_fluctuation_se AS se ORDER BY epoch, layer",
        run=run_name,
    )
    np.testing.assert_array_equal(db["f"], frame["fluctuation"])
    assert (db["se"] == 0).all() and (stored_states(graph, run_name, 1)["db_s_se"] == 0).all()


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
    estimates, errors = expected_estimates(take_snapshot(model, trace(model, (6,))), samples)
    exact = strengths(mlp_params(0), SIZES[0])
    states = stored_states(graph, run_name, 0)
    np.testing.assert_allclose(states["db_s"], np.concatenate(estimates), rtol=1e-9)
    np.testing.assert_allclose(states["db_s_se"], np.concatenate(errors), rtol=1e-9, atol=1e-15)
    # layer 3 (3 units, all stored): the s_out of layer 2 is exact, its own s_in sums over a sample of layer 2
    assert frame["s_in_kind"].tolist() == ["exact", "estimate", "estimate", "estimate"]
    assert frame["s_out_kind"].tolist() == ["estimate", "estimate", "exact", "exact"]
    assert frame["s_kind"].tolist() == ["estimate"] * 4 and frame["s_exact_error"].max() < RTOL
    inside = [int(np.sum(np.abs(e - s[u]) <= Z95 * se)) for e, se, s, u in zip(estimates, errors, exact, samples, strict=True)]
    assert frame["s_inside"].tolist() == inside
    s_error = [np.abs(e - s[u]).max() / np.abs(s[u]).max() for e, s, u in zip(estimates, exact, samples, strict=True)]
    np.testing.assert_allclose(frame["s_error"], s_error, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(frame["exact_fluctuation"], [np.std(s) for s in exact], rtol=1e-12)
    # the fluctuation from the stored exact strengths: exact where every unit is stored (layer 3), else estimated
    for row, s, u in zip(frame.itertuples(index=False), exact, samples, strict=True):
        expected = fluctuation_estimate(s[u], s.size)
        assert row.fluctuation_kind == expected.kind == ("exact" if u.size == s.size else "estimate")
        assert (row.fluctuation, row.fluctuation_se, row.fluctuation_low, row.fluctuation_high) == pytest.approx(
            (expected.value, expected.se, expected.low, expected.high), rel=1e-9, abs=1e-15)
        assert row.fluctuation_error == pytest.approx((expected.value - np.std(s)) / np.std(s), rel=1e-9, abs=1e-15)
    assert not fully_stored(frame) and disagreements(frame).empty


def test_a_recurrent_layer_s_links_from_itself_are_scaled_by_its_sample_less_the_unit(graph: Graph, run_name: str) -> None:
    # a bidirectional GRU, 12 of its 40 (step, feature) units stored: a stored unit's links from its own
    # layer come from the other 11, drawn of 39; the definition by hand, per neighbouring node layer
    torch.manual_seed(0)
    model, shape = Recurrent(nn.GRU, 1, bidirectional=True), (5, 3)
    with Recorder(model, run_name, shape, graph=graph, sample=Uniform(12, seed=4), progress=False) as recorder:
        recorder.capture(0)
    samples = stored_units(graph, run_name)
    s, errors = expected_estimates(take_snapshot(model, trace(model, shape)), samples)
    frame = graph.aggregate(run_name)
    states = stored_states(graph, run_name, 0)
    assert frame["s_in_kind"][1] == "estimate" and frame["size"][1] == 40 and frame["sampled"][1] == 12
    np.testing.assert_allclose(states["db_s"], np.concatenate(s), rtol=1e-9)
    np.testing.assert_allclose(states["db_s_se"], np.concatenate(errors), rtol=1e-9, atol=1e-15)


def test_a_recurrent_output_layer_is_a_sink_despite_its_links_from_itself(graph: Graph, run_name: str) -> None:
    class Tagger(nn.Module):  # the LSTM's states are the model's output
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(3, 4, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lstm(x)[0]

    torch.manual_seed(0)
    with Recorder(Tagger(), run_name, (5, 3), graph=graph, sample=Full(), progress=False) as recorder:
        recorder.capture(0)
    frame = graph.aggregate(run_name)
    assert fully_stored(frame) and disagreements(frame).empty and frame["s_error"].max() < RTOL
    assert (stored_states(graph, run_name, 0).query("layer == 1")["db_s_out"] == 1.0).all()


def test_a_sample_that_is_not_uniform_gives_biased_values_without_intervals(
    graph: Graph, run_name: str, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    record(graph, run_name, mlp(), (6,), [mlp_params(0)], sample=TopStrength(3))
    layers = graph.layers(run_name)
    assert layers["sample"].tolist() == ["TopStrength(k=3)"] * 4 and not layers["uniform"].any()
    frame = graph.aggregate(run_name)
    # layers 0-2 keep 3 of 6, 5 and 4 units, chosen by strength; layer 3 keeps its 3
    assert frame["fluctuation_kind"].tolist() == ["biased", "biased", "biased", "exact"]
    assert frame["s_in_kind"].tolist() == ["exact", "biased", "biased", "biased"]
    assert frame["s_out_kind"].tolist() == ["biased", "biased", "exact", "exact"]
    assert frame["s_kind"].tolist() == ["biased"] * 4 and frame["s_inside"].isna().all()
    assert frame["fluctuation_se"].iloc[:3].isna().all() and frame["fluctuation_low"].iloc[:3].isna().all()
    assert frame["s_exact_error"].max() < RTOL and stored_states(graph, run_name, 0).query("layer in [1, 2]")["db_s_se"].isna().all()
    assert main(["verify", run_name]) == 0
    printed = capsys.readouterr().out
    assert "layers [0, 1, 2, 3]: estimates from a sample that is not uniform (e.g. TopStrength), biased" in printed
    assert "exact values: all agree" in printed
    # a run stored before Layer.uniform existed: its Run.sample says TopStrength
    graph.runner.driver.execute_query("MATCH (l:Layer {run: $run}) REMOVE l.uniform, l.sample", run=run_name)
    assert graph.layers(run_name)["uniform"].isna().all()
    assert graph.aggregate(run_name)["fluctuation_kind"].tolist() == ["biased", "biased", "biased", "exact"]


def test_sampled_conv_neurons_without_stored_links_get_estimates(graph: Graph, run_name: str) -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    params = [(float32(2, 1, 3, 3, seed=5), float32(2, seed=6)), (float32(3, 32, seed=7), float32(3, seed=8))]
    record(graph, run_name, model, (1, 6, 6), [params], sample=Uniform(4, seed=3))
    graph.aggregate(run_name)
    samples = stored_units(graph, run_name)
    # with this sample, input unit 6 links to no stored unit and conv unit 7 is reached by no stored input
    assert samples[0].tolist() == [2, 6, 8, 26] and samples[1].tolist() == [7, 13, 17, 28]
    estimates, errors = expected_estimates(take_snapshot(model, trace(model, (1, 6, 6))), samples)
    states = stored_states(graph, run_name, 0)
    np.testing.assert_allclose(states["db_s"], np.concatenate(estimates), rtol=1e-9)
    np.testing.assert_allclose(states["db_s_se"], np.concatenate(errors), rtol=1e-9, atol=1e-15)
    assert estimates[0][1] == 1.0 and errors[0][1] == 0.0  # s_in = 1; no stored out-link: s_out's estimate is 0, and so its spread


def expected_estimates(snapshot: Snapshot, samples: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The in-database estimator by its definition, from the snapshot's links between the sampled units:
    each stored unit's strength and its standard error, per node layer. Per neighbouring node layer of
    N units, n stored: N / n times the sum of the unit's stored links with it (a stored unit without
    a link counts 0), with variance N^2 (1 - n/N) S^2 / n, S^2 their sample variance; N - 1 and n - 1
    where that layer is the unit's own (a recurrent layer's links from itself). Plus the biases;
    input units have s_in = 1, sink units s_out = 1."""
    topology = snapshot.topology
    sizes = [node.size for node in topology.node_layers]
    sums: dict[tuple[int, int], np.ndarray] = {}  # (node layer of the unit, the other node layer): sums and squares
    for number, layer in enumerate(topology.layers, start=1):
        src_layer, src, dst, w = stored_links(snapshot, number, samples)
        for source in set(layer.sources):
            here = src_layer == source
            for into, other, units in ((layer.index, source, dst[here]), (source, layer.index, src[here])):
                rows = np.searchsorted(samples[into], units)
                found = sums.setdefault((into, other), np.zeros((2, samples[into].size)))
                found += [np.bincount(rows, w[here], samples[into].size), np.bincount(rows, w[here] ** 2, samples[into].size)]
    s = [np.zeros(units.size) for units in samples]
    variance = [np.zeros(units.size) for units in samples]
    for (into, other), (total, squares) in sums.items():
        population, draws = sizes[other] - (into == other), samples[other].size - (into == other)
        s[into] += population / draws * total
        if draws < population:
            variance[into] += population**2 * (1 - draws / population) / draws * (squares - total**2 / draws) / (draws - 1)
    for layer, bias in zip(topology.layers, snapshot.biases, strict=True):
        if bias is not None:
            s[layer.index] += per_unit(layer, bias)[samples[layer.index]]
    s[0] += 1.0
    for sink in topology.sinks:
        s[sink] += 1.0
    return s, [np.sqrt(np.maximum(v, 0.0)) for v in variance]


def test_over_independent_samples_the_database_intervals_cover_near_the_nominal_rate(graph: Graph) -> None:
    # the demo's CNN after 3 epochs, recorded as the demo records it (Uniform(64)) with 8 seeds: 8 independent samples
    torch.manual_seed(0)
    model = cnn(8, 64)
    with torch_threads(1):
        train(model, load_digits(), 3, seed=0)
    runs = [f"test-aggregation-seed-{seed}" for seed in range(8)]
    frames = []
    try:
        for seed, run in enumerate(runs):
            delete_run(graph, run)
            with Recorder(model, run, (1, 8, 8), graph=graph, sample=Uniform(64, seed=seed), progress=False) as recorder:
                recorder.capture(0)
            frames.append(graph.aggregate(run))
    finally:
        for run in runs:
            delete_run(graph, run)
    frame = pd.concat(frames, ignore_index=True)
    whole = frame[frame["sampled"] == frame["size"]]  # layers 0, 3, 4: their fluctuation is exact
    assert set(whole["layer"]) == {0, 3, 4} and set(whole["fluctuation_kind"]) == {"exact"}
    assert whole["fluctuation_error"].abs().max() < RTOL and frame["s_exact_error"].max() < RTOL
    sampled = frame[frame["sampled"] < frame["size"]]
    assert np.median(sampled["fluctuation_error"].abs()) < 0.10
    rates = coverage(frame).groupby("quantity")[["inside", "estimates"]].sum()
    assert rates.loc["fluctuation", "estimates"] == 16 and rates.loc["fluctuation", "inside"] >= 14
    assert 0.90 <= rates.loc["strength", "inside"] / rates.loc["strength", "estimates"] <= 0.97
    assert all(judge(f).passed for f in frames)


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
    assert capsys.readouterr().out.splitlines()[0].startswith("epoch,layer,size,sampled,neurons,fluctuation,fluctuation_kind")
    assert main(["verify", run_name]) == 0
    printed = capsys.readouterr().out
    assert "stores every unit" in printed and "exact values: all agree within rtol 1e-09" in printed
    assert "intervals: none, every value is exact" in printed and printed.rstrip().endswith("verified")
    corrupt_weight(graph, run_name, layer=2, change=0.001)
    assert main(["verify", run_name]) == 1
    assert "exact values: 2 (epoch, layer) pairs differ by more than rtol 1e-09" in capsys.readouterr().out  # both ends of the link


def corrupt_weight(graph: Graph, run: str, layer: int, change: float) -> None:
    """Add ``change`` to the first stored incoming weight of one neuron state of node layer ``layer``."""
    graph.runner.driver.execute_query(
        "MATCH (:Neuron {run: $run, layer: $layer})-[:HAS_STATE]->(s:NeuronState {epoch: 0}) WITH s LIMIT 1 "
        "SET s.w_in = [s.w_in[0] + $change] + s.w_in[1..]", run=run, layer=layer, change=change
    )


def test_cli_verify_of_a_sampled_run(graph: Graph, run_name: str, cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    model = nn.Sequential(nn.Linear(16, 24), nn.ReLU(), nn.Linear(24, 20), nn.ReLU(), nn.Linear(20, 4))
    params = [(float32(24, 16, seed=1), float32(24, seed=2)), (float32(20, 24, seed=3), float32(20, seed=4)),
              (float32(4, 20, seed=5), float32(4, seed=6))]
    record(graph, run_name, model, (16,), [params], sample=Uniform(10, seed=1))
    assert main(["verify", run_name]) == 0
    printed = capsys.readouterr().out
    assert "is sampled: the values of its sampled layers are estimates" in printed and "fluctuation_coverage" in printed
    assert "exact values: all agree within rtol 1e-09" in printed
    assert "fluctuation intervals: 3 of 3 hold the exact value" in printed and "strength intervals: " in printed
    # between two sampled layers no value is exact: the stored weights are checked against their stored sums
    corrupt_weight(graph, run_name, layer=2, change=1e-6)
    assert main(["verify", run_name]) == 1
    assert "exact values: 1 (epoch, layer) pair differs" in capsys.readouterr().out
    # exact strengths that the intervals miss: the coverage is too low
    other = run_name + "-s"
    try:
        record(graph, other, model, (16,), [params], sample=Uniform(10, seed=1))
        graph.runner.driver.execute_query(
            "MATCH (:Neuron {run: $run})-[:HAS_STATE]->(s:NeuronState) WHERE s.layer IN [1, 2] SET s.s = 10 * s.s + 100",
            run=other,
        )
        assert main(["verify", other]) == 1
        printed = capsys.readouterr().out
        assert "exact values: all agree" in printed and ": too low" in printed
        assert printed.rstrip().endswith("NOT verified: see docs/METRICS.md, in-database aggregation")
        assert main(["verify", other, "--tolerance", "1.0"]) == 0  # judged against a coverage of 0: anything passes
    finally:
        delete_run(graph, other)
