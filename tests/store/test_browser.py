"""Neo4j Browser: escaping, the style sent on connect, links to a run's graph, the saved queries,
and end to end in headless Chromium against a managed server of this module's own.

The Chromium tests need /usr/bin/chromium, /usr/bin/chromedriver (Debian: chromium,
chromium-driver) and the selenium package; they skip without them, except with CI=true, where
they fail saying what is missing.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import neo4j
import pytest
import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cntgraph.cli import main
from cntgraph.core.sampling import Full, Uniform
from cntgraph.errors import CntgraphError, ConfigurationError, QueryError
from cntgraph.recording.recorder import Recorder
from cntgraph.server import ManagedServer
from cntgraph.store import browser, library
from cntgraph.store.graph import Graph
from cntgraph.store.runner import Neo4jRunner
from tests.conftest import (
    IN_CI,
    Neo4jUnderTest,
    delete_run,
    start_managed,
    stored_links,
)

ROOT = Path(__file__).resolve().parents[2]
#: names that a careless literal would let out of their string, or that Browser's URL handling would cut
NASTY_NAMES = (
    "it's",
    "evil'})-[:X]->() DETACH DELETE run; //",
    'quote " and back\\slash \\',
    "\\u0027 is a quote to Cypher",
    "a&cmd=play&arg=x#frag %41 + plus",
    "line\nbreak\r\ttab; $run",
    "unicode é 😀 \u2028",
)
#: characters that matter to Cypher literals, Browser and URLs, mixed with any other
AWKWARD = st.text(
    st.sampled_from(list("'\"\\;&#%+$/`{}() u0027\n\r\t")) | st.characters(exclude_categories=("Cs",)), max_size=30
)

LABELS = {
    "Run": {"name", "rid"}, "Layer": {"rid", "index", "name", "kind", "size", "sampled", "inputs"},
    "Neuron": {"rid", "layer", "unit", "run", "in_layers", "in_units"}, "Epoch": {"rid", "epoch", "run", "complete"},
    "NeuronState": {"rid", "layer", "unit", "epoch", "s_in", "s_out", "s", "bias", "w_in"},
    "LayerState": {"rid", "layer", "epoch", "fluctuation"},
}
LAYER_LABELS = {f"L{index}": LABELS["Neuron"] for index in range(64)}  # a Neuron's node layer, for colour
SUMMARIES = {"first", "last", "delta", "min", "max", "first_epoch", "last_epoch", "epochs"}
TYPES = {"HAS_LAYER": set(), "HAS_NEURON": set(), "HAS_EPOCH": set(), "HAS_STATE": set(), "LINK": {"i", *SUMMARIES}}


def browser_split(value: str) -> list[str]:
    """How Browser 5.24 splits ``browser.post_connect_cmd`` (extractPostConnectCommandsFromServerConfig)."""
    for pattern in (r"`[^`]*?`", r'"[^"]*?"', r"'[^']*?'"):
        value = re.sub(pattern, lambda match: match[0].replace(";", "@@semicolon@@"), value)
    parts = [part.strip().replace("@@semicolon@@", ";") for part in value.split(";")]
    return [part for part in parts if part]


def browser_editor_text(url: str) -> str:
    """What Browser 5.24 puts in its editor for ``?cmd=edit&arg=...`` (populateEditorFromUrlEpic)."""
    decoded = unquote(url.replace("+", " "), errors="strict")
    return "\n".join(re.findall(r"[?&]arg=([^&#]*)", decoded))


# -- escaping and URLs (no server) ------------------------------------------------------------
def test_cypher_string_escapes_what_would_end_or_split_it() -> None:
    assert browser.cypher_string("mlp-1") == "'mlp-1'"
    assert browser.cypher_string("it's") == r"'it\'s'"
    assert browser.cypher_string("a\\b") == r"'a\\b'"
    assert browser.cypher_string("a;b&c#d\n") == r"'a\u003Bb\u0026c\u0023d\u000A'"
    assert browser.cypher_string("é😀") == "'é😀'"
    with pytest.raises(ConfigurationError):
        browser.cypher_string(3)  # type: ignore[arg-type]


@given(AWKWARD)
def test_a_run_name_reaches_browsers_editor_whole_and_quoted(name: str) -> None:
    link = browser.editor_url("http://127.0.0.1:7474/browser/", "browser/fluctuation", run=name)
    text = browser_editor_text(link)
    assert text == browser.inline_parameters(library.statement("browser/fluctuation"), run=name)
    literal = browser.cypher_string(name)
    assert f"{{name: {literal}}}" in text
    # inside the quotes: no bare quote, no character Browser or a URL would act on
    assert not re.search(r"(?<!\\)(\\\\)*'", literal[1:-1]) and not set(literal) & set(";&#\n\r")


def test_inline_parameters_leaves_comments_and_strings_alone() -> None:
    query = "MATCH (r {name: $run}) // $run here stays\nRETURN '$run' AS text, $k AS k"
    assert browser.inline_parameters(query, run="x", k=2) == "MATCH (r {name: 'x'}) // $run here stays\nRETURN '$run' AS text, 2 AS k"
    with pytest.raises(QueryError, match="takes k, run; got run"):
        browser.inline_parameters(query, run="x")
    with pytest.raises(QueryError, match="got k, run, x"):
        browser.inline_parameters(query, run="x", k=1, x=1)
    with pytest.raises(ConfigurationError, match=r"\$k must be a string, a finite number or a list of them"):
        browser.inline_parameters(query, run="x", k=True)
    with pytest.raises(ConfigurationError, match=r"\$k must be"):
        browser.inline_parameters(query, run="x", k=float("nan"))
    # lists (a population's run names) and numbers (a bucket width) are written as Cypher literals
    assert browser.inline_parameters("RETURN $run, $k", run=["a'b", "c-*"], k=0.1) == "RETURN ['a\\'b', 'c-*'], 0.1"


def test_post_connect_cmd_is_the_style_alone() -> None:
    """Browser's own settings stay the user's: "connect result nodes" stays on, so LINKs between returned neurons are drawn."""
    style_command, *settings_commands = browser_split(browser.post_connect_cmd())
    assert settings_commands == []
    name, _, grass = style_command.partition(" ")
    assert name == "style" and json.loads(grass) == browser.style()
    assert ":style" not in grass  # Browser cuts the command at ":style"


def test_the_style_names_only_labels_types_and_properties_of_the_data_model() -> None:
    for selector, props in browser.style().items():
        kind, _, name = selector.partition(".")
        known = {"node": LABELS | LAYER_LABELS, "relationship": TYPES}[kind]
        assert name == "" or name in known, selector
        for key in re.findall(r"\{(\w+)\}", props.get("caption", "")):
            assert key in known[name], f"{selector} caption names {key}"
    assert browser.style()["node.Neuron"]["caption"] == "{layer}:{unit}"
    assert browser.style()["relationship.LINK"]["caption"] == "{delta}"
    colours = [browser.style()[f"node.L{index}"]["color"] for index in range(64)]
    assert len(set(colours[:12])) == 12  # neighbouring layers differ


def test_docker_compose_sends_the_same_commands_on_connect() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "docker-compose.yml").read_text(encoding="utf-8"))
    environment = compose["services"]["neo4j"]["environment"]
    assert environment["NEO4J_browser_post__connect__cmd"] == browser.post_connect_cmd()
    assert environment["NEO4J_client_allow__telemetry"] == "false"


def test_the_saved_queries_zip_holds_every_browser_query(tmp_path: Path) -> None:
    path = browser.write_favorites(tmp_path / "favorites.zip")
    with zipfile.ZipFile(path) as archive:
        saved = {name: archive.read(name).decode() for name in archive.namelist()}
    names = [name for name in library.names() if name.startswith("browser/")]
    assert {f"cntgraph-{name[len('browser/'):]}.cypher" for name in names} == set(saved)
    assert all(text.startswith("// cntgraph: ") for text in saved.values())  # Browser names a favorite by its first line


# -- against Neo4j ----------------------------------------------------------------------------
def small_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 6), nn.Tanh(), nn.Linear(6, 3))


def record(graph: Graph, run: str, model: nn.Module, epochs: int, **kwargs: Any) -> None:
    generator = torch.Generator().manual_seed(7)
    with Recorder(model, run, (12,), graph=graph, progress=False, **kwargs) as recorder:
        for epoch in range(epochs):
            with torch.no_grad():
                for parameter in model.parameters():
                    parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
            recorder.capture(epoch, loss=1.0 / (epoch + 1))


@pytest.mark.neo4j
@settings(max_examples=150, deadline=None)
@given(AWKWARD)
def test_cypher_reads_back_exactly_the_escaped_text(graph: Graph, text: str) -> None:
    assert graph.cypher(f"RETURN {browser.cypher_string(text)} AS s")["s"][0] == text


@pytest.mark.neo4j
def test_the_browser_queries_answer_like_the_query_api(graph: Graph, run_name: str) -> None:
    record(graph, run_name, small_mlp(), 3, sample=Uniform(4, seed=1), per_layer={"input": Full()})
    rows = graph.query("browser/epoch_graph", run=run_name, epoch=2)
    neurons = {(n["layer"], n["unit"]) for n in [*rows["source"], *rows["neuron"]]}
    assert len(neurons) == graph.layers(run_name)["sampled"].sum()
    assert len(rows) == graph.epochs(run_name).set_index("epoch")["links"][2]
    drawn = sorted(((a["layer"], a["unit"], b["layer"], b["unit"]), w) for a, b, w in zip(rows["source"], rows["neuron"], rows["w"], strict=True))
    links = graph.query("query/epoch_links", run=run_name, epoch=2)
    assert drawn == sorted((tuple(key), w) for *key, w in links.itertuples(index=False))
    history = graph.query("browser/link_history", run=run_name, layer=1, src=neurons_in(neurons, 1)[0], dst=neurons_in(neurons, 2)[0])
    expected = graph.link_history(run_name, (1, neurons_in(neurons, 1)[0]), (2, neurons_in(neurons, 2)[0]))
    assert history["w"].tolist() == expected["w"].tolist() and history["epoch"].tolist() == [0, 1, 2]
    movers = graph.query("browser/top_movers", run=run_name, start=0, end=2, k=3)
    best = max((graph.top_movers(run_name, layer, 1, 0, 2) for layer in range(4)), key=lambda f: abs(f["delta"][0]))
    assert (movers["unit"][0], movers["delta"][0]) == (best["unit"][0], best["delta"][0])
    layer, unit = 1, neurons_in(neurons, 1)[0]
    around = graph.query("browser/neighbourhood", run=run_name, layer=layer, unit=unit)
    all_links = stored_links(graph, run_name)
    touching = all_links.query("(dst_layer == @layer and dst == @unit) or (src_layer == @layer and src == @unit)")
    assert len(around) == len(touching.query("epoch == 0"))  # one row per link, in or out
    for row in around.itertuples():
        ends = (row.layer, row.unit, layer, unit) if row.direction == "in" else (layer, unit, row.layer, row.unit)
        history = all_links[(all_links[["src_layer", "src", "dst_layer", "dst"]] == ends).all(axis=1)]
        assert (list(row.epochs), list(row.weights)) == (history["epoch"].tolist(), history["w"].tolist())
    changed = graph.query("browser/changed_links", run=run_name, k=5)
    first, last = (all_links.query(f"epoch == {e}").set_index(["src_layer", "src", "dst_layer", "dst"])["w"] for e in (0, 2))
    largest = (last - first).abs().sort_values(ascending=False, kind="stable")
    assert changed["delta"].abs().tolist() == largest.iloc[:5].tolist()
    fluctuation = graph.query("browser/fluctuation", run=run_name)
    exact = graph.fluctuation(run_name).pivot(index="layer", columns="epoch", values="fluctuation")
    assert [list(row) for row in fluctuation["fluctuation"]] == exact.values.tolist()
    assert run_name in {run["name"] for run in graph.query("browser/runs")["run"]}


def neurons_in(neurons: set[tuple[int, int]], layer: int) -> list[int]:
    return sorted(unit for at, unit in neurons if at == layer)


@pytest.mark.neo4j
def test_url_opens_the_last_complete_epoch_and_names_what_is_missing(graph: Graph, run_name: str) -> None:
    record(graph, run_name, small_mlp(), 2, sample=Uniform(3, seed=0))
    graph_with_browser = Graph(Neo4jRunner(graph.runner.driver, browser_url="http://127.0.0.1:7474/browser/"))
    text = browser_editor_text(browser.url(graph_with_browser, run_name))
    assert text == browser.inline_parameters(library.statement("browser/epoch_graph"), run=run_name, epoch=1)
    assert "epoch: toInteger(0)," in browser_editor_text(browser.url(graph_with_browser, run_name, epoch=0))
    assert browser_editor_text(browser.url(graph_with_browser)).startswith("MATCH (run:Run)\n")
    with pytest.raises(QueryError, match="no complete epoch 5; its complete epochs are 0..1"):
        browser.url(graph_with_browser, run_name, epoch=5)
    with pytest.raises(QueryError, match="no run named 'no such run'"):
        browser.url(graph_with_browser, "no such run")
    with pytest.raises(ConfigurationError, match="an epoch needs a run"):
        browser.url(graph_with_browser, epoch=1)
    with pytest.raises(ConfigurationError, match="NEO4J_BROWSER_URL"):
        browser.url(Graph(Neo4jRunner(graph.runner.driver)), run_name)


@pytest.mark.neo4j
def test_cli_prints_the_link(
    graph: Graph, run_name: str, neo4j_server: Neo4jUnderTest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    record(graph, run_name, small_mlp(), 1, sample=Uniform(3, seed=0))
    monkeypatch.setenv("NEO4J_URI", neo4j_server.uri)
    monkeypatch.setenv("NEO4J_USER", neo4j_server.auth[0])
    monkeypatch.setenv("NEO4J_PASSWORD", neo4j_server.auth[1])
    monkeypatch.setenv("NEO4J_BROWSER_URL", "http://127.0.0.1:7474/browser/")
    assert main(["browser", run_name]) == 0
    assert browser_editor_text(capsys.readouterr().out.strip()).startswith(f"MATCH (run:Run {{name: '{run_name}'}})")
    assert main(["browser", "no such run"]) == 1
    assert "no run named 'no such run'" in capsys.readouterr().err


# -- end to end in headless Chromium ----------------------------------------------------------
@pytest.fixture(scope="module")
def browser_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ManagedServer, Graph]]:
    """A managed server of this module's own (its neo4j.conf holds the Browser settings under test)."""
    try:
        server = start_managed(tmp_path_factory.mktemp("browser") / "instance")
    except CntgraphError as error:
        if IN_CI:
            pytest.fail(f"no managed Neo4j server for the Browser tests: {error}")
        pytest.skip(f"no managed Neo4j server for the Browser tests: {error}")
    try:
        state = server.state()
        assert state is not None
        driver = neo4j.GraphDatabase.driver(state.bolt_uri, auth=("neo4j", server.password()), notifications_min_severity="OFF")
        runner = Neo4jRunner(driver, owns_driver=True, browser_url=state.browser_url, source="the Browser tests' server")
        with Graph(runner) as graph:
            yield server, graph
    finally:
        server.stop()


