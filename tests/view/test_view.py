"""``cntgraph view`` end to end: the page in headless Chromium against a run recorded in the real server.

What is drawn is read off Cytoscape.js itself in the page (its ``cy`` instance), and compared with
what the tests read straight from the stored arrays (``tests/conftest.stored_links``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from cntgraph.cli import main
from cntgraph.core.sampling import Full
from cntgraph.errors import ConfigurationError
from cntgraph.recording.recorder import Recorder
from cntgraph.store.graph import Graph
from cntgraph.view.app import ViewServer, build_app, serve
from cntgraph.view.data import RunData
from tests.conftest import Neo4jUnderTest, delete_run, free_port, stored_links

pytestmark = pytest.mark.neo4j

RUN = "test-view-mlp"
EPOCHS = 4
#: the Cytoscape instance of the element with id ``graph``
CY = "const root = document.getElementById(arguments[0]); const all = root ? [root, ...root.querySelectorAll('*')] : [];"
CY += " const el = all.find(e => e._cyreg && e._cyreg.cy); const cy = el ? el._cyreg.cy : null;"


@pytest.fixture(scope="module")
def recorded(graph: Graph) -> Iterator[str]:
    """A 6-5-3 MLP recorded in full for four epochs of SGD on random data."""
    delete_run(graph, RUN)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(64, 6), torch.randint(0, 3, (64,))
    with Recorder(model, RUN, (6,), graph=graph, sample=Full(), progress=False) as recorder:
        for epoch in range(EPOCHS):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            recorder.capture(epoch, loss=loss.item())
    yield RUN
    delete_run(graph, RUN)


@pytest.fixture
def page(chromium: Callable[[], Any], graph: Graph, recorded: str) -> Iterator[tuple[Any, ViewServer]]:
    server = serve(build_app(graph, recorded), port=free_port())
    driver = chromium()
    try:
        yield driver, server
    finally:
        driver.quit()
        server.stop()


def wait_for(what: Callable[[], Any], timeout: float = 60.0) -> Any:
    """``what()`` once it is truthy; fails after ``timeout`` seconds (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"still not there after {timeout} s: {what}")


def drawn(driver: Any, element: str = "graph") -> dict[str, Any] | None:
    """The nodes and links Cytoscape draws in ``element``: ids with their ``s`` and ``w``."""
    return driver.execute_script(
        CY + " if (!cy || cy.nodes().length === 0) return null;"
        " return {nodes: cy.nodes().map(n => [n.id(), n.data('s')]), links: cy.edges().map(e => [e.id(), e.data('w')])};",
        element,
    )


def stored_weights(graph: Graph, run: str, epoch: int) -> dict[str, float]:
    links = stored_links(graph, run).query("epoch == @epoch")
    return {f"{r.src_layer}:{r.src}->{r.dst_layer}:{r.dst}": r.w for r in links.itertuples(index=False)}


def text(driver: Any, element: str) -> str:
    return driver.execute_script("const e = document.getElementById(arguments[0]); return e ? e.innerText : '';", element)


def test_the_page_draws_the_stored_sample_at_the_last_epoch(page: tuple[Any, ViewServer], graph: Graph, tmp_path: Path) -> None:
    driver, server = page
    driver.get(server.url)
    shown = wait_for(lambda: drawn(driver))
    layers = graph.layers(RUN)
    assert len(shown["nodes"]) == int(layers["sampled"].sum())
    assert dict(shown["links"]) == pytest.approx(stored_weights(graph, RUN, EPOCHS - 1), rel=0, abs=0)
    strengths = graph.query("read/strengths", run=RUN, epochs=[EPOCHS - 1])
    assert dict(shown["nodes"]) == {f"{r.layer}:{r.unit}": r.s for r in strengths.itertuples(index=False)}
    assert f"epoch {EPOCHS - 1}" in text(driver, "note")
    driver.save_screenshot(str(tmp_path / "view.png"))


