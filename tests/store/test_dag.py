"""Reading runs whose node layers form a DAG (residual additions, concatenations) from the real server.

The run is a hand-made snapshot of the core types, no torch: a residual MLP whose head reads a
concatenation, with a second output::

    input(4) -> fc1(5) -> fc2(4) -> add(4) = fc2 + input -> head(3) = linear(cat(fc1, add))
                                 \\-> aux(2)

Every read (the query API, the in-database aggregation, the Browser queries, the view's data) is
checked against what the core says the stored links and strengths are.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from cntgraph.core.estimators import fluctuation_estimate
from cntgraph.core.links import stored_links
from cntgraph.core.metrics import layer_fluctuation, node_strength
from cntgraph.core.network import (
    NodeLayer,
    Snapshot,
    Topology,
    WeightedLayer,
    dense_snapshot,
)
from cntgraph.core.sampling import Full, Sampler, Uniform
from cntgraph.errors import QueryError
from cntgraph.records.build import RunLayout, build_records, new_layout
from cntgraph.store.graph import Graph
from cntgraph.store.verification import RTOL, disagreements, fully_stored
from cntgraph.store.writer import Writer
from cntgraph.view.data import RunData
from tests.conftest import delete_run
from tests.store.test_aggregation import expected_estimates

pytestmark = pytest.mark.neo4j

EPOCHS = 3
SIZES = [4, 5, 4, 4, 3, 2]  # input, fc1, fc2, add, head, aux
NODES = tuple(
    NodeLayer(i, name, (size,), size) for i, (name, size) in enumerate(zip(["input", "fc1", "fc2", "add", "head", "aux"], SIZES, strict=True))
)
LAYERS = (
    WeightedLayer(1, "fc1", "linear", (4,), (5,), (), (), (), 1, True, ()),
    WeightedLayer(2, "fc2", "linear", (5,), (4,), (), (), (), 1, False, ()),
    WeightedLayer(3, "add", "identity", (4,), (4,), (), (), (), 1, False, (), sources=(2,)),
    WeightedLayer(3, "add", "identity", (4,), (4,), (), (), (), 1, False, (), sources=(0,)),
    WeightedLayer(4, "head", "linear", (9,), (3,), (), (), (), 1, True, (), sources=(1, 3)),
    WeightedLayer(5, "aux", "linear", (4,), (2,), (), (), (), 1, True, (), sources=(2,)),
)
TOPOLOGY = Topology(NODES, LAYERS)
SINKS = (4, 5)


def snapshot(epoch: int) -> Snapshot:
    """The weights of ``epoch``: random, different every epoch, but the identity links' ones."""
    rng = np.random.default_rng(epoch)
    weights, biases = [], []
    for layer in LAYERS:
        size_in, size_out = int(np.prod(layer.in_shape)), int(np.prod(layer.out_shape))
        weights.append(np.ones(size_out) if layer.kind == "identity" else rng.normal(size=(size_out, size_in)))
        biases.append(rng.normal(size=size_out) if layer.has_bias else None)
    return Snapshot(TOPOLOGY, tuple(weights), tuple(biases))


def write(graph: Graph, run: str, snapshots: Sequence[Snapshot], sample: Sampler) -> RunLayout:
    """Write one epoch per snapshot under a new run ``run``; return its layout (the sample)."""
    layout = new_layout(run, secrets.randbits(62), snapshots[0], sample, run_props={"model": "hand-dag"})
    writer = Writer(graph.runner, progress=False)
    for epoch, snap in enumerate(snapshots):
        writer.write(build_records(layout, snap, epoch, {"loss": 1.0 / (epoch + 1)}))
    return layout


def expected_links(snap: Snapshot, samples: list[np.ndarray]) -> pd.DataFrame:
    """The core's stored links of every weighted layer: ``src_layer``, ``src_unit``, ``dst_layer``, ``dst_unit``, ``w``."""
    frames = []
    for number, layer in enumerate(snap.topology.layers, start=1):
        src_layer, src, dst, w = stored_links(snap, number, samples)
        frames.append(pd.DataFrame({"src_layer": src_layer, "src_unit": src, "dst_layer": layer.index, "dst_unit": dst, "w": w}))
    return pd.concat(frames, ignore_index=True)


def as_set(links: pd.DataFrame) -> set[tuple[int, int, int, int, float]]:
    rows = links[["src_layer", "src_unit", "dst_layer", "dst_unit", "w"]].itertuples(index=False)
    found = [(int(a), int(b), int(c), int(d), float(w)) for a, b, c, d, w in rows]
    assert len(found) == len(set(found)), "a link is listed twice"
    return set(found)


