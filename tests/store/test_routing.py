"""A neo4j:// routing URI (clusters, Aura) end to end, against the session's single server."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import cntgraph
from cntgraph import cli
from cntgraph.model.metrics import layer_fluctuation
from tests.conftest import Neo4jUnderTest, delete_run

pytestmark = pytest.mark.neo4j


def test_a_routing_uri_records_reads_aggregates_and_serves_the_cli(
    neo4j_server: Neo4jUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scheme, rest = neo4j_server.uri.split("://", 1)
    uri = f"neo4j{scheme.removeprefix('bolt')}://{rest}"  # bolt:// -> neo4j://, bolt+s:// -> neo4j+s://
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with cntgraph.connect(uri, neo4j_server.auth) as graph:
        assert graph.runner.target.uri == uri
        delete_run(graph, "test-routing")
        try:
            with cntgraph.Recorder(model, "test-routing", (4,), graph=graph, progress=False) as recorder:  # a writer process too
                for epoch in range(2):
                    recorder.capture(epoch, loss=0.5)
            assert graph.complete_epochs("test-routing") == [0, 1]
            stored = graph.fluctuation("test-routing")
            np.testing.assert_allclose(stored.query("epoch == 1")["fluctuation"], layer_fluctuation(model, (4,))["fluctuation"], rtol=1e-12)
            aggregated = graph.aggregate("test-routing", epochs=[1])
            assert aggregated["fluctuation_error"].abs().max() < 1e-9
            assert graph.cypher("MATCH (:Neuron {run: $run})-[l:LINK]->() RETURN count(l) AS n", run="test-routing")["n"][0] == 4 * 3 + 3 * 2
            monkeypatch.setenv("NEO4J_URI", uri)
            monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
            monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])
            assert cli.main(["runs"]) == 0
            assert "test-routing" in capsys.readouterr().out
        finally:
            delete_run(graph, "test-routing")