def test_moving_the_slider_redraws_the_weights_of_that_epoch_in_place(page: tuple[Any, ViewServer], graph: Graph) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, server = page
    driver.get(server.url)
    wait_for(lambda: drawn(driver))
    places = driver.execute_script(CY + " return cy.nodes().map(n => [n.id(), n.position('x'), n.position('y')]);", "graph")
    handle = wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#epoch [role=slider]"))[0]
    for epoch in range(EPOCHS - 2, -1, -1):  # step back one epoch at a time, down to the first
        handle.send_keys(Keys.ARROW_LEFT)
        expected = stored_weights(graph, RUN, epoch)
        shown = wait_for(lambda: (d := drawn(driver)) and dict(d["links"]) == expected and d)  # noqa: B023
        assert dict(shown["links"]) == expected
        assert f"epoch {epoch}" in text(driver, "note")
    moved = driver.execute_script(CY + " return cy.nodes().map(n => [n.id(), n.position('x'), n.position('y')]);", "graph")
    assert moved == places


def test_clicking_a_link_shows_its_history(page: tuple[Any, ViewServer], graph: Graph) -> None:
    driver, server = page
    driver.get(server.url)
    wait_for(lambda: drawn(driver))
    link = "0:2->1:4"
    driver.execute_script(CY + " cy.getElementById(arguments[1]).emit('tap');", "graph", link)
    wait_for(lambda: text(driver, "details-kind") == "link")
    rows = driver.execute_script(
        "return [...document.querySelectorAll('#history-table tbody tr')].map(r => [...r.cells].map(c => c.innerText));"
    )
    history = graph.link_history(RUN, src=(0, 2), dst=(1, 4))
    assert [int(epoch) for epoch, _ in rows] == history["epoch"].tolist()
    assert [float(w) for _, w in rows] == pytest.approx(history["w"].tolist(), rel=1e-5)  # shown with 6 digits


def test_clicking_a_neuron_shows_its_strength_history(page: tuple[Any, ViewServer], graph: Graph) -> None:
    driver, server = page
    driver.get(server.url)
    wait_for(lambda: drawn(driver))
    driver.execute_script(CY + " cy.getElementById('1:3').emit('tap');", "graph")
    wait_for(lambda: text(driver, "details-kind") == "neuron")
    assert "Strongest stored links of 1:3" in text(driver, "details")


def test_filtering_by_weight_keeps_only_the_strong_links(page: tuple[Any, ViewServer], graph: Graph) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, server = page
    driver.get(server.url)
    wait_for(lambda: drawn(driver))
    box = driver.find_element(By.ID, "min-w")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("0.3", Keys.ENTER)
    expected = {k: w for k, w in stored_weights(graph, RUN, EPOCHS - 1).items() if abs(w) >= 0.3}
    assert 0 < len(expected)
    wait_for(lambda: (d := drawn(driver)) and dict(d["links"]) == expected)


def test_comparing_two_epochs_shows_both_and_their_divergence(page: tuple[Any, ViewServer], graph: Graph) -> None:
    from selenium.webdriver.common.by import By

    driver, server = page
    driver.get(server.url)
    wait_for(lambda: drawn(driver))
    assert "Choose a run" in text(driver, "divergence") and drawn(driver, "other-graph") is None  # nothing until asked
    driver.find_element(By.ID, "other-run").click()
    option = wait_for(lambda: [o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.text == RUN])
    option[0].click()
    other = wait_for(lambda: drawn(driver, "other-graph"))
    assert dict(other["links"]) == stored_weights(graph, RUN, 0)  # the comparison opens on the first epoch
    table = wait_for(lambda: text(driver, "divergence"))
    assert f"{RUN}@{EPOCHS - 1}" in table and f"{RUN}@0" in table and "jeffreys" in table