class Session:
    """A signed-in Neo4j Browser in headless Chromium."""

    def __init__(self, driver: Any, password: str) -> None:
        self.driver, self.password = driver, password

    def open(self, url: str) -> None:
        """Open ``url`` and wait until the post-connect commands have run, signing in whenever asked.

        Browser usually reconnects a later load with the credentials it keeps, but not always: it
        may show its connect form again, so the form is filled in each time it is shown.
        """
        self.driver.get(url)
        connected = lambda: any(text.startswith(":style") for text in self.frames())  # noqa: E731
        self.until(connected, "the post-connect commands", act=self.sign_in, every=15.0)

    def sign_in(self) -> bool:
        """Fill in and submit Browser's connect form if it is shown; whether it was."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        fields = {name: self.driver.find_elements(By.CSS_SELECTOR, f"[data-testid={name}]") for name in ("username", "password", "connect")}
        try:
            if not all(found and found[0].is_displayed() and found[0].is_enabled() for found in fields.values()):
                return False
            fields["username"][0].clear()
            fields["username"][0].send_keys("neo4j")
            fields["password"][0].clear()
            fields["password"][0].send_keys(self.password)
            fields["connect"][0].click()
        except StaleElementReferenceException:  # the form was redrawn (or went away) meanwhile
            return False
        return True

    def frames(self) -> list[str]:
        """The start of every result frame's text, newest first."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('[data-testid=frame]')).map(f => f.innerText.slice(0, 300))"
        )

    def newest(self) -> str:
        """The whole text of the newest frame."""
        return self.driver.execute_script("return document.querySelector('[data-testid=frame]').innerText")

    def run_editor(self) -> None:
        from selenium.webdriver.common.by import By

        before = len(self.frames())
        self.driver.find_element(By.CSS_SELECTOR, "[data-testid=editor-Run]").click()
        self.until(lambda: len(self.frames()) > before, "a result frame")

    def drawn(self) -> dict[str, list[Any]]:
        """The newest frame's drawn graph: node captions and fills, relationship captions."""
        return self.driver.execute_script(
            """const frame = document.querySelector('[data-testid=frame]');
            const nodes = Array.from(frame.querySelectorAll('g.node'));
            return {captions: nodes.map(n => n.querySelector('text.caption').textContent.trim()),
                    fills: nodes.map(n => n.querySelector('circle.b-outline').getAttribute('fill')),
                    weights: Array.from(frame.querySelectorAll('g.relationship text')).map(t => t.textContent)};"""
        )

    def until(
        self, check: Callable[[], bool], what: str, timeout: float = 60.0, act: Callable[[], bool] | None = None,
        every: float = 10.0,
    ) -> None:
        """Wait until ``check()``. Meanwhile ``act()`` (when given) is tried at every turn until it
        says it acted, then not again for ``every`` seconds (a click or a form may land on a page
        that is still changing, so it is repeated, never too often)."""
        deadline = time.monotonic() + timeout
        acted = -float("inf")
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"Neo4j Browser did not show {what} within {timeout:.0f} s; frames: {self.frames()}")
            if act is not None and time.monotonic() - acted > every and act():
                acted = time.monotonic()
            time.sleep(0.25)


