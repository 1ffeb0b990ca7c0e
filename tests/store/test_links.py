"""The stored neuron graph is a graph (issue 15): a LINK relationship per stored link, its weight at
every epoch one hop away, and summaries over the run, all checked against the model's own weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tqdm import tqdm

from cntgraph.cli import main
from cntgraph.core.sampling import Uniform
from cntgraph.store import writer as writer_module
from cntgraph.store.graph import Graph
from cntgraph.store.writer import Writer
from tests.recording.test_recorder import mlp, record

pytestmark = pytest.mark.neo4j

#: node layer -> index of its nn.Linear in mlp()
LINEAR_OF = {1: 0, 2: 2, 3: 4}
LINKS = """
MATCH (a:Neuron {run: $run})-[l:LINK]->(b:Neuron)
RETURN a.layer AS src_layer, a.unit AS src, b.layer AS dst_layer, b.unit AS dst, l.i AS i, l.first AS first, l.last AS last,
       l.delta AS delta, l.min AS min, l.max AS max, l.first_epoch AS first_epoch, l.last_epoch AS last_epoch, l.epochs AS epochs
ORDER BY dst_layer, dst, i
"""
WEIGHTS = """
MATCH (a:Neuron {run: $run})-[l:LINK]->(b:Neuron)-[:HAS_STATE]->(s:NeuronState)
RETURN a.layer AS src_layer, a.unit AS src, b.layer AS dst_layer, b.unit AS dst, s.epoch AS epoch, s.w_in[l.i] AS w
"""


def model_weight(seen: list[dict[int, np.ndarray]], epoch: int, row: object) -> float:
    """The model's weight of a stored link at ``epoch`` (PyTorch's weight[dst, src])."""
    return float(seen[epoch][LINEAR_OF[row.dst_layer]][row.dst, row.src])  # type: ignore[attr-defined]


def test_each_stored_link_is_one_link_relationship_whose_weight_is_the_models_at_every_epoch(graph: Graph, run_name: str) -> None:
    seen = record(graph, run_name, mlp(), range(4), sample=Uniform(5, seed=3))
    links = graph.cypher(LINKS, run=run_name)
    assert len(links) == graph.epochs(run_name)["links"].iloc[0] == 5 * 5 + 5 * 5 + 5 * 3
    assert not links.duplicated(["src_layer", "src", "dst_layer", "dst"]).any()
    weights = graph.cypher(WEIGHTS, run=run_name)
    assert len(weights) == 4 * len(links)
    for row in weights.itertuples():
        assert row.w == model_weight(seen, row.epoch, row)


def test_link_summaries_equal_numpys_over_the_recorded_epochs(graph: Graph, run_name: str) -> None:
    seen = record(graph, run_name, mlp(), range(3), sample=Uniform(5, seed=3))
    seen += record(graph, run_name, mlp(), range(3, 6), sample=Uniform(5, seed=3), if_exists="resume")  # summaries span both recorders
    links = graph.cypher(LINKS, run=run_name)
    for row in links.itertuples():
        series = np.array([model_weight(seen, epoch, row) for epoch in range(6)])
        assert (row.first, row.last, row.min, row.max) == (series[0], series[-1], series.min(), series.max())
        assert row.delta == series[-1] - series[0]
        assert (row.first_epoch, row.last_epoch, row.epochs) == (0, 5, 6)
    assert graph.cypher("MATCH (a:Neuron {run: $run})-[l:LINK]->(b) WHERE abs(l.delta) > 0.1 RETURN count(l) AS n", run=run_name)["n"][0] == int(
        (links["delta"].abs() > 0.1).sum()
    )


def test_link_summaries_are_set_layer_by_layer_under_a_progress_bar(
    graph: Graph, run_name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    record(graph, run_name, mlp(), range(2), sample=Uniform(5, seed=3))
    summarised = graph.cypher(LINKS, run=run_name)
    graph.runner.driver.execute_query(
        "MATCH (:Neuron {run: $run})-[l:LINK]->() REMOVE l.first, l.last, l.delta, l.min, l.max, l.first_epoch, l.last_epoch, l.epochs",
        run=run_name,
    )
    assert graph.cypher(LINKS, run=run_name)["epochs"].isna().all()
    monkeypatch.setattr(writer_module, "_PROGRESS_FROM", 1)  # a bar even for this small run
    rid = int(graph.query("read/run", name=run_name)["rid"][0])
    capsys.readouterr()
    Writer(graph.runner, progress=True).summarise(rid, run_name)
    shown = capsys.readouterr().err
    assert f"{run_name}: LINK summaries" in shown and f"/{tqdm.format_sizeof(len(summarised))}" in shown  # every LINK counted
    assert graph.cypher(LINKS, run=run_name).equals(summarised)  # every layer's LINKs summarised again


def test_graph_patterns_work_natively(graph: Graph, run_name: str) -> None:
    record(graph, run_name, mlp(), range(2), sample=Uniform(5, seed=3))
    paths = graph.cypher("MATCH p = (:Neuron {run: $run, layer: 0})-[:LINK*3]->(:Neuron) RETURN p", run=run_name)
    assert len(paths) == 5 * 5 * 5 * 3  # every input -> hidden -> hidden -> output path of the sample
    layers = graph.cypher("MATCH (n:Neuron {run: $run}) RETURN [label IN labels(n) WHERE label <> 'Neuron'] AS labels, n.layer AS layer",
                          run=run_name)  # fmt: skip
    assert all(labels == [f"L{layer}"] for labels, layer in layers.itertuples(index=False))


def test_projection_rows_are_the_epochs_links(graph: Graph, run_name: str) -> None:
    record(graph, run_name, mlp(), range(2), sample=Uniform(5, seed=3))
    rows = graph.query("query/epoch_projection", run=run_name, epoch=1)
    projected = sorted((a["layer"], a["unit"], b["layer"], b["unit"], w) for a, b, w in zip(rows["source"], rows["target"], rows["w"], strict=True))
    links = graph.query("query/epoch_links", run=run_name, epoch=1)
    assert projected == sorted(tuple(row) for row in links.itertuples(index=False))
    assert rows["abs_w"].tolist() == rows["w"].abs().tolist()


def test_repair_gives_a_run_without_links_its_links_and_summaries(
    graph: Graph, run_name: str, cli_env: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record(graph, run_name, mlp(), range(3), sample=Uniform(5, seed=3))
    before = graph.cypher(LINKS, run=run_name)
    # as stored before LINK relationships existed
    graph.runner.driver.execute_query(
        "MATCH (n:Neuron {run: $run}) OPTIONAL MATCH ()-[l:LINK]->(n) DELETE l REMOVE n.linked", run=run_name
    )
    assert graph.cypher(LINKS, run=run_name).empty and graph.query("query/epoch_links", run=run_name, epoch=2).empty
    assert main(["repair", run_name]) == 0
    assert "LINK relationships are written and their summaries refreshed" in capsys.readouterr().out
    after = graph.cypher(LINKS, run=run_name)
    assert after.equals(before)
