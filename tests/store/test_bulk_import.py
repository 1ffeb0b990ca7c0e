"""Runs bulk-loaded by neo4j-admin into a new store answer every query as the live-written ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import cntgraph
from cntgraph import cli
from cntgraph.errors import ConfigurationError, ServerError
from cntgraph.server import USER, ManagedServer
from cntgraph.store.bulk_import import write_import_files
from cntgraph.store.graph import Graph
from cntgraph.store.tables import export_run, run_tables
from tests.conftest import free_port, stored_links
from tests.store.test_tables import EPOCHS, recorded  # noqa: F401 - the recorded run, a fixture

pytestmark = pytest.mark.neo4j

LINK_SUMMARIES = (
    "MATCH (:Run {name: $run})-[:HAS_LAYER]->(:Layer)-[:HAS_NEURON]->(a)-[l:LINK]->(b) "
    "RETURN a.layer AS a, a.unit AS au, b.layer AS b, b.unit AS bu, l.i AS i, l.first AS first, l.last AS last, "
    "l.delta AS delta, l.min AS min, l.max AS max, l.epochs AS epochs ORDER BY a, au, b, bu, i"
)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_neo4j_admin_import_loads_runs_that_answer_as_the_originals(
    graph: Graph, recorded: str, own_server: ManagedServer, tmp_path: Path  # noqa: F811
) -> None:
    arguments = write_import_files([run_tables(graph, recorded)], tmp_path / "files")
    own_server.stop()
    report = own_server.admin_import(arguments)
    assert "IMPORT DONE" in report
    state, _ = own_server.start(bolt_port=free_port(), http_port=free_port(), heap="384m", pagecache="128m", progress=False)
    with cntgraph.connect(state.bolt_uri, (USER, own_server.password())) as imported:
        imported.runner.ensure_schema()
        assert imported.complete_epochs(recorded) == list(range(EPOCHS))
        _same(imported.fluctuation(recorded), graph.fluctuation(recorded))
        _same(imported.activations(recorded), graph.activations(recorded))
        _same(stored_links(imported, recorded), stored_links(graph, recorded))
        _same(imported.cypher(LINK_SUMMARIES, run=recorded), graph.cypher(LINK_SUMMARIES, run=recorded))
        for epoch in range(EPOCHS):
            _same(imported.query("read/export_neuron_states", run=recorded, epoch=epoch),
                  graph.query("read/export_neuron_states", run=recorded, epoch=epoch))
        assert imported.aggregate(recorded, epochs=[EPOCHS - 1])["fluctuation"].notna().all()


def test_a_running_server_is_not_replaced_and_names_must_differ(graph: Graph, recorded: str, own_server: ManagedServer, tmp_path: Path) -> None:  # noqa: F811
    with pytest.raises(ServerError, match="the managed server is running: stop it"):
        own_server.admin_import(["--nodes=x.csv"])
    tables = run_tables(graph, recorded)
    with pytest.raises(ConfigurationError, match="runs imported together need different names"):
        write_import_files([tables, tables], tmp_path)


def test_cli_asks_before_replacing_the_managed_store(
    graph: Graph, recorded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    export_run(graph, recorded, tmp_path / "tables")
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert cli.main(["neo4j", "import", str(tmp_path / "tables")]) == 1
    assert "Nothing imported." in capsys.readouterr().out