@pytest.fixture
def session(chromium: Callable[[], Any], browser_server: tuple[ManagedServer, Graph]) -> Iterator[Session]:
    driver = chromium()
    try:
        yield Session(driver, browser_server[0].password())
    finally:
        driver.quit()


def open_graph(session: Session, graph: Graph, run: str, epoch: int) -> dict[str, list[Any]]:
    """Open the run's link, run the query it put in the editor, and wait for the whole graph."""
    session.open(browser.url(graph, run, epoch))
    session.run_editor()
    expected = int(graph.layers(run)["sampled"].sum())
    session.until(lambda: len(session.drawn()["captions"]) >= expected, f"{expected} neurons")
    return session.drawn()


def test_chromium_draws_a_runs_epoch_graph_in_cntgraphs_style(
    session: Session, browser_server: tuple[ManagedServer, Graph], tmp_path: Path
) -> None:
    _, graph = browser_server
    run = "browser-e2e"
    delete_run(graph, run)
    record(graph, run, small_mlp(), 3, sample=Uniform(4, seed=2), per_layer={"input": Full()})
    drawn = open_graph(session, graph, run, 1)
    session.driver.save_screenshot(str(tmp_path / "browser-epoch-graph.png"))
    print(f"screenshot: {tmp_path / 'browser-epoch-graph.png'}")
    rows = graph.query("browser/epoch_graph", run=run, epoch=1)
    stored = {f"{n['layer']}:{n['unit']}" for n in [*rows["source"], *rows["neuron"]]}
    assert sorted(drawn["captions"]) == sorted(stored)
    # each neuron in its node layer's colour
    style = browser.style()
    assert drawn["fills"] == [style[f"node.L{caption.split(':')[0]}"]["color"] for caption in drawn["captions"]]
    assert len(set(drawn["fills"])) == 4
    # each stored LINK drawn once, captioned by its change over the run (Browser cuts a long caption with "…")
    assert len(drawn["weights"]) == len(rows)
    deltas = [repr(float(link["delta"])) for link in rows["link"]]
    assert all(any(d.startswith(caption.rstrip("…")) for d in deltas) for caption in drawn["weights"])
    assert sum(caption in deltas for caption in drawn["weights"]) > len(rows) // 2
    grass = json.loads(session.driver.execute_script("return localStorage.getItem('neo4j.grass')"))
    assert grass == browser.style()


