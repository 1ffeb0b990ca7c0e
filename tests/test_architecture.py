"""The package's shape: the import-linter contracts of pyproject.toml hold, they would catch a reversed
import, and no module imports itself through others (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the ``cntgraph`` package found in ``package_parent``, with the project's contracts."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True, text=True, env=env, cwd=package_parent, check=False,
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "reversed_import", "contract"),
    [
        ("core/metrics.py", "import cntgraph.studies.report", "The flow"),
        ("core/links.py", "import torch", "The CNT core is numpy only"),
        ("store/writer.py", "import torch", "The store and the server never import torch"),
        ("store/graph.py", "import cntgraph.recording.recorder", "The flow"),
    ],
)
def test_a_reversed_import_breaks_the_build(tmp_path: Path, module: str, reversed_import: str, contract: str) -> None:
    shutil.copytree(ROOT / "cntgraph", tmp_path / "cntgraph", ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / "cntgraph" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{reversed_import}\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout and contract in result.stdout


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("cntgraph")
    imports = nx.DiGraph()
    imports.add_nodes_from(graph.modules)
    imports.add_edges_from((m, i) for m in graph.modules for i in graph.find_modules_directly_imported_by(m))
    assert list(nx.simple_cycles(imports)) == []


@pytest.mark.parametrize(
    ("old", "names"),
    [
        ("cntgraph.metrics", ["fixed_bins", "node_strength", "layer_fluctuation", "link_weights"]),
        ("cntgraph.training", ["load_digits", "mlp", "train"]),
        ("cntgraph.report", ["write_report", "report_data"]),
        ("cntgraph.ensemble", ["run_ensemble", "analyse", "train_population"]),
        ("cntgraph.browser", ["url", "post_connect_cmd", "cypher_string"]),
        ("cntgraph.graph", ["Graph", "connect"]),
    ],
)
def test_old_import_paths_still_work(old: str, names: list[str]) -> None:
    module = importlib.import_module(old)
    for name in names:
        value = getattr(module, name)
        assert value.__module__.startswith(("cntgraph.core", "cntgraph.model", "cntgraph.studies", "cntgraph.store", "cntgraph.server"))
