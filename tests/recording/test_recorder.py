"""Recording epochs into the real Neo4j: histories, replacement, exact metrics, spool and replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v2, resnet18, vgg11_bn

from cntgraph import TopStrength, Uniform, layer_fluctuation, node_strength
from cntgraph.core.links import layer_links
from cntgraph.core.links import stored_links as stored_links_of
from cntgraph.core.network import Snapshot
from cntgraph.core.null_models import iid_fluctuation, null_model
from cntgraph.core.sampling import Full
from cntgraph.errors import ConfigurationError, MetricError, RecorderError, SpoolError
from cntgraph.model.snapshot import take_snapshot
from cntgraph.model.tracing import trace
from cntgraph.recording.recorder import Recorder
from cntgraph.recording.replay import replay
from cntgraph.records.build import build_records, new_layout
from cntgraph.records.spool import load, save
from cntgraph.store.graph import Graph
from tests.conftest import stored_links
from tests.model.test_adapters import TokenClassifier
from tests.model.test_dag import Recurrent

pytestmark = pytest.mark.neo4j

INPUT = (12,)


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 3))


def nudge(model: nn.Module, epoch: int) -> None:
    """A stand-in for one epoch of training: every parameter moves, differently per epoch."""
    generator = torch.Generator().manual_seed(100 + epoch)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))


def rid_of(graph: Graph, run: str) -> int:
    return int(graph.query("read/run", name=run)["rid"][0])


def record(graph: Graph, run: str, model: nn.Module, epochs: range, **kwargs: object) -> list[dict[int, np.ndarray]]:
    """Record ``epochs`` (nudging the model before each); return the weights seen at each capture."""
    seen = []
    with Recorder(model, run, INPUT, graph=graph, progress=False, **kwargs) as recorder:
        for epoch in epochs:
            nudge(model, epoch)
            seen.append({i: m.weight.detach().double().numpy().copy() for i, m in enumerate(model) if isinstance(m, nn.Linear)})
            recorder.capture(epoch, loss=1.0 / (epoch + 1))
    return seen


def test_link_history_equals_the_models_weights(graph: Graph, run_name: str) -> None:
    model = mlp()
    seen = record(graph, run_name, model, range(4), sample=Uniform(5, seed=3))
    # take a stored link of the second weighted layer (node layer 1 -> 2)
    links = stored_links(graph, run_name).query("src_layer == 1")
    src, dst = int(links["src"].iloc[0]), int(links["dst"].iloc[0])
    history = links.query("src == @src and dst == @dst")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    expected = [seen[epoch][2][dst, src] for epoch in range(4)]  # model[2] is the second Linear
    np.testing.assert_array_equal(history["w"].to_numpy(), expected)


def test_every_stored_link_and_count_matches_the_sample(graph: Graph, run_name: str) -> None:
    model = mlp()
    record(graph, run_name, model, range(2), sample=Uniform(4, seed=1), per_layer={"input": Full()})
    rid = rid_of(graph, run_name)
    layers = graph.cypher("MATCH (l:Layer {rid: $rid}) RETURN l.index AS i, l.sampled AS n ORDER BY i", rid=rid)
    assert layers["n"].tolist() == [12, 4, 4, 3]  # input full; 4 of 10 and 4 of 6; 3 units < k
    links = stored_links(graph, run_name).groupby("epoch").size()
    assert links.tolist() == [12 * 4 + 4 * 4 + 4 * 3] * 2
    epochs = graph.query("read/run", name=run_name)
    assert int(epochs["epochs"][0]) == 2 and int(epochs["last_epoch"][0]) == 1


def test_recapture_replaces_and_never_duplicates(graph: Graph, run_name: str) -> None:
    model = mlp()
    with Recorder(model, run_name, INPUT, graph=graph, sample=Uniform(5, seed=2), progress=False) as recorder:
        recorder.capture(0, loss=2.0)
        nudge(model, 1)
        recorder.capture(0, loss=1.5)  # the same epoch again, with other weights
    rid = rid_of(graph, run_name)
    counts = graph.cypher(
        "MATCH (e:Epoch {rid: $rid}) "
        "CALL (e) { MATCH (s:NeuronState {rid: $rid, epoch: e.epoch}) RETURN count(s) AS states } "
        "RETURN e.epoch AS epoch, e.loss AS loss, e.links AS links, states",
        rid=rid,
    )
    assert counts.to_dict("records") == [{"epoch": 0, "loss": 1.5, "links": 5 * 5 + 5 * 5 + 5 * 3, "states": 5 + 5 + 5 + 3}]
    links = stored_links(graph, run_name)
    assert len(links) == 5 * 5 + 5 * 5 + 5 * 3 and set(links["epoch"]) == {0}
    w = links.query("src_layer == 0")
    current = model[0].weight.detach().double().numpy()
    np.testing.assert_array_equal(w["w"].to_numpy(), current[w["dst"].to_numpy(), w["src"].to_numpy()])


def test_stored_strengths_and_fluctuation_are_the_exact_ones(graph: Graph, run_name: str) -> None:
    model = mlp()
    record(graph, run_name, model, range(1), sample=TopStrength(4))
    rid = rid_of(graph, run_name)
    stored = graph.cypher(
        "MATCH (s:NeuronState {rid: $rid, epoch: 0}) RETURN s.layer AS layer, s.unit AS unit, "
        "s.s_in AS s_in, s.s_out AS s_out, s.s AS s ORDER BY layer, unit",
        rid=rid,
    )
    exact = node_strength(model, INPUT).merge(stored[["layer", "unit"]], on=["layer", "unit"])
    assert len(exact) == len(stored) == 4 + 4 + 4 + 3
    for column in ("s_in", "s_out", "s"):
        np.testing.assert_allclose(stored[column], exact[column], rtol=1e-12)
    # TopStrength picked the 4 units of largest |s| in each hidden layer
    hidden = node_strength(model, INPUT).query("layer == 1")
    assert set(stored.query("layer == 1")["unit"]) == set(hidden.assign(a=hidden.s.abs()).nlargest(4, "a")["unit"])
    fluctuation = graph.cypher(
        "MATCH (s:LayerState {rid: $rid, epoch: 0}) RETURN s.layer AS layer, s.fluctuation AS fluctuation ORDER BY layer",
        rid=rid,
    )
    np.testing.assert_allclose(fluctuation["fluctuation"], layer_fluctuation(model, INPUT)["fluctuation"], rtol=1e-12)


def test_each_epoch_stores_its_null_models_beside_the_fluctuation(graph: Graph, run_name: str) -> None:
    model = mlp()
    seen_weights = []
    with Recorder(model, run_name, INPUT, graph=graph, progress=False, null_draws=6) as recorder:
        for epoch in range(2):
            nudge(model, epoch)
            seen_weights.append(take_snapshot(model, trace(model, INPUT)))
            recorder.capture(epoch)
    stored = graph.fluctuation(run_name)
    assert stored["epoch"].tolist() == [0] * 4 + [1] * 4
    for epoch, snapshot in enumerate(seen_weights):
        expected = null_model(snapshot, draws=6, seed=epoch).layers  # seeded by the epoch
        rows = stored[stored["epoch"] == epoch].reset_index(drop=True)
        for column in ("fluctuation", "iid", "iid_ratio", "null_mean", "null_std", "z"):
            np.testing.assert_allclose(rows[column], expected[column], rtol=1e-12, err_msg=column)
    # without null_draws, only the i.i.d. prediction is stored
    record(graph, run_name, mlp(), range(1), if_exists="overwrite")
    plain = graph.fluctuation(run_name)
    np.testing.assert_allclose(plain["iid"], iid_fluctuation(_nudged_snapshot(0)), rtol=1e-12)  # record() nudges first
    assert plain[["null_mean", "null_std", "z"]].isna().all().all()


def _nudged_snapshot(epoch: int) -> Snapshot:
    model = mlp()
    nudge(model, epoch)
    return take_snapshot(model, trace(model, INPUT))


def test_given_data_each_epoch_stores_the_distributions_of_activations(graph: Graph, run_name: str) -> None:
    model = mlp()
    data = torch.randn(32, *INPUT, generator=torch.Generator().manual_seed(5))
    expected = []
    with Recorder(model, run_name, INPUT, graph=graph, progress=False, data=data) as recorder:
        for epoch in range(2):
            nudge(model, epoch)
            with torch.no_grad():  # the forward pass written out: Linear, ReLU, Linear, Tanh, Linear
                h1 = data @ model[0].weight.T + model[0].bias
                h2 = torch.relu(h1) @ model[2].weight.T + model[2].bias
                out = torch.tanh(h2) @ model[4].weight.T + model[4].bias
            expected.append({0: (None, data), 1: (h1, torch.relu(h1)), 2: (h2, torch.tanh(h2)), 3: (out, out)})
            recorder.capture(epoch)
    stored = graph.activations(run_name)
    assert stored[["epoch", "layer"]].values.tolist() == [[e, layer] for e in range(2) for layer in range(4)]
    for row in stored.itertuples(index=False):
        strength, activation = expected[row.epoch][row.layer]
        a = activation.double().numpy().ravel()
        assert row.activation_count == a.size
        assert (row.activation_mean, row.activation_std, row.activation_q95) == pytest.approx(
            (a.mean(), a.std(), np.quantile(a, 0.95)), rel=1e-5)
        if strength is None:
            assert np.isnan(row.input_strength_mean)
        else:
            s = strength.double().numpy().ravel()
            assert (row.input_strength_mean, row.input_strength_min) == pytest.approx((s.mean(), s.min()), rel=1e-5)


@pytest.mark.parametrize("draws", [1, -2, 2.5])
def test_a_bad_null_draws_is_named(draws: object) -> None:
    with pytest.raises(ConfigurationError, match="null_draws must be"):
        Recorder(mlp(), "never-written", INPUT, null_draws=draws)  # type: ignore[arg-type]


def test_conv_links_between_sampled_units(graph: Graph, run_name: str) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 5 * 5, 4))
    shape = (1, 5, 5)
    with Recorder(model, run_name, shape, graph=graph, sample=Uniform(8, seed=0), progress=False) as recorder:
        recorder.capture(0)
    rid = rid_of(graph, run_name)
    topology = trace(model, shape)
    snapshot = take_snapshot(model, topology)
    samples = new_layout(run_name, rid, snapshot, Uniform(8, seed=0)).samples
    src, dst, w = layer_links(snapshot, 1, samples[0], samples[1])
    stored = stored_links(graph, run_name).query("src_layer == 0")
    assert 0 < len(stored) < 8 * 8  # links into padding and across far pixels do not exist
    np.testing.assert_array_equal(stored["src"], src)
    np.testing.assert_array_equal(stored["dst"], dst)
    np.testing.assert_array_equal(stored["w"], w)


def test_a_used_run_name_is_an_error_unless_resumed_or_overwritten(graph: Graph, run_name: str) -> None:
    model = mlp()
    record(graph, run_name, model, range(2), sample=Uniform(5, seed=4))
    with pytest.raises(RecorderError, match=f"run '{run_name}' already exists .*if_exists='resume'"):
        record(graph, run_name, model, range(2, 3), sample=Uniform(5, seed=4))
    before = graph.cypher("MATCH (n:Neuron {run: $run}) RETURN n.layer AS l, n.unit AS u ORDER BY l, u", run=run_name)
    record(graph, run_name, model, range(2, 4), sample=Uniform(5, seed=99), if_exists="resume")
    after = graph.cypher("MATCH (n:Neuron {run: $run}) RETURN n.layer AS l, n.unit AS u ORDER BY l, u", run=run_name)
    assert after.equals(before)  # resuming keeps the run's sample, whatever sampler is passed
    assert graph.query("read/run", name=run_name)["epochs"][0] == 4
    with pytest.raises(RecorderError, match="epoch 1 captured after epoch 3"):
        record(graph, run_name, model, range(1, 2), if_exists="resume")
    record(graph, run_name, model, range(1), sample=Uniform(5, seed=4), if_exists="overwrite")
    assert graph.query("read/run", name=run_name)["epochs"][0] == 1


def test_epoch_props_are_checked(graph: Graph, run_name: str) -> None:
    with Recorder(mlp(), run_name, INPUT, graph=graph, progress=False) as recorder:
        with pytest.raises(ConfigurationError, match="'complete' is reserved"):
            recorder.capture(0, complete=True)
        with pytest.raises(ConfigurationError, match="accuracy=\\[0.5\\] is a list"):
            recorder.capture(0, accuracy=[0.5])
        recorder.capture(0, accuracy=torch.tensor(0.75))
    assert graph.cypher("MATCH (e:Epoch {run: $run}) RETURN e.accuracy AS a", run=run_name)["a"].tolist() == [0.75]


@pytest.mark.parametrize("size", [0, -1, 2.5])
def test_a_bad_queue_size_is_named(size: object) -> None:
    with pytest.raises(ConfigurationError, match=f"queue_size must be a whole number >= 1 or None.*got {size}"):
        Recorder(mlp(), "never-written", INPUT, queue_size=size)  # type: ignore[arg-type]


def _records(run: str, model: nn.Module, epoch: int):  # noqa: ANN202
    snapshot = take_snapshot(model, trace(model, INPUT))
    layout = new_layout(run, 4242, snapshot, Uniform(5, seed=5))
    return build_records(layout, snapshot, epoch, {"loss": 0.5})


def test_a_spooled_epoch_replays_exactly_once(graph: Graph, run_name: str, tmp_path: Path) -> None:
    records = _records(run_name, mlp(), 7)
    path = save(records, tmp_path)
    assert replay(graph, tmp_path, progress=False) == [(run_name, 7)]
    assert not path.exists()
    assert replay(graph, tmp_path, progress=False) == []
    save(records, tmp_path)  # a crash after the write but before the file was removed
    assert replay(graph, tmp_path, progress=False) == [(run_name, 7)]
    links = stored_links(graph, run_name)
    states = graph.cypher("MATCH (s:NeuronState {rid: 4242, epoch: 7}) RETURN count(s) AS n")["n"][0]
    assert (len(links), states) == (records.link_count, sum(b.unit.size for b in records.neurons))
    assert set(links["epoch"]) == {7}


def test_spool_files_round_trip_and_damage_is_named(tmp_path: Path) -> None:
    records = _records("spool-check", mlp(), 3)
    loaded = load(save(records, tmp_path))
    assert (loaded.run, loaded.rid, loaded.epoch, loaded.epoch_props) == ("spool-check", 4242, 3, {"loss": 0.5})
    for original, again in zip(records.links, loaded.links, strict=True):
        np.testing.assert_array_equal(original.w, again.w)
        np.testing.assert_array_equal(original.src, again.src)
        np.testing.assert_array_equal(original.dst, again.dst)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"not a spool file")
    with pytest.raises(SpoolError, match="damaged.npz is damaged"):
        load(damaged)


def test_an_outage_spools_and_nothing_is_lost(own_server, tmp_path: Path) -> None:  # noqa: ANN001
    from cntgraph.server.connect import connect

    state = own_server.state()
    assert state is not None
    auth = ("neo4j", own_server.password())
    model, run = mlp(), "outage"
    graph = connect(state.bolt_uri, auth)
    recorder = Recorder(model, run, INPUT, graph=graph, sample=Uniform(5, seed=6), spool_dir=tmp_path, retry_after=60, progress=False)
    recorder.capture(0)
    recorder.flush()
    own_server.stop()
    with pytest.warns(RuntimeWarning, match=r"(?s)epoch 1 of run 'outage' was not written .*spooled to "):
        nudge(model, 1)
        recorder.capture(1)
        recorder.flush()
    with pytest.warns(RuntimeWarning, match=r"(?s)epoch 2 .*spooled"):
        nudge(model, 2)
        recorder.capture(2)
        recorder.flush()
    with pytest.raises(RecorderError, match=r"2 epoch\(s\) could not be written .*outage-.*-epoch-000001.npz.*cntgraph replay"):
        recorder.close()
    graph.close()
    own_server.start(bolt_port=state.bolt_port, http_port=state.http_port, progress=False)
    with connect(state.bolt_uri, auth) as graph:
        assert replay(graph, tmp_path, progress=False) == [(run, 1), (run, 2)]
        epochs = graph.cypher("MATCH (e:Epoch {run: $run}) WHERE e.complete RETURN e.epoch AS epoch ORDER BY epoch", run=run)
        links = stored_links(graph, run)
    assert epochs["epoch"].tolist() == [0, 1, 2]
    assert links.groupby("epoch").size().tolist() == [5 * 5 + 5 * 5 + 5 * 3] * 3
    stored_w = links.query("epoch == 2 and src_layer == 2")
    final = model[4].weight.detach().double().numpy()
    np.testing.assert_array_equal(stored_w["w"], final[stored_w["dst"], stored_w["src"]])
    assert list(tmp_path.glob("*.npz")) == []


def test_cli_replay_writes_the_spool(
    graph: Graph, run_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    neo4j_server,  # noqa: ANN001
) -> None:
    from cntgraph.cli import main

    records = _records(run_name, mlp(), 2)
    save(records, tmp_path)
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])
    assert main(["replay", "--spool", str(tmp_path)]) == 0
    assert f"wrote run '{run_name}' epoch 2" in capsys.readouterr().out
    assert graph.query("read/run", name=run_name)["epochs"][0] == 1


def test_run_names_and_property_names_cannot_inject_cypher(graph: Graph) -> None:
    from tests.conftest import delete_run

    run = "x'}) MATCH (n) DETACH DELETE n // \"`"
    delete_run(graph, run)
    before = int(graph.cypher("MATCH (n) RETURN count(n) AS n")["n"][0])
    with Recorder(mlp(), run, INPUT, graph=graph, sample=Uniform(3, seed=0), progress=False) as recorder:
        recorder.capture(0, **{"loss`) DELETE n //": 0.25})
    stored = graph.cypher("MATCH (e:Epoch {run: $run}) RETURN properties(e) AS props", run=run)
    assert stored["props"][0]["loss`) DELETE n //"] == 0.25
    assert graph.query("read/run", name=run)["epochs"][0] == 1
    after = int(graph.cypher("MATCH (n) RETURN count(n) AS n")["n"][0])
    assert after > before  # nothing was deleted; the run's nodes were added
    delete_run(graph, run)


def test_bad_run_properties_are_refused_when_the_recorder_is_built() -> None:
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(ConfigurationError, match="run property 'model' is reserved by cntgraph; rename it"):
        Recorder(model, "props", (3,), props={"model": "mine"})
    with pytest.raises(ConfigurationError, match=r"run property layers=\[1, 2\] is a list; use a number, string or boolean"):
        Recorder(model, "props", (3,), props={"layers": [1, 2]})


def test_per_layer_samples_must_name_real_layers() -> None:
    from cntgraph.core.sampling import samplers

    with pytest.raises(ConfigurationError, match=r"unknown layers \['fc9'\]; node layers are 0 \(input\), 1 \(fc\)"):
        samplers(["input", "fc"], Full(), {"fc9": Uniform(1)})
    with pytest.raises(ConfigurationError, match=r"Uniform\(k\) must be a whole number >= 1, got 0"):
        Uniform(0)


@pytest.mark.neo4j
def test_a_vgg_with_batchnorm_and_pooling_records_and_reads_back(graph: Graph, run_name: str) -> None:
    torch.manual_seed(0)
    vgg = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3),
    )  # fmt: skip
    optimizer = torch.optim.SGD(vgg.parameters(), lr=0.1)
    x, y = torch.randn(32, 1, 8, 8), torch.randint(0, 3, (32,))
    with Recorder(vgg, run_name, (1, 8, 8), graph=graph, sample=Full(), progress=False) as recorder:
        for epoch in range(2):
            vgg.train()  # BatchNorm's running statistics move
            optimizer.zero_grad()
            nn.functional.cross_entropy(vgg(x), y).backward()
            optimizer.step()
            recorder.capture(epoch)
    snapshot = take_snapshot(vgg, trace(vgg, (1, 8, 8)))
    assert graph.layers(run_name)["kind"].tolist() == ["input", "conv2d", "maxpool2d", "conv2d", "avgpool2d", "linear"]
    stored = stored_links(graph, run_name).query("epoch == 1")
    for layer in snapshot.topology.layers:
        src, dst, w = layer_links(snapshot, layer.index)
        part = stored[stored["dst_layer"] == layer.index].sort_values(["dst", "src"])
        assert (part["src"].tolist(), part["dst"].tolist()) == (src.tolist(), dst.tolist())
        assert part["w"].tolist() == w.tolist()  # the folded weights, bit for bit
    strengths = graph.query("read/strengths", run=run_name, epochs=[1])
    expected = node_strength(snapshot)
    np.testing.assert_array_equal(strengths["s"].to_numpy(), expected["s"].to_numpy())


def train_and_record(
    graph: Graph, run: str, model: nn.Module, shape: tuple[int, ...], sample: object, epochs: int = 2, tokens: int = 0
) -> Snapshot:
    """A few SGD steps on random data (token ids below ``tokens`` if given), each captured; returns the
    snapshot of the last epoch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randint(0, tokens, (8, *shape)) if tokens else torch.randn(8, *shape)
    y = torch.randint(0, 2, (8,))  # every model here has at least 2 outputs
    with Recorder(model, run, shape, graph=graph, sample=sample, progress=False) as recorder:
        for epoch in range(epochs):
            model.train()
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            recorder.capture(epoch)
    return take_snapshot(model, trace(model, shape))