def test_chromium_opens_runs_with_nasty_names_and_nothing_else(session: Session, browser_server: tuple[ManagedServer, Graph]) -> None:
    _, graph = browser_server
    for index, name in enumerate(NASTY_NAMES):
        delete_run(graph, name)
        record(graph, name, nn.Sequential(nn.Linear(12, 3 + index), nn.ReLU(), nn.Linear(3 + index, 2)), 1, sample=Full())
    total = graph.cypher("MATCH (n) RETURN count(n) AS n")["n"][0]  # a name that broke out of its literal could delete
    for index, name in enumerate(NASTY_NAMES):
        drawn = open_graph(session, graph, name, 0)
        assert len(drawn["captions"]) == 12 + 3 + index + 2, name
        assert len(drawn["weights"]) == 12 * (3 + index) + (3 + index) * 2, name
    assert graph.cypher("MATCH (n) RETURN count(n) AS n")["n"][0] == total


def test_chromium_runs_every_saved_query_and_imports_them_as_favorites(
    session: Session, browser_server: tuple[ManagedServer, Graph], tmp_path: Path
) -> None:
    _, graph = browser_server
    run = "browser-e2e-queries"
    for name in (run, f"{run}-b"):  # two runs: a population of two groups
        delete_run(graph, name)
        record(graph, name, small_mlp(), 3, sample=Full())
    population = {"runs": [f"{run}*"], "by": "run.name", "width": 0}
    values = {
        "browser/runs": {}, "browser/epoch_graph": {"run": run, "epoch": 2}, "browser/fluctuation": {"run": run},
        "browser/link_history": {"run": run, "layer": 0, "src": 3, "dst": 5},
        "browser/top_movers": {"run": run, "start": 0, "end": 2, "k": 5},
        "browser/neighbourhood": {"run": run, "layer": 1, "unit": 4}, "browser/changed_links": {"run": run, "k": 10},
        "browser/population": population, "browser/population_divergences": population,
    }
    assert set(values) == {name for name in library.names() if name.startswith("browser/")}
    for name, given_values in values.items():
        session.open(browser.editor_url(graph.browser_url, name, **given_values))
        session.run_editor()
        session.until(lambda: re.search(r"Started streaming \d+ records|Displaying \d+ nodes", session.newest()), f"{name}'s result")
        assert "Error" not in session.newest(), session.newest()
    zipped = base64.b64encode(browser.write_favorites(tmp_path / "cntgraph.zip").read_bytes()).decode()
    session.driver.execute_script(
        """const bytes = Uint8Array.from(atob(arguments[0]), c => c.charCodeAt(0));
        const files = new DataTransfer();
        files.items.add(new File([bytes], 'cntgraph.zip', {type: 'application/zip'}));
        document.querySelector('.filedrop').dispatchEvent(new DragEvent('drop', {dataTransfer: files, bubbles: true}));""",
        zipped,
    )
    saved = lambda: json.loads(session.driver.execute_script("return localStorage.getItem('neo4j.documents')") or "[]")  # noqa: E731
    session.until(lambda: sum(doc.get("content", "").startswith("// cntgraph: ") for doc in saved()) == len(values), "the imported favorites")
    assert {doc["content"] for doc in saved() if doc["content"].startswith("// cntgraph: ")} == {library.load(name) for name in values}


