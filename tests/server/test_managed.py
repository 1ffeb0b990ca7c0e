"""The managed local Neo4j server: a real JVM started, stopped and restarted by the tests."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import neo4j
import pytest

from cntgraph import connect
from cntgraph.errors import ServerError
from cntgraph.server import ManagedServer, install
from cntgraph.server.tools import find_java
from tests.conftest import free_port, start_managed

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedServer]:
    managed = start_managed(tmp_path_factory.mktemp("lifecycle") / "instance")
    try:
        yield managed
    finally:
        managed.stop()


def _connect(server: ManagedServer):  # noqa: ANN202
    state = server.state()
    assert state is not None, "the server should be running"
    return connect(state.bolt_uri, ("neo4j", server.password()))


def test_start_of_a_running_server_does_nothing(server: ManagedServer) -> None:
    before = server.state()
    state, started = server.start()
    assert started is False
    assert state == before


def test_status_names_version_ports_and_data_but_not_the_password(server: ManagedServer) -> None:
    status = server.status()
    assert status.running and status.installed
    assert status.version.startswith("5.26.")
    assert status.data_dir == server.instance / "data"
    assert server.password() not in repr(status)


def test_password_file_is_readable_by_its_owner_only(server: ManagedServer) -> None:
    mode = stat.S_IMODE(os.stat(server.password_file).st_mode)
    assert mode == 0o600


def test_listens_on_loopback_only(server: ManagedServer) -> None:
    state = server.state()
    assert state is not None
    for port in (state.bolt_port, state.http_port):
        addresses = _listening_addresses(port)
        assert addresses, f"nothing listens on port {port}"
        assert all(address.is_loopback for address in addresses), addresses


def test_stop_and_start_again_keep_the_data(server: ManagedServer) -> None:
    with _connect(server) as graph:
        graph.runner.driver.execute_query("CREATE (:Kept {token: $token})", token="survives-restart")
    stopped = server.stop()
    assert stopped is not None
    assert server.state() is None
    with pytest.raises(ProcessLookupError):
        os.kill(stopped.pid, 0)
    state, started = server.start(bolt_port=stopped.bolt_port, http_port=stopped.http_port)
    assert started and state.pid != stopped.pid
    with _connect(server) as graph:
        kept = graph.cypher("MATCH (k:Kept) RETURN k.token AS token")
    assert kept["token"].tolist() == ["survives-restart"]


def test_browser_is_served(server: ManagedServer) -> None:
    import urllib.request

    state = server.state()
    assert state is not None
    with urllib.request.urlopen(state.browser_url, timeout=10) as response:  # noqa: S310 - loopback
        assert response.status == 200
        assert b"Neo4j Browser" in response.read()


def test_apoc_draws_a_virtual_relationship_and_writes_nothing(server: ManagedServer) -> None:
    import neo4j

    count = "MATCH ()-[r]->() RETURN count(r) AS n"
    with _connect(server) as graph:
        driver = graph.runner.driver
        assert driver.execute_query("RETURN apoc.version() AS v").records[0]["v"] == server.distribution.apoc_version
        driver.execute_query("CREATE (:Probe {end: 'a'}), (:Probe {end: 'b'})")
        before = driver.execute_query(count).records[0]["n"]
        a, b, link = driver.execute_query(
            "MATCH (a:Probe {end: 'a'}), (b:Probe {end: 'b'}) "
            "RETURN a, b, apoc.create.vRelationship(a, 'LINK', {w: 0.5}, b) AS link"
        ).records[0]
        after = driver.execute_query(count).records[0]["n"]
    assert isinstance(link, neo4j.graph.Relationship)
    assert link.type == "LINK" and dict(link) == {"w": 0.5}
    assert link.start_node is not None and link.start_node.element_id == a.element_id
    assert link.end_node is not None and link.end_node.element_id == b.element_id
    assert after == before


def test_only_the_apoc_procedures_cntgraph_needs_are_loaded(server: ManagedServer) -> None:
    with _connect(server) as graph:
        loaded = [
            name
            for kind in ("FUNCTIONS", "PROCEDURES")
            for name in graph.cypher(f"SHOW {kind} YIELD name WHERE name STARTS WITH 'apoc.' RETURN name")["name"]
        ]
    assert "apoc.create.vRelationship" in loaded and "apoc.version" in loaded
    assert all(name == "apoc.version" or name.startswith("apoc.create.v") for name in loaded), loaded


def test_an_install_without_apoc_is_completed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from cntgraph.server import maven

    # what cntgraph wrote before it shipped APOC: the jars in lib/, a pom without APOC, the marker
    legacy = maven.distribution(tmp_path)
    legacy.lib.mkdir(parents=True)
    (legacy.lib / "kept.jar").write_bytes(b"the server's jars, which are not resolved again")
    (legacy.folder / "pom.xml").write_text(re.sub(r"\s*<apoc\.version>.*</apoc\.version>", "", maven.pom_text()))
    (legacy.folder / ".installed").write_text(f"{legacy.version}\n")
    assert not legacy.installed and legacy.recorded == {"Neo4j": legacy.version, "Browser": legacy.browser_version}

    dist = install(tmp_path, progress=True)
    assert f"{dist.folder} has no APOC {dist.apoc_version}: completing it." in capsys.readouterr().err
    assert dist.installed
    assert (dist.plugins / f"apoc-core-{dist.apoc_version}-core.jar").is_file()
    assert [jar.name for jar in dist.lib.iterdir()] == ["kept.jar"]


def _nice_of(pid: int, task: int) -> int:
    """The nice value of one thread, from /proc (field 19 of stat)."""
    fields = Path(f"/proc/{pid}/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="thread priorities are read from Linux /proc")
def test_the_server_runs_at_the_lowest_cpu_priority(server: ManagedServer) -> None:
    state = server.state()
    assert state is not None
    tasks = [int(t.name) for t in Path(f"/proc/{state.pid}/task").iterdir()]
    assert len(tasks) > 10  # the JVM's threads, Bolt workers among them, started before and after
    assert {_nice_of(state.pid, task) for task in tasks} == {19}
    autogroup = Path(f"/proc/{state.pid}/autogroup")
    if autogroup.exists():
        assert autogroup.read_text().split()[-1] == "19"


def test_a_bad_nice_value_is_named(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="nice -5 is out of range.*--nice or CNTGRAPH_NICE"):
        ManagedServer(instance=tmp_path / "instance").start(bolt_port=free_port(), http_port=free_port(), nice=-5)


def test_a_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        with pytest.raises(ServerError, match=rf"port {taken} .*in use.*--bolt-port"):
            ManagedServer(instance=tmp_path / "instance").start(bolt_port=taken, http_port=free_port())


def test_a_bad_memory_size_is_named(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="heap size 'lots' is not a size like 512m.*--heap"):
        ManagedServer(instance=tmp_path / "instance").start(bolt_port=free_port(), http_port=free_port(), heap="lots")


def test_a_server_dying_while_starting_reports_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cntgraph.server import managed

    # another program takes the Bolt port between cntgraph's check and Neo4j's bind
    monkeypatch.setattr(managed, "_require_free", lambda *args: None)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(ServerError, match=r"(?s)exited with code .*The end of its logs.*==> .*neo4j.log"):
            ManagedServer(instance=tmp_path / "instance").start(
                bolt_port=squatter.getsockname()[1], http_port=free_port(), progress=False
            )


def test_no_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(ServerError, match="no Java found on JAVA_HOME=.*Java 17 or 21"):
        find_java()


def test_the_wrong_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "jdk" / "bin" / "java"
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    fake.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(ServerError, match="Java 11 at .* cannot run Neo4j 5.26"):
        find_java()


def test_no_maven_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="Maven \\(mvn\\) is not on the PATH"):
        install(tmp_path / "home", progress=False)


def test_a_failed_resolution_shows_what_maven_said(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from cntgraph.server import maven as install_module

    broken = install_module.pom_text().replace("<artifactId>neo4j-browser</artifactId>", "<artifactId>no-such-artifact-cntgraph</artifactId>")
    monkeypatch.setattr(install_module, "pom_text", lambda: broken)
    with pytest.raises(ServerError, match="(?s)Maven could not resolve.*no-such-artifact-cntgraph"):
        install_module.install(tmp_path / "home", progress=False)
    assert not install_module.distribution(tmp_path / "home").installed


def _listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The local addresses of the listening TCP sockets on ``port``, from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address_hex, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A is LISTEN
                continue
            # the kernel prints each 32-bit word of the address in host (little-endian) order
            raw = b"".join(bytes.fromhex(address_hex[i : i + 8])[::-1] for i in range(0, len(address_hex), 8))
            address = ipaddress.ip_address(raw)
            found.append(address.ipv4_mapped or address if isinstance(address, ipaddress.IPv6Address) else address)
    return found


def test_the_password_is_in_no_log_and_not_in_status_output(
    server: ManagedServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cntgraph import cli

    password = server.password()
    for log in server.logs_dir.iterdir():
        assert password not in log.read_text(errors="replace"), log
    monkeypatch.setattr(cli, "_server", lambda: server)
    assert cli.main(["neo4j", "status"]) == 0
    printed = capsys.readouterr().out
    assert "running" in printed and password not in printed


def test_authentication_is_always_on(server: ManagedServer) -> None:
    import neo4j

    state = server.state()
    assert state is not None
    with neo4j.GraphDatabase.driver(state.bolt_uri, auth=None) as anonymous:
        with pytest.raises(neo4j.exceptions.AuthError):
            anonymous.verify_connectivity()
    conf = (server.instance / "conf" / "neo4j.conf").read_text()
    assert "dbms.security.auth_enabled=true" in conf


def test_the_store_is_its_owners_only(server: ManagedServer) -> None:
    """Issue 14, item 9: no local user can copy the store (or the password hash) past Neo4j's authentication."""
    folders = [server.instance, server.instance / "conf", server.data_dir, server.logs_dir, server.instance / "run"]
    assert {folder.name: stat.S_IMODE(folder.stat().st_mode) for folder in folders} == {f.name: 0o700 for f in folders}
    assert stat.S_IMODE((server.instance / "conf" / "neo4j.conf").stat().st_mode) == 0o600
    auth = next(server.data_dir.rglob("auth.ini"))  # Neo4j's own password hash: inside the owner-only data folder
    assert server.data_dir in auth.parents


def test_load_csv_cannot_read_the_servers_files(server: ManagedServer) -> None:
    """Issue 14, item 8, on the server itself: even a query of the admin user (as in Browser) cannot read files."""
    state = server.state()
    assert state is not None
    with neo4j.GraphDatabase.driver(state.bolt_uri, auth=("neo4j", server.password())) as driver:
        with pytest.raises(neo4j.exceptions.ClientError, match="file URLs|allow_csv_import_from_file_urls"):
            driver.execute_query("LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row LIMIT 1")


@pytest.mark.parametrize("port", [99999, 0, -1])
def test_a_port_that_is_no_port_is_named(tmp_path: Path, port: int) -> None:
    with pytest.raises(ServerError, match=rf"port {port}, wanted for Bolt, is not a port number \(1 to 65535\).*--bolt-port"):
        ManagedServer(instance=tmp_path / "instance").start(bolt_port=port, http_port=free_port())
