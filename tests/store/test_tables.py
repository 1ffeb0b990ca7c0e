"""A run out as tables and back in: the imported run answers every query as the exported one did."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cntgraph import cli
from cntgraph.core.sampling import Uniform
from cntgraph.errors import ConfigurationError, QueryError
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from cntgraph.store.tables import TABLES, export_run, import_run
from tests.conftest import delete_run, stored_links

pytestmark = pytest.mark.neo4j

INPUT = (6,)
EPOCHS = 3


class Residual(nn.Module):
    """A small DAG: a residual addition, so that node layers get links from two others."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2, self.head = nn.Linear(6, 5), nn.Linear(5, 5), nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        return self.head(torch.relu(self.fc2(h)) + h)


@pytest.fixture(scope="module")
def recorded(graph: Graph) -> Iterator[str]:
    """A sampled residual run of 3 epochs, with epoch properties, a shuffled null and activation summaries."""
    name = "test-tables-source"
    delete_run(graph, name)
    torch.manual_seed(0)
    model = Residual()
    data = torch.randn(16, *INPUT, generator=torch.Generator().manual_seed(1))
    with Recorder(model, name, INPUT, graph=graph, sample=Uniform(4, seed=2), progress=False, null_draws=3, data=data) as rec:
        for epoch in range(EPOCHS):
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.1 * torch.randn(parameter.shape, generator=torch.Generator().manual_seed(epoch)))
            rec.capture(epoch, loss=1.0 / (epoch + 1), accuracy=0.5 + 0.1 * epoch)
    yield name
    delete_run(graph, name)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("format", ["parquet", "csv"])
def test_export_then_import_answers_the_same_queries(graph: Graph, recorded: str, tmp_path: Path, format: str) -> None:  # noqa: A002
    copy = f"test-tables-copy-{format}"
    delete_run(graph, copy)
    paths = export_run(graph, recorded, tmp_path, format)  # type: ignore[arg-type]
    assert [path.name for path in paths] == [f"{table}.{format}" for table in TABLES]
    try:
        assert import_run(graph, tmp_path, name=copy) == copy
        assert graph.complete_epochs(copy) == list(range(EPOCHS))
        _same(graph.fluctuation(copy), graph.fluctuation(recorded))
        _same(graph.activations(copy), graph.activations(recorded))
        _same(stored_links(graph, copy), stored_links(graph, recorded))
        for epoch in range(EPOCHS):
            _same(graph.query("read/export_neuron_states", run=copy, epoch=epoch),
                  graph.query("read/export_neuron_states", run=recorded, epoch=epoch))
        props = graph.query("query/epochs", run=copy)["props"]
        assert [(p["loss"], p["accuracy"]) for p in props] == [(1.0 / (e + 1), 0.5 + 0.1 * e) for e in range(EPOCHS)]
        states = [graph.query("read/export_layer_states", run=run)["props"] for run in (copy, recorded)]
        for mine, theirs in zip(*states, strict=True):
            drop = {"rid", "run"}
            assert {k: v for k, v in mine.items() if k not in drop} == {k: v for k, v in theirs.items() if k not in drop}
        summaries = "MATCH (:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_NEURON]->(a)-[l:LINK]->(b) RETURN a.layer AS a, a.unit AS au, b.layer AS b, b.unit AS bu, l.i AS i, l.first AS first, l.delta AS delta ORDER BY a, au, b, bu, i"
        _same(graph.cypher(summaries, run=copy), graph.cypher(summaries, run=recorded))
    finally:
        delete_run(graph, copy)


def test_the_tables_hold_every_stored_link_and_epoch(graph: Graph, recorded: str, tmp_path: Path) -> None:
    export_run(graph, recorded, tmp_path)
    weights = pd.read_parquet(tmp_path / "link_weights.parquet")
    links = pd.read_parquet(tmp_path / "links.parquet")
    stored = stored_links(graph, recorded)
    assert len(weights) == len(stored) == EPOCHS * len(links)
    mine = weights.sort_values(["epoch", "dst_layer", "dst_unit", "src_layer", "src_unit"])
    np.testing.assert_array_equal(mine["w"], stored["w"])
    states = pd.read_parquet(tmp_path / "neuron_states.parquet")
    assert states.groupby("epoch").size().tolist() == [len(pd.read_parquet(tmp_path / "neurons.parquet"))] * EPOCHS
    assert pd.read_parquet(tmp_path / "epochs.parquet")["accuracy"].tolist() == pytest.approx([0.5, 0.6, 0.7])


def test_import_refuses_a_taken_name_and_a_folder_without_tables(graph: Graph, recorded: str, tmp_path: Path) -> None:
    export_run(graph, recorded, tmp_path / "tables")
    before = len(graph.cypher("MATCH (r:Run) RETURN r.name AS name"))
    with pytest.raises(QueryError, match=f"a run named '{recorded}' is already stored"):
        import_run(graph, tmp_path / "tables")
    assert len(graph.cypher("MATCH (r:Run) RETURN r.name AS name")) == before
    (tmp_path / "tables" / "links.parquet").unlink()
    with pytest.raises(ConfigurationError, match="has no links.parquet or links.csv"):
        import_run(graph, tmp_path / "tables", name="test-tables-never")
    with pytest.raises(QueryError, match="no run named 'no-such-run'"):
        export_run(graph, "no-such-run", tmp_path / "none")
    with pytest.raises(ConfigurationError, match=r"format must be one of \['parquet', 'csv'\]"):
        export_run(graph, recorded, tmp_path / "none", "json")  # type: ignore[arg-type]


def test_cli_export_and_import(cli_env: None, graph: Graph, recorded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = "test-tables-cli-copy"
    delete_run(graph, copy)
    try:
        assert cli.main(["export", recorded, "--out", str(tmp_path), "--format", "csv"]) == 0
        assert f"Run '{recorded}' as 8 csv tables:" in capsys.readouterr().out
        assert cli.main(["import", str(tmp_path), "--name", copy]) == 0
        assert f"Imported run '{copy}' ({EPOCHS} complete epoch(s))" in capsys.readouterr().out
        assert cli.main(["import", str(tmp_path), "--name", copy]) == 1
        assert "is already stored" in capsys.readouterr().err
    finally:
        delete_run(graph, copy)