def test_chromium_runs_the_saved_queries_after_params_with_numbers(
    session: Session, browser_server: tuple[ManagedServer, Graph]
) -> None:
    """Browser keeps the numbers of `:params` as floats (10.0); the saved queries cast where Cypher needs integers."""
    _, graph = browser_server
    run = "browser-e2e-params"
    for name in (run, f"{run}-b"):  # two runs: a population of two groups
        delete_run(graph, name)
        record(graph, name, small_mlp(), 3, sample=Full())
    numbers = {"epoch": 2, "layer": 1, "unit": 4, "src": 3, "dst": 5, "start": 0, "end": 2, "k": 5, "width": 0}
    texts = {"run": run, "runs": [f"{run}*"], "by": "run.name"}
    params = ":params {" + ", ".join(f"{key}: {value!r}" for key, value in {**texts, **numbers}.items()) + "}"
    statuses = "return Array.from(document.querySelector('[data-testid=frame]').querySelectorAll('[title^=\"Status: \"]')).map(e => e.title)"
    for name in (name for name in library.names() if name.startswith("browser/") and library.parameters(name)):
        # one editor, two statements: a page load (a new URL) would forget the parameters
        session.open(f"{graph.browser_url}?cmd=edit&arg={quote(params + ';' + chr(10) + library.statement(name), safe='')}")
        session.run_editor()
        done = lambda: [t for t in session.driver.execute_script(statuses) if t != "Status: pending"]  # noqa: E731
        session.until(lambda: len(done()) == 2, f"{name}'s two statements run")
        assert session.driver.execute_script(statuses) == ["Status: success"] * 2, (name, session.newest())
        # what Browser sends, floats, answers as integers do (and not with nothing)
        given = {key: value for key, value in numbers.items() if key in library.parameters(name)}
        named = {key: value for key, value in texts.items() if key in library.parameters(name)}
        as_floats = graph.query(name, **named, **{key: float(value) for key, value in given.items()})
        assert len(as_floats) > 0 and as_floats.astype(str).equals(graph.query(name, **named, **given).astype(str)), name


