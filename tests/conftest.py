"""Shared fixtures. Tests get Neo4j from one session fixture, ``graph``:

1. ``NEO4J_URI`` (with ``NEO4J_USER``/``NEO4J_PASSWORD``) when set;
2. else a testcontainers Neo4j 5.26 container when a Docker engine answers;
3. else a managed local server of its own (a throwaway instance on free ports, sharing the jars
   installed under ``CNTGRAPH_HOME``).

With ``CI=true`` a test that needs Neo4j never skips: if no server can be had, it fails with the
reason. Whenever a test fails, the end of the test server's log is printed in the summary.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import cntgraph
from cntgraph.server import ManagedServer
from cntgraph.server.connect import resolve
from cntgraph.store.graph import Graph
from cntgraph.store.writer import delete_run as delete_stored_run

NEO4J_IMAGE = "neo4j:5.26-community"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@dataclass
class Neo4jUnderTest:
    """Where the session's Neo4j came from, and how to read its logs."""

    uri: str
    auth: tuple[str, str]
    source: str
    logs: object  # a zero-argument callable returning the log tail


def require(module: str) -> Any:
    """Import ``module`` for a test that needs it: skip without it, except with CI=true, where it fails."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_managed(instance: Path) -> ManagedServer:
    """A managed server of the tests' own, on free ports, in ``instance``."""
    server = ManagedServer(instance=instance)
    server.start(bolt_port=free_port(), http_port=free_port(), heap="384m", pagecache="128m", progress=False)
    return server


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ManagedServer]:
    """A managed server of this test's own, which the test may stop, kill and start again."""
    server = start_managed(tmp_path / "instance")
    try:
        yield server
    finally:
        server.stop()


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means "no engine here"
        return False
    return True


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jUnderTest]:
    """The session's Neo4j server (see the module docstring for where it comes from)."""
    try:
        if os.environ.get("NEO4J_URI"):
            target = resolve()
            yield Neo4jUnderTest(target.uri, (target.user, target.password), "NEO4J_URI", lambda: "(external server)")
        elif _docker_answers():
            from testcontainers.community.neo4j import Neo4jContainer

            with Neo4jContainer(NEO4J_IMAGE).with_env("NEO4J_PLUGINS", '["apoc"]') as container:  # browser/epoch_graph
                logs = lambda: b"".join(container.get_logs()).decode(errors="replace")[-6000:]  # noqa: E731
                yield Neo4jUnderTest(
                    container.get_connection_url(), (container.username, container.password), "testcontainers", logs
                )
        else:
            server = start_managed(tmp_path_factory.mktemp("neo4j") / "instance")
            state = server.state()
            assert state is not None
            try:
                yield Neo4jUnderTest(state.bolt_uri, ("neo4j", server.password()), "managed", server.logs)
            finally:
                server.stop()
    except cntgraph.CntgraphError as error:
        reason = f"no Neo4j server could be had for the tests: {error}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def graph(neo4j_server: Neo4jUnderTest) -> Iterator[Graph]:
    """A connected :class:`cntgraph.Graph` on the session's server."""
    with cntgraph.connect(neo4j_server.uri, neo4j_server.auth) as connected:
        yield connected


def delete_run(graph: Graph, name: str) -> None:
    """Delete run ``name`` and everything recorded for it, if it exists."""
    found = graph.query("read/run", name=name)
    if not found.empty:
        rid = int(found["rid"][0])
        delete_stored_run(graph.runner, rid)


# The stored links, read straight from the NeuronState.w_in arrays (not through cypher/query/).
_STORED_LINKS = """
MATCH (run:Run {name: $run})
MATCH (b:Neuron {rid: run.rid})-[:HAS_STATE]->(s:NeuronState)
WHERE s.w_in IS NOT NULL
UNWIND range(0, size(s.w_in) - 1) AS i
RETURN s.epoch AS epoch, b.in_layers[i] AS src_layer, b.in_units[i] AS src, b.layer AS dst_layer, b.unit AS dst,
       s.w_in[i] AS w
ORDER BY epoch, dst_layer, dst, src_layer, src
"""


def stored_links(graph: Graph, run: str) -> pd.DataFrame:
    """Every stored link-epoch of ``run``: ``epoch``, ``src_layer``, ``src``, ``dst_layer``, ``dst``, ``w``."""
    return graph.cypher(_STORED_LINKS, run=run)


def complete_epochs(graph: Graph, run: str) -> dict[int, int]:
    """epoch -> number of link weights stored (sizes of the w_in arrays), for every complete epoch of ``run``."""
    frame = graph.cypher(
        "MATCH (e:Epoch {run: $run}) WHERE e.complete "
        "CALL (e) { MATCH (s:NeuronState {rid: e.rid, epoch: e.epoch}) RETURN sum(coalesce(size(s.w_in), 0)) AS links } "
        "RETURN e.epoch AS epoch, links ORDER BY epoch",
        run=run,
    )
    return dict(zip(frame["epoch"].tolist(), frame["links"].tolist(), strict=True))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, neo4j_server: Neo4jUnderTest) -> None:
    """NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD of the session's server, for CLI tests."""
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])


@pytest.fixture
def run_name(graph: Graph, request: pytest.FixtureRequest) -> Iterator[str]:
    """A run name of this test's own; the run is deleted afterwards."""
    name = f"test-{request.node.name}"[:120]
    delete_run(graph, name)
    yield name
    delete_run(graph, name)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("neo4j_server")
    if report.failed and server is not None:
        report.sections.append(("Neo4j server log (tail)", server.logs()))


# -- headless Chromium, for the Neo4j Browser and cntgraph view tests ------------------------------
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
)


def _require(what: str, ok: bool, missing: list[str]) -> None:
    if not ok:
        missing.append(what)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Any]:
    """Start headless Chromium through the system chromedriver (never a downloaded one)."""
    missing: list[str] = []
    _require(f"{CHROMIUM} (apt-get install chromium)", CHROMIUM.is_file(), missing)
    _require(f"{CHROMEDRIVER} (apt-get install chromium-driver)", CHROMEDRIVER.is_file(), missing)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("the selenium package (pip install -e '.[dev]')")
    if missing:
        reason = "the browser tests need " + ", ".join(missing)
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a driver or a browser

    def start() -> Any:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
            options.add_argument(flag)
        return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)

    return start
