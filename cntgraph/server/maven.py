"""Install Neo4j 5.26 Community and Neo4j Browser from Maven Central into a per-user folder."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from collections import deque
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tqdm import tqdm

from cntgraph.errors import ServerError
from cntgraph.server.tools import find_maven

MAIN_CLASS = "org.neo4j.server.CommunityEntryPoint"
ADMIN_CLASS = "org.neo4j.cli.AdminTool"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_MARKER = ".installed"


@dataclass(frozen=True)
class Distribution:
    """The jars of one Neo4j version in ``folder/lib``; ``installed`` says whether they are complete."""

    version: str
    browser_version: str
    folder: Path

    @property
    def lib(self) -> Path:
        return self.folder / "lib"

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")

    @property
    def installed(self) -> bool:
        return (self.folder / _MARKER).is_file()


def pom_text() -> str:
    """The pom.xml shipped in this package: the one place the Neo4j versions are written."""
    return resources.files("cntgraph.server").joinpath("pom.xml").read_text(encoding="utf-8")


def distribution(home: Path) -> Distribution:
    """The distribution the shipped pom describes, under ``home`` (installed or not).

    Example:
        >>> from pathlib import Path
        >>> distribution(Path("/tmp/x")).version.startswith("5.26.")
        True
    """
    properties = ET.fromstring(pom_text()).find("m:properties", _POM_NS)
    assert properties is not None, "the shipped pom.xml has no <properties>"
    version = properties.findtext("m:neo4j.version", namespaces=_POM_NS)
    browser = properties.findtext("m:neo4j-browser.version", namespaces=_POM_NS)
    assert version and browser, "the shipped pom.xml names no Neo4j or Browser version"
    return Distribution(version=version, browser_version=browser, folder=home / f"neo4j-{version}")


def install(home: Path, *, progress: bool = True) -> Distribution:
    """Resolve the Neo4j and Browser jars with Maven into ``home``; a no-op when already there.

    Shows a progress bar of the artifacts Maven downloads, and verifies that the server's main
    class is among the jars before marking the install complete.
    """
    dist = distribution(home)
    if dist.installed:
        return dist
    mvn = find_maven()
    dist.folder.mkdir(parents=True, exist_ok=True)
    (dist.folder / "pom.xml").write_text(pom_text(), encoding="utf-8")
    staging = dist.folder / "lib.partial"
    shutil.rmtree(staging, ignore_errors=True)
    command = [
        str(mvn), "-B", "-f", str(dist.folder / "pom.xml"),
        "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
    ]
    _run_maven(command, progress=progress, what=f"Neo4j {dist.version} + Browser {dist.browser_version}")
    _verify(staging, dist.version)
    shutil.rmtree(dist.lib, ignore_errors=True)
    staging.rename(dist.lib)
    (dist.folder / _MARKER).write_text(f"{dist.version}\n", encoding="utf-8")
    return dist


def _run_maven(command: list[str], *, progress: bool, what: str) -> None:
    tail: deque[str] = deque(maxlen=25)
    bar = tqdm(desc=f"Resolving {what}", unit=" artifacts", disable=not progress)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True
    ) as maven:
        assert maven.stdout is not None
        for line in maven.stdout:
            tail.append(line.rstrip())
            if line.startswith("[INFO] Downloaded from"):
                bar.update(1)
                bar.set_postfix_str(line.rsplit("/", 1)[-1].split(" ")[0][:40], refresh=False)
        code = maven.wait()
    bar.close()
    if code != 0:
        raise ServerError(
            f"Maven could not resolve {what} (exit {code}). Check that Maven Central is reachable "
            "and the disk has about 200 MB free. Maven said:\n" + "\n".join(tail)
        )


def _verify(lib: Path, version: str) -> None:
    engine = lib / f"neo4j-{version}.jar"
    entry = MAIN_CLASS.replace(".", "/") + ".class"
    if not engine.is_file():
        raise ServerError(f"Maven finished but {engine} is missing; run `cntgraph neo4j install` again.")
    with zipfile.ZipFile(engine) as jar:
        if entry not in jar.namelist():
            raise ServerError(f"{engine} does not hold {MAIN_CLASS}; the download looks damaged.")