def test_chromium_expands_a_neuron_to_its_linked_neighbours(
    session: Session, browser_server: tuple[ManagedServer, Graph], tmp_path: Path
) -> None:
    """Double-clicking a neuron in Browser (its own expansion: every relationship of the node) reaches the neurons it is linked with."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    _, graph = browser_server
    run = "browser-e2e-expand"
    delete_run(graph, run)
    record(graph, run, small_mlp(), 2, sample=Full())
    neighbours = graph.cypher(
        "MATCH (n:Neuron {run: $run, layer: 2, unit: 1})-[:LINK]-(other:Neuron) RETURN other.layer AS layer, other.unit AS unit", run=run
    )
    expected = {f"{layer}:{unit}" for layer, unit in neighbours.itertuples(index=False)}
    assert len(expected) == 10 + 3  # 10 units of node layer 1 in, 3 of node layer 3 out
    query = f"MATCH (n:Neuron {{run: '{run}', layer: 2, unit: 1}}) RETURN n"
    session.open(f"{graph.browser_url}?cmd=edit&arg={quote(query, safe='')}")
    session.run_editor()
    session.until(lambda: session.drawn()["captions"] == ["2:1"], "the one neuron")

    def double_click() -> bool:
        """Double-click the neuron; whether it was clicked. Repeated every 10 s until the neighbours are drawn
        (the layout may still be moving it when a click lands): expanding twice draws the same."""
        try:
            node = session.driver.find_element(By.CSS_SELECTOR, "[data-testid=frame] g.node circle.b-outline")
            ActionChains(session.driver).double_click(node).perform()
        except StaleElementReferenceException:  # redrawn meanwhile: the next turn clicks again
            return False
        return True

    session.until(lambda: expected <= set(session.drawn()["captions"]), f"its {len(expected)} linked neurons", act=double_click)
    folder = Path(os.environ.get("CNTGRAPH_SCREENSHOTS", tmp_path))  # CNTGRAPH_SCREENSHOTS=docs makes docs/browser-neighbours.png
    session.driver.save_screenshot(str(folder / "browser-neighbours.png"))
    assert len(session.drawn()["weights"]) >= len(expected)  # the LINKs to them, captioned by their change
