"""The demo end to end against the real server (two epochs instead of twenty, to stay quick)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cntgraph.cli import main
from cntgraph.store.graph import Graph
from cntgraph.studies.demo import RUNS, browser_queries, run_demo
from tests.conftest import Neo4jUnderTest, delete_run

pytestmark = pytest.mark.neo4j


@pytest.fixture
def clean_demo_runs(graph: Graph):  # noqa: ANN201
    for demo in RUNS:
        delete_run(graph, demo.run)
    yield
    for demo in RUNS:
        delete_run(graph, demo.run)


def test_demo_records_every_epoch_and_plots(graph: Graph, tmp_path: Path, clean_demo_runs: None) -> None:
    result = run_demo(graph, tmp_path, epochs=2, progress=False)
    summary = result.summary
    assert summary.groupby("run")["layer"].apply(list).to_dict() == {"demo-mlp": [0, 1, 2, 3], "demo-cnn": [0, 1, 2, 3, 4]}
    assert summary["accuracy"].between(0.0, 1.0).all()
    assert (summary.query("layer > 0")["last"] > 0).all()
    for demo in RUNS:
        stored = graph.query("read/run", name=demo.run)
        assert (int(stored["epochs"][0]), int(stored["last_epoch"][0])) == (2, 1)
    # issue 15: a Neo4j user's first two queries find neurons joined by links
    pairs = graph.cypher("MATCH (a:Neuron {run: 'demo-mlp'})-[r]->(b:Neuron) RETURN a, r, b LIMIT 50")
    assert len(pairs) == 50 and {r.type for r in pairs["r"]} == {"LINK"}
    assert len(graph.cypher("MATCH p=(:Neuron {run: 'demo-mlp'})-[*1..3]->(:Neuron) RETURN p LIMIT 10")) == 10
    assert [path.name for path in result.plots] == ["fluctuation.png", "strength-demo-mlp.png", "strength-demo-cnn.png"]
    assert all(path.stat().st_size > 10_000 for path in result.plots)


def test_cli_demo_prints_table_plots_and_browser(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], neo4j_server: Neo4jUnderTest,
    graph: Graph, tmp_path: Path, clean_demo_runs: None,
) -> None:
    for name, value in zip(("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"), (neo4j_server.uri, *neo4j_server.auth), strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NEO4J_BROWSER_URL", "http://127.0.0.1:17474/browser/")
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "demo-mlp" in printed and "demo-cnn" in printed
    assert f"{tmp_path / 'fluctuation.png'}" in printed
    assert "Neo4j Browser: http://127.0.0.1:17474/browser/" in printed
    assert printed.rstrip().endswith("cntgraph view demo-mlp")  # the last thing it prints
    queries = browser_queries(1)
    assert len(queries) == 3
    for query in queries:  # printed whole, and each answers on the demo's run
        assert "\n".join(f"  {line}" for line in query.splitlines()) in printed
        assert not graph.cypher(query).empty, query
