"""Connecting, running library queries and ad-hoc Cypher against the real server."""

from __future__ import annotations

import neo4j
import pytest

import cntgraph
from cntgraph.cli import main
from cntgraph.errors import ConfigurationError, ConnectionError, QueryError
from cntgraph.store import library
from cntgraph.store.graph import Graph
from tests.conftest import Neo4jUnderTest, free_port

pytestmark = pytest.mark.neo4j


def test_ad_hoc_cypher_is_read_only(graph: Graph) -> None:
    with pytest.raises(QueryError, match="read-only; nothing was changed"):
        graph.cypher("CREATE (:WriteProbe {at: $at})", at=1)
    assert graph.cypher("MATCH (n:WriteProbe) RETURN count(n) AS n")["n"][0] == 0


def test_ad_hoc_cypher_takes_parameters(graph: Graph) -> None:
    frame = graph.cypher("UNWIND $xs AS x RETURN x * 2 AS doubled", xs=[1, 2, 3])
    assert frame["doubled"].tolist() == [2, 4, 6]


def test_unknown_query_name_is_a_query_error(graph: Graph) -> None:
    with pytest.raises(QueryError, match="no query named 'read/rnu'.*Did you mean read/run"):
        graph.query("read/rnu")


def test_library_headers_say_what_each_query_answers() -> None:
    for name in library.names():
        head = library.header(name)
        assert "Parameters:" in head and "Example:" in head, name


def test_wrong_credentials_name_their_source(neo4j_server: Neo4jUnderTest) -> None:
    with pytest.raises(ConnectionError, match="refused the credentials .*from arguments"):
        cntgraph.connect(neo4j_server.uri, (neo4j_server.auth[0], "not-the-password"))


def test_unreachable_uri_names_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    unused = f"bolt://127.0.0.1:{free_port()}"
    monkeypatch.setenv("NEO4J_URI", unused)
    monkeypatch.setenv("NEO4J_PASSWORD", "whatever")
    with pytest.raises(ConnectionError, match=r"cannot reach Neo4j \(settings from environment \(NEO4J_URI\)"):
        cntgraph.connect()


def test_a_uri_that_is_not_neo4j_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'http://localhost:7474'.*not a Neo4j URI"):
        cntgraph.connect("http://localhost:7474", ("neo4j", "x"))


def test_missing_database_is_named(neo4j_server: Neo4jUnderTest) -> None:
    with pytest.raises(ConnectionError, match="no database 'no_such_db'"):
        cntgraph.connect(neo4j_server.uri, neo4j_server.auth, database="no_such_db")


def test_environment_variables_are_used(monkeypatch: pytest.MonkeyPatch, neo4j_server: Neo4jUnderTest) -> None:
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])
    with cntgraph.connect() as connected:
        assert connected.source.startswith("environment (NEO4J_URI)")
        assert connected.cypher("RETURN 1 AS one")["one"][0] == 1


def test_a_callers_driver_is_left_open(neo4j_server: Neo4jUnderTest) -> None:
    driver = neo4j.GraphDatabase.driver(neo4j_server.uri, auth=neo4j_server.auth)
    try:
        with cntgraph.connect(driver) as connected:
            assert connected.cypher("RETURN 1 AS one")["one"][0] == 1
        driver.verify_connectivity()  # still usable after the Graph closed
    finally:
        driver.close()


def test_cli_errors_are_one_clear_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEO4J_URI", "http://nope")
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    assert main(["demo"]) == 1
    assert capsys.readouterr().err.startswith("cntgraph: error: NEO4J_URI is 'http://nope'")


# -- issue 14, item 8: ad-hoc queries read the graph and nothing else ------------------------------
@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row", "LOAD CSV"),
        ("LOAD CSV FROM 'http://127.0.0.1:9/x.csv' AS row RETURN row", "LOAD CSV"),
        ("CALL () { LOAD CSV FROM 'file:///etc/hostname' AS row RETURN row } RETURN row", "LOAD CSV"),
        ("SHOW TRANSACTIONS", "SHOW TRANSACTIONS"),
        ("TERMINATE TRANSACTIONS 'neo4j-transaction-1'", "TERMINATE TRANSACTIONS"),
        ("SHOW SETTINGS", "SHOW SETTINGS"),
        ("CALL dbms.listConfig()", "the procedure dbms.listConfig"),
    ],
)
def test_ad_hoc_cypher_cannot_reach_files_urls_sessions_or_settings(graph: Graph, text: str, named: str) -> None:
    with pytest.raises(QueryError, match=rf"may only read the graph; this one would use {named}.*Nothing was run"):
        graph.cypher(text)


def test_ad_hoc_cypher_may_read_the_schema(graph: Graph) -> None:
    assert "Run" in graph.cypher("CALL db.labels() YIELD label RETURN label")["label"].tolist()
    assert len(graph.cypher("SHOW INDEXES YIELD name RETURN name")) > 0


def test_ad_hoc_cypher_is_stopped_at_its_timeout(neo4j_server: Neo4jUnderTest) -> None:
    with cntgraph.connect(neo4j_server.uri, neo4j_server.auth) as graph:
        graph.runner.query_timeout = 0.5
        with pytest.raises(QueryError, match=r"ran longer than 0.5 s and was stopped.*query_timeout"):
            graph.cypher("UNWIND range(1, 10000000000) AS i WITH i WHERE i < 0 RETURN count(i) AS n")