def assert_stored_as_snapshot(graph: Graph, run: str, snapshot: Snapshot, epoch: int) -> None:
    """Every stored link of ``epoch`` is the snapshot's, bit for bit, and so are the stored strengths."""
    layers = graph.layers(run)
    assert layers["name"].tolist() == [node.name for node in snapshot.topology.node_layers]
    samples = [np.asarray(units) for units in graph.query("read/samples", rid=rid_of(graph, run))["units"]]
    expected = pd.DataFrame(
        [(int(a), int(s), layer.index, int(d), w)
         for number, layer in enumerate(snapshot.topology.layers, start=1)
         for a, s, d, w in zip(*stored_links_of(snapshot, number, samples), strict=True)],
        columns=["src_layer", "src", "dst_layer", "dst", "w"],
    ).sort_values(["dst_layer", "dst", "src_layer", "src"], ignore_index=True)
    stored = stored_links(graph, run).query("epoch == @epoch").drop(columns="epoch").reset_index(drop=True)
    assert len(stored) == len(expected) > 100
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False, check_exact=True)  # folded weights, bit for bit
    strengths = graph.query("read/strengths", run=run, epochs=[epoch])
    exact = node_strength(snapshot).merge(strengths[["layer", "unit"]], on=["layer", "unit"])
    np.testing.assert_array_equal(strengths["s"].to_numpy(), exact["s"].to_numpy())