def test_an_unknown_run_is_a_message_in_the_page(chromium: Callable[[], Any], graph: Graph) -> None:
    server = serve(build_app(graph, "no such run"), port=free_port())
    driver = chromium()
    try:
        driver.get(server.url)
        message = wait_for(lambda: text(driver, "message"))
        assert "no run named 'no such run'" in message
        assert "Traceback" not in driver.page_source
    finally:
        driver.quit()
        server.stop()


def test_run_data_limits_the_links_and_says_so(graph: Graph, recorded: str) -> None:
    data = RunData(graph, recorded, max_links=10)
    shown, note = data.elements(EPOCHS - 1)
    assert len([e for e in shown if "source" in e["data"]]) == 10
    assert "10 of 45 stored links drawn (the 10 of largest |w|" in note


def test_a_taken_port_is_named(graph: Graph, recorded: str) -> None:
    server = serve(build_app(graph, recorded), port=free_port())
    try:
        port = server.server.server_port
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port}.*choose another --port"):
            serve(build_app(graph, recorded), port=port)
    finally:
        server.stop()


def test_cli_view_of_an_unknown_server_says_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], neo4j_server: Neo4jUnderTest
) -> None:
    monkeypatch.setenv("NEO4J_URI", f"bolt://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NEO4J_PASSWORD", "x")
    assert main(["view", RUN]) == 1
    assert "cannot reach Neo4j" in capsys.readouterr().err


def test_cli_view_serves_the_page_until_interrupted(neo4j_server: Neo4jUnderTest, recorded: str) -> None:
    env = {**os.environ, "NEO4J_URI": neo4j_server.uri, "NEO4J_USER": neo4j_server.auth[0], "NEO4J_PASSWORD": neo4j_server.auth[1]}
    port = free_port()
    command = [sys.executable, "-m", "cntgraph.cli", "view", recorded, "--port", str(port)]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            line = process.stdout.readline()  # printed once it serves
            assert line.startswith(f"cntgraph view: http://127.0.0.1:{port}/"), line + process.stderr.read()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as response:
                assert response.status == 200 and "<title>cntgraph view</title>" in response.read().decode()
        finally:
            process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0


def test_a_run_still_recording_grows_in_the_page(chromium: Callable[[], Any], graph: Graph, run_name: str) -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))

    def record(epochs: range, if_exists: str) -> None:
        with Recorder(model, run_name, (4,), graph=graph, if_exists=if_exists, progress=False) as recorder:  # type: ignore[arg-type]
            for epoch in epochs:
                with torch.no_grad():
                    model[0].weight.add_(0.1)
                recorder.capture(epoch)

    record(range(2), "error")
    server = serve(build_app(graph, run_name), port=free_port())
    driver = chromium()
    try:
        driver.get(server.url)
        wait_for(lambda: (d := drawn(driver)) and dict(d["links"]) == stored_weights(graph, run_name, 1))
        record(range(2, 4), "resume")  # training goes on while the page is open
        expected = stored_weights(graph, run_name, 3)
        wait_for(lambda: (d := drawn(driver)) and dict(d["links"]) == expected)  # the slider followed the last epoch
        assert "epoch 3" in text(driver, "note")
    finally:
        driver.quit()
        server.stop()


def test_run_data_thins_neurons_past_the_limit_and_says_so(graph: Graph, recorded: str) -> None:
    data = RunData(graph, recorded, max_neurons=6)  # 14 stored neurons in 3 layers: 2 a layer
    assert data.places.groupby("layer").size().tolist() == [2, 2, 2]
    assert data.places.groupby("layer")["unit"].agg(list).tolist() == [[0, 5], [0, 4], [0, 2]]  # the ends
    drawn, note = data.elements(EPOCHS - 1)
    kept = {f"{layer}:{unit}" for layer, unit in zip(data.places["layer"], data.places["unit"], strict=True)}
    links = [e["data"] for e in drawn if "source" in e["data"]]
    assert links and all(link["source"] in kept and link["target"] in kept for link in links)
    assert len(links) == 2 * 2 + 2 * 2
    assert "6 of 14 stored neurons (evenly spaced in each layer)" in note
