"""The notebooks, executed end to end by a Jupyter kernel against the session's Neo4j, and stored without outputs.

The kernel inherits this process's environment, so the test points ``cntgraph.connect()`` at the
session's server with ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD`` and sends the figures to a
temporary folder with ``CNTGRAPH_FIGURES``. Each notebook's last cell prints a JSON summary, which
the tests compare with what the database holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from cntgraph.store.graph import Graph
from tests.conftest import Neo4jUnderTest, delete_run

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def kernel_env(monkeypatch: pytest.MonkeyPatch, neo4j_server: Neo4jUnderTest, tmp_path: Path) -> Path:
    """The session's Neo4j for the kernel; returns the figures folder."""
    for name, value in zip(("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"), (neo4j_server.uri, *neo4j_server.auth), strict=True):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NEO4J_DATABASE", raising=False)
    monkeypatch.setenv("CNTGRAPH_FIGURES", str(tmp_path / "figures"))
    return tmp_path / "figures"


@contextmanager
def runs_deleted(graph: Graph, *names: str) -> Iterator[None]:
    """Delete the runs ``names`` a notebook records, before and after."""
    for name in names:
        delete_run(graph, name)
    yield
    for name in names:
        delete_run(graph, name)


def execute(name: str, cwd: Path) -> dict[str, Any]:
    """Run notebook ``name`` top to bottom (an error in any cell fails); return the JSON its last cell prints."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    last = notebook.cells[-1]
    printed = "".join(output.get("text", "") for output in last.outputs if output.output_type == "stream")
    return json.loads(printed.strip().splitlines()[-1])


def assert_pngs(paths: list[str], folder: Path) -> None:
    assert paths
    for path in map(Path, paths):
        assert folder in path.parents and path.read_bytes()[:8] == PNG


@pytest.mark.neo4j
def test_quickstart_records_queries_and_plots(graph: Graph, kernel_env: Path, tmp_path: Path) -> None:
    run = "quickstart-mlp"
    with runs_deleted(graph, run):
        summary = execute("01-quickstart.ipynb", tmp_path)
        assert summary["run"] == run
        assert summary["view_status"] == 200  # `cntgraph view` served from the notebook
        assert summary["epochs"] == graph.epochs(run)["epoch"].tolist() == list(range(8))
        assert summary["layers"] == graph.layers(run)["layer"].tolist() == [0, 1, 2, 3]
        assert graph.epochs(run)["accuracy"].iloc[-1] == summary["accuracy"] > 0.5
        fluctuation = graph.fluctuation(run)
        np.testing.assert_allclose(summary["last_fluctuation"], fluctuation.loc[fluctuation["epoch"] == 7, "fluctuation"])
        assert [Path(path).name for path in summary["figures"]] == [
            "fluctuation.png", "strength.png", "weights.png", "top-movers.png", "layers.png"
        ]
        assert_pngs(summary["figures"], kernel_env)


def test_committed_notebooks_have_no_outputs() -> None:
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert [path.name for path in notebooks] == [
        "01-quickstart.ipynb", "02-explore-links.ipynb", "03-ensemble.ipynb", "04-resnet-transformer.ipynb"
    ]
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip the outputs before committing"


@pytest.mark.neo4j
def test_explore_links_reads_histories_movers_and_networkx(graph: Graph, kernel_env: Path, tmp_path: Path) -> None:
    run, last = "explore-mlp", 9
    with runs_deleted(graph, run):
        summary = execute("02-explore-links.ipynb", tmp_path)
        strongest = graph.strongest_links(run, epoch=last, k=1).iloc[0]
        src, dst = [int(strongest.src_layer), int(strongest.src_unit)], [int(strongest.dst_layer), int(strongest.dst_unit)]
        assert summary["link"] == [src, dst]
        assert summary["link_w"] == graph.link_history(run, src=tuple(src), dst=tuple(dst))["w"].tolist()
        assert len(summary["link_w"]) == last + 1
        assert summary["neuron_s"] == graph.neuron_history(run, layer=dst[0], unit=dst[1])["s"].tolist()
        assert summary["movers"] == graph.top_movers(run, layer=2, k=5, start=0, end=last)["unit"].tolist()
        assert (summary["nodes"], summary["edges"]) == (64 + 32 + 32 + 10, 64 * 32 + 32 * 32 + 32 * 10)
        assert summary["max_s_out_error"] < 1e-9
        assert summary["path"] == graph.strongest_path(run, epoch=last, unit=36)["unit"].tolist()
        assert [Path(path).name for path in summary["figures"]] == ["link-history.png", "neuron-history.png", "top-movers.png"]
        assert_pngs(summary["figures"], kernel_env)


@pytest.mark.neo4j
def test_ensemble_analyses_a_small_population_and_records_its_extremes(graph: Graph, kernel_env: Path, tmp_path: Path) -> None:
    with runs_deleted(graph, *(f"nb-ensemble-{member:04d}" for member in range(12))):
        summary = execute("03-ensemble.ipynb", tmp_path)
        assert summary["members"] == 12 and len(summary["buckets"]) >= 2
        assert len(summary["runs"]) == 2 and summary["difference"] == 0.0
        for run, epochs, last in zip(summary["runs"], summary["epochs"], summary["last_fluctuation"], strict=True):
            assert graph.epochs(run)["epoch"].tolist() == list(range(epochs))
            fluctuation = graph.fluctuation(run)
            assert fluctuation.loc[fluctuation["epoch"] == epochs - 1, "fluctuation"].tolist() == last
        assert_pngs(summary["figures"], kernel_env)


@pytest.mark.neo4j
def test_resnet_records_its_additions_as_a_graph(graph: Graph, kernel_env: Path, tmp_path: Path) -> None:
    run, epochs = "resnet-digits", 8
    with runs_deleted(graph, run):
        summary = execute("04-resnet-transformer.ipynb", tmp_path)
        layers = graph.layers(run)
        assert summary["names"] == layers["name"].tolist() == [
            "input", "stem.0", "block1.conv1", "block1.conv2", "block1.add", "block2.conv1", "block2.conv2",
            "block2.shortcut.0", "block2.add", "pool", "head",
        ]
        assert summary["inputs"][4] == [1, 3] and summary["inputs"][8] == [6, 7]  # conv2 + the shortcut
        assert summary["epochs"] == graph.epochs(run)["epoch"].tolist() == list(range(epochs))
        assert summary["skip_w"] == [1.0] * epochs
        assert summary["path"][0] == 0 and summary["path"][-1] == 10
        assert summary["max_s_error"] < 1e-9
        fluctuation = graph.fluctuation(run)
        assert summary["last_fluctuation"] == fluctuation[fluctuation["epoch"] == epochs - 1].sort_values("layer")["fluctuation"].tolist()
        names = graph.layers("transformer-digits")["name"].tolist()
        assert summary["transformer_names"] == names and names[2:4] == [
            "encoder.layers.0.self_attn.value", "encoder.layers.0.self_attn.out_proj"
        ]
        assert summary["transformer_epochs"] == list(range(epochs)) and summary["transformer_max_s_error"] < 1e-9
        accuracies = [graph.epochs(name)["accuracy"].iloc[-1] for name in (run, "transformer-digits")]
        assert summary["accuracies"] == accuracies and min(accuracies) > 0.5  # both learn the digits
        assert_pngs(summary["figures"], kernel_env)