@pytest.mark.neo4j
@pytest.mark.parametrize(("build", "adds"), [(resnet18, 8), (mobilenet_v2, 10), (vgg11_bn, 0)])
def test_torchvision_models_record_and_read_back(graph: Graph, run_name: str, build, adds: int) -> None:  # noqa: ANN001
    """Residual additions, downsampling shortcuts, folded BatchNorms and pooling, sampled per layer."""
    torch.manual_seed(0)
    snapshot = train_and_record(graph, run_name, build(num_classes=10), (3, 32, 32), Uniform(48, seed=1))
    assert graph.layers(run_name)["kind"].tolist().count("add") == adds
    assert_stored_as_snapshot(graph, run_name, snapshot, epoch=1)


class TransformerClassifier(nn.Module):
    """Rows of an 8x8 image as a sequence: a position-wise embedding, one encoder layer, a mean, a head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(8, 16)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, nhead=2, dim_feedforward=32, batch_first=True, dropout=0.0), num_layers=2
        )
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x)).mean(dim=1))


@pytest.mark.neo4j
def test_a_transformer_classifier_records_and_aggregates_in_the_database(graph: Graph, run_name: str) -> None:
    torch.manual_seed(0)
    snapshot = train_and_record(graph, run_name, TransformerClassifier(), (8, 8), Full())
    kinds = graph.layers(run_name)["kind"].tolist()
    assert kinds.count("positions") == 1 and kinds.count("add") == 4 and kinds.count("layernorm") == 4
    assert_stored_as_snapshot(graph, run_name, snapshot, epoch=1)
    aggregated = graph.aggregate(run_name, epochs=[1])
    assert aggregated["s_error"].max() < 1e-9  # Cypher's strengths from the stored links equal the exact ones


@pytest.mark.neo4j
@pytest.mark.parametrize(("num_layers", "bidirectional"), [(1, False), (2, False), (2, True)])
def test_an_lstm_records_its_recurrent_links_and_aggregates_in_the_database(
    graph: Graph, run_name: str, num_layers: int, bidirectional: bool
) -> None:
    torch.manual_seed(0)
    snapshot = train_and_record(graph, run_name, Recurrent(nn.LSTM, num_layers, bidirectional), (5, 3), Full())
    inputs = graph.layers(run_name)["inputs"].tolist()
    assert inputs[1 : 1 + num_layers] == [[k, k + 1] for k in range(num_layers)]  # from below, and from itself a step before
    assert_stored_as_snapshot(graph, run_name, snapshot, epoch=1)
    assert graph.aggregate(run_name, epochs=[1])["s_error"].max() < 1e-9
    assert graph.strongest_path(run_name, epoch=1, unit=0)["layer"].tolist() == list(range(num_layers + 3))


@pytest.mark.neo4j
def test_a_token_transformer_records_its_vocabulary_as_input_units(graph: Graph, run_name: str) -> None:
    torch.manual_seed(0)
    model = TokenClassifier(vocabulary=50, features=8)
    snapshot = train_and_record(graph, run_name, model, (6,), Uniform(64, seed=2), tokens=50)
    layers = graph.layers(run_name)
    assert layers["shape"][0] == [6, 50] and layers["sampled"][0] == 64  # (position, vocabulary entry) units
    assert_stored_as_snapshot(graph, run_name, snapshot, epoch=1)


class Skip(nn.Module):
    """fc2(fc1(x)) plus x, or plus fc1(x): the same node layers, wired differently."""

    def __init__(self, from_input: bool) -> None:
        super().__init__()
        self.fc1, self.fc2, self.from_input = nn.Linear(4, 4), nn.Linear(4, 4), from_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        return self.fc2(h) + (x if self.from_input else h)


@pytest.mark.neo4j
def test_a_dag_run_resumes_and_a_differently_wired_model_is_refused(graph: Graph, run_name: str) -> None:
    torch.manual_seed(0)
    model = Skip(from_input=True)
    for epochs, if_exists in ((range(2), "error"), (range(2, 4), "resume")):
        with Recorder(model, run_name, (4,), graph=graph, sample=Full(), if_exists=if_exists, progress=False) as recorder:
            for epoch in epochs:
                nudge(model, epoch)
                recorder.capture(epoch)
    assert graph.epochs(run_name)["epoch"].tolist() == [0, 1, 2, 3]
    assert graph.layers(run_name)["inputs"].tolist()[3] == [0, 2]
    other = Recorder(Skip(from_input=False), run_name, (4,), graph=graph, if_exists="resume", progress=False)
    with pytest.raises(RecorderError, match=r"node layer 3 differs in inputs \(recorded \[0, 2\], this model \[1, 2\]\)"):
        other.capture(4)
    assert graph.epochs(run_name)["epoch"].tolist() == [0, 1, 2, 3]  # nothing written


@pytest.mark.neo4j
def test_a_batchnorm_kept_as_its_own_layer_records_one_link_per_unit(graph: Graph, run_name: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2)).eval()
    with torch.no_grad():
        model[1].running_var.copy_(torch.tensor([0.25, 1.0, 4.0]))
        model[1].weight.copy_(torch.tensor([1.0, -2.0, 3.0]))
    with Recorder(model, run_name, (4,), graph=graph, sample=Full(), progress=False, fold_batchnorm=False) as recorder:
        recorder.capture(0)
    assert graph.layers(run_name)["kind"].tolist() == ["input", "linear", "batchnorm", "linear"]
    links = stored_links(graph, run_name).query("dst_layer == 2")
    assert links[["src_layer", "src", "dst"]].values.tolist() == [[1, 0, 0], [1, 1, 1], [1, 2, 2]]
    eps = model[1].eps
    np.testing.assert_allclose(links["w"], [1.0 / np.sqrt(0.25 + eps), -2.0 / np.sqrt(1.0 + eps), 3.0 / np.sqrt(4.0 + eps)], rtol=1e-12)


@pytest.mark.neo4j
def test_a_nan_weight_is_raised_by_the_next_call_and_the_epochs_before_it_are_kept(graph: Graph, run_name: str) -> None:
    model = mlp()
    recorder = Recorder(model, run_name, INPUT, graph=graph, progress=False)
    recorder.capture(0)
    with torch.no_grad():
        model[2].weight[0, 0] = float("nan")
    recorder.capture(1)  # returns at once: the float64 snapshot is made by the writer thread
    with pytest.raises(MetricError, match=r"layer '2' has non-finite parameters \(1 of 60 values\)"):
        recorder.close()
    assert graph.epochs(run_name)["epoch"].tolist() == [0]


def test_the_default_sample_keeps_small_layers_whole_and_caps_large_ones() -> None:
    recorder = Recorder(nn.Linear(3000, 10), "never-written", (3000,))  # no Neo4j: nothing is captured
    chosen = recorder.sample.choose(0, np.zeros(3000))
    assert chosen.size == 1024 and np.unique(chosen).size == 1024 and chosen.max() < 3000
    assert recorder.sample.choose(1, np.zeros(10)).tolist() == list(range(10))