@pytest.fixture(scope="module")
def runs(graph: Graph) -> Iterator[dict[str, tuple[str, RunLayout]]]:
    """The DAG recorded for epochs 0..2 twice: every unit (``full``), and 3 units a layer (``uniform``)."""
    samples: dict[str, Sampler] = {"full": Full(), "uniform": Uniform(3, seed=11)}
    written = {}
    for kind, sample in samples.items():
        name = f"test-dag-{kind}"
        delete_run(graph, name)
        written[kind] = (name, write(graph, name, [snapshot(e) for e in range(EPOCHS)], sample))
    yield written
    for name, _ in written.values():
        delete_run(graph, name)


@pytest.fixture(params=["full", "uniform"])
def dag(runs: dict[str, tuple[str, RunLayout]], request: pytest.FixtureRequest) -> tuple[str, RunLayout]:
    """Each of the two recorded runs in turn: its name and layout."""
    return runs[request.param]


@pytest.fixture
def full(runs: dict[str, tuple[str, RunLayout]]) -> tuple[str, RunLayout]:
    """The run that stores every unit."""
    return runs["full"]


# -- the layout read back -------------------------------------------------------------------------
def test_layers_say_which_node_layers_feed_them(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    layers = graph.layers(run)
    assert layers["inputs"].map(list).tolist() == [[], [0], [1], [0, 2], [1, 3], [2]]
    assert layers["kind"].tolist() == ["input", "linear", "linear", "add", "linear", "linear"]
    assert layers["sampled"].tolist() == [units.size for units in layout.samples]


# -- (a) the links of an epoch --------------------------------------------------------------------
def test_epoch_links_are_the_cores_stored_links(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    for epoch in range(EPOCHS):
        expected = expected_links(snapshot(epoch), layout.samples)
        found = graph.query("query/epoch_links", run=run, epoch=epoch)
        assert as_set(found) == as_set(expected)
        assert found[["src_layer", "src_unit", "dst_layer", "dst_unit"]].values.tolist() == sorted(
            found[["src_layer", "src_unit", "dst_layer", "dst_unit"]].values.tolist()
        )
        net = graph.to_networkx(run, epoch)
        assert {(a, b, w) for a, b, w in net.edges(data="w")} == {((s, u), (d, v), w) for s, u, d, v, w in as_set(expected)}
    assert graph.epochs(run)["links"].tolist() == [len(expected_links(snapshot(0), layout.samples))] * EPOCHS
    if layout.samples[3].size == SIZES[3]:  # Full: links into the addition from two node layers, into the head from two
        links = expected_links(snapshot(0), layout.samples)
        assert set(links.query("dst_layer == 3")["src_layer"]) == {0, 2}
        assert set(links.query("dst_layer == 4")["src_layer"]) == {1, 3}
        assert set(links.query("src_layer == 2")["dst_layer"]) == {3, 5}


def test_strongest_links_rank_every_stored_link(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    expected = expected_links(snapshot(1), layout.samples)
    k = len(expected)
    found = graph.strongest_links(run, epoch=1, k=k)
    assert as_set(found) == as_set(expected)
    assert (found["w"].abs().diff().dropna() <= 0).all()
    ranked = expected.assign(a=expected["w"].abs()).sort_values(
        ["a", "dst_layer", "src_layer", "src_unit", "dst_unit"], ascending=[False, True, True, True, True]
    )
    top = graph.strongest_links(run, epoch=1, k=5)
    assert top.values.tolist() == ranked.drop(columns="a").head(5).values.tolist()


# -- (b) the in-database aggregation --------------------------------------------------------------
def test_aggregation_of_a_full_run_is_exact(graph: Graph, full: tuple[str, RunLayout]) -> None:
    run, _ = full
    frame = graph.aggregate(run)
    assert frame[["epoch", "layer"]].values.tolist() == [[e, layer] for e in range(EPOCHS) for layer in range(len(SIZES))]
    assert fully_stored(frame) and disagreements(frame).empty
    assert (frame["fluctuation_error"].abs().max(), frame["s_error"].max()) < (RTOL, RTOL)
    for epoch in range(EPOCHS):
        exact = node_strength(snapshot(epoch))
        states = db_states(graph, run, epoch)
        for layer in range(len(SIZES)):
            mine, theirs = states.query("layer == @layer"), exact.query("layer == @layer")
            for column in ("s_in", "s_out", "s"):
                np.testing.assert_allclose(mine[f"db_{column}"], theirs[column], rtol=1e-9, err_msg=f"{column} of layer {layer}")
        np.testing.assert_allclose(
            frame.query("epoch == @epoch")["fluctuation"], layer_fluctuation(snapshot(epoch))["fluctuation"], rtol=1e-9
        )
    states = db_states(graph, run, 0)
    assert (states.query("layer in @SINKS")["db_s_out"] == 1.0).all()
    assert (states.query("layer not in @SINKS")["db_s_out"] != 1.0).all()


def test_aggregation_is_the_documented_estimator(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    frame = graph.aggregate(run, epochs=[2])
    assert frame["sampled"].tolist() == [units.size for units in layout.samples]
    samples = layout.samples
    snap = snapshot(2)
    # the estimator by its definition: each stored link counted at both its ends, scaled from the
    # sample of the layer at its other end, with the variance of that estimate; biases; input s_in = 1, sink s_out = 1
    estimates, errors = expected_estimates(snap, samples)
    assert snap.topology.sinks == set(SINKS)
    states = db_states(graph, run, 2)
    np.testing.assert_allclose(states["db_s"], np.concatenate(estimates), rtol=1e-9)
    np.testing.assert_allclose(states["db_s_se"], np.concatenate(errors), rtol=1e-9, atol=1e-15)
    exact = node_strength(snap)
    for row, units in zip(frame.itertuples(index=False), samples, strict=True):  # the fluctuation from the stored exact strengths
        expected = fluctuation_estimate(exact.loc[exact["layer"] == row.layer, "s"].to_numpy()[units], SIZES[row.layer])
        assert row.fluctuation_kind == expected.kind
        assert (row.fluctuation, row.fluctuation_se) == pytest.approx((expected.value, expected.se), rel=1e-9, abs=1e-15)


def db_states(graph: Graph, run: str, epoch: int) -> pd.DataFrame:
    return graph.cypher(
        "MATCH (r:Run {name: $run}) MATCH (s:NeuronState {rid: r.rid, epoch: $epoch}) "
        "RETURN s.layer AS layer, s.unit AS unit, s.db_s_in AS db_s_in, s.db_s_out AS db_s_out, s.db_s AS db_s, s.db_s_se AS db_s_se "
        "ORDER BY layer, unit",
        run=run, epoch=epoch,
    )


# -- (c) the history of a link --------------------------------------------------------------------
def test_history_of_a_skip_link_and_of_concatenated_inputs(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    samples = layout.samples
    both = np.intersect1d(samples[0], samples[3])
    assert both.size > 0
    u = int(both[0])
    skip = graph.link_history(run, (0, u), (3, u))
    assert skip.to_dict("list") == {"epoch": list(range(EPOCHS)), "w": [1.0] * EPOCHS}
    residual = np.intersect1d(samples[2], samples[3])
    if residual.size:
        assert graph.link_history(run, (2, int(residual[0])), (3, int(residual[0])))["w"].tolist() == [1.0] * EPOCHS
    head = int(samples[4][-1])
    for source, offset in ((1, 0), (3, SIZES[1])):  # the head reads cat(fc1, add): add's unit j is input 5 + j
        j = int(samples[source][-1])
        history = graph.link_history(run, (source, j), (4, head))
        assert history["w"].tolist() == [snapshot(e).weights[4][head, offset + j] for e in range(EPOCHS)]
    with pytest.raises(QueryError, match=rf"has no stored link \(1, {int(samples[1][0])}\) -> \(3, {int(samples[3][0])}\)"):
        graph.link_history(run, (1, int(samples[1][0])), (3, int(samples[3][0])))  # fc1 does not feed the addition
    with pytest.raises(QueryError, match=r"has no stored link \(0, 0\) -> \(4, 0\)"):
        graph.link_history(run, (0, 0), (4, 0))


def test_browser_link_history_lists_every_layer_the_source_feeds(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    samples = layout.samples
    u = int(np.intersect1d(samples[0], samples[3])[0])
    rows = graph.query("browser/link_history", run=run, layer=0, src=u, dst=u)
    expected = [(1, e, snapshot(e).weights[0][u, u]) for e in range(EPOCHS) if u in samples[1]]
    expected += [(3, e, 1.0) for e in range(EPOCHS)]
    assert [tuple(row) for row in rows[["dst_layer", "epoch", "w"]].values.tolist()] == expected


def test_browser_epoch_graph_draws_links_from_several_layers(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    rows = graph.query("browser/epoch_graph", run=run, epoch=1)
    drawn = rows[rows["link"].notna()]
    pairs = {((s["layer"], s["unit"]), (n["layer"], n["unit"])) for s, n in zip(drawn["source"], drawn["neuron"], strict=True)}
    expected = expected_links(snapshot(1), layout.samples)
    assert len(drawn) == len(expected)
    assert pairs == {((s, u), (d, v)) for s, u, d, v, _ in as_set(expected)}


# -- (d) the view's data --------------------------------------------------------------------------
def test_view_data_draws_links_from_several_layers_into_one(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    data = RunData(graph, run)
    _, links = data.epoch(2)
    assert as_set(links) == as_set(expected_links(snapshot(2), layout.samples))
    drawn, note = data.elements(2)
    edges = [e["data"] for e in drawn if "source" in e["data"]]
    assert len(edges) == len(links) and f"{len(links):,} of {len(links):,} stored links drawn" in note
    sources_of = {}
    for edge in edges:
        sources_of.setdefault(int(edge["target"].split(":")[0]), set()).add(int(edge["source"].split(":")[0]))
    assert sources_of[4] == {1, 3}
    if layout.samples[3].size == SIZES[3]:
        assert sources_of[3] == {0, 2}
    placed = {(int(p.layer), int(p.unit)) for p in data.places.itertuples(index=False)}
    assert all((int(a), int(b)) in placed and (int(c), int(d)) in placed for a, b, c, d in links[["src_layer", "src_unit", "dst_layer", "dst_unit"]].values)


# -- (e) the strongest path -----------------------------------------------------------------------
def test_strongest_path_matches_brute_force(graph: Graph, dag: tuple[str, RunLayout]) -> None:
    run, layout = dag
    epoch = 1
    net = nx.DiGraph()
    for s, u, d, v, w in as_set(expected_links(snapshot(epoch), layout.samples)):
        net.add_edge((s, u), (d, v), weight=abs(w), w=w)
    ends = [(sink, int(v)) for sink in SINKS for v in layout.samples[sink]]
    checked = 0
    for unit in layout.samples[0].tolist():
        paths = [p for end in ends if (0, unit) in net and end in net for p in nx.all_simple_paths(net, (0, unit), end)]
        if not paths:
            with pytest.raises(QueryError, match=f"no stored path from input unit {unit} at epoch {epoch}"):
                graph.strongest_path(run, epoch=epoch, unit=unit)
            continue
        score = {tuple(p): np.prod([net.edges[a, b]["weight"] for a, b in itertools.pairwise(p)]) for p in paths}
        best = max(score, key=lambda p: score[p])
        found = graph.strongest_path(run, epoch=epoch, unit=unit)
        assert [tuple(row) for row in found[["layer", "unit"]].values.tolist()] == list(best)
        assert found["score"].iloc[-1] == pytest.approx(score[best], rel=1e-12)
        assert found["w"].tolist()[1:] == [net.edges[a, b]["w"] for a, b in itertools.pairwise(best)]
        checked += 1
    assert checked > 0
    with pytest.raises(QueryError, match="no complete epoch 7"):
        graph.strongest_path(run, epoch=7, unit=0)


# -- runs stored before in_layers and Layer.inputs existed ----------------------------------------
def test_a_chain_stored_without_in_layers_or_inputs_reads_as_before(graph: Graph, run_name: str) -> None:
    params = [([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]], [0.5, -1.0]), ([[2.0, -0.5], [1.0, 4.0]], None)]
    snap = dense_snapshot([w for w, _ in params], [b for _, b in params])
    layout = write(graph, run_name, [snap], Full())
    before = {
        "links": graph.query("query/epoch_links", run=run_name, epoch=0),
        "weights": graph.query("read/epoch_weights", run=run_name, epoch=0),
        "aggregate": graph.aggregate(run_name),
        "path": graph.strongest_path(run_name, epoch=0, unit=1),
        "layers": graph.layers(run_name),
    }
    graph.runner.driver.execute_query(
        "MATCH (r:Run {name: $run}) MATCH (n:Neuron {rid: r.rid}) REMOVE n.in_layers "
        "WITH DISTINCT r MATCH (l:Layer {rid: r.rid}) REMOVE l.inputs", run=run_name
    )
    assert graph.cypher("MATCH (n:Neuron {run: $run}) RETURN count(n.in_layers) AS n", run=run_name)["n"][0] == 0
    assert graph.query("query/epoch_links", run=run_name, epoch=0).equals(before["links"])
    assert graph.query("read/epoch_weights", run=run_name, epoch=0).equals(before["weights"])
    assert graph.aggregate(run_name).equals(before["aggregate"])
    assert disagreements(before["aggregate"]).empty
    assert graph.strongest_path(run_name, epoch=0, unit=1).equals(before["path"])
    assert graph.layers(run_name).equals(before["layers"])
    assert graph.link_history(run_name, (1, 1), (2, 1))["w"].tolist() == [4.0]
    assert as_set(before["links"]) == as_set(expected_links(snap, layout.samples))
