"""The package as users get it: a wheel built from this tree (not the editable install) ships every file
of ``cypher/``, and its installed ``cntgraph`` command lists every query."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CYPHER = ROOT / "cypher"
#: what a clean clone does not have
LEFT_OUT = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "cntgraph-demo")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of a copy of this tree (so no earlier build/ folder leaks in), built with the build front end."""
    source, out = tmp_path_factory.mktemp("source") / "cntgraph", tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*LEFT_OUT))
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("cntgraph-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed (without its dependencies, which this environment has) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True,
    )
    return target


def library_files() -> list[str]:
    """Every file of ``cypher/`` but the Python package marker, as a path inside it."""
    return sorted(
        path.relative_to(CYPHER).as_posix()
        for path in CYPHER.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def test_the_wheel_ships_every_file_of_the_cypher_folder(wheel: Path) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in library_files() if f"cntgraph/cypher/{name}" not in shipped]
    assert missing == [], f"the wheel lacks {missing}: add their patterns to package-data in pyproject.toml"
    assert any(name.endswith(".cypher") for name in library_files())


def test_the_wheel_ships_every_package(wheel: Path) -> None:
    shipped = set(zipfile.ZipFile(wheel).namelist())
    packages = sorted(p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "cntgraph").rglob("__init__.py"))
    missing = [package for package in packages if f"{package}/__init__.py" not in shipped]
    assert missing == [], f"the wheel lacks the packages {missing}: list them in pyproject.toml"


def test_the_installed_command_lists_every_query(installed: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    where = subprocess.run(
        [sys.executable, "-c", "import cntgraph; print(cntgraph.__file__)"],
        capture_output=True, text=True, check=True, env=env, cwd=tmp_path,
    ).stdout
    assert where.startswith(str(installed)), f"the test imported {where}, not the installed wheel"
    listed = subprocess.run(
        [str(installed / "bin" / "cntgraph"), "query", "--list"],
        capture_output=True, text=True, check=True, env=env, cwd=tmp_path,
    ).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    expected = {name.removesuffix(".cypher") for name in library_files() if name.endswith(".cypher")}
    assert names == expected
