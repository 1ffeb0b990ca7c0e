"""Install Neo4j 5.26 Community, Neo4j Browser and the APOC core plugin from Maven Central into a per-user folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
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
#: the APOC class whose functions cntgraph calls (apoc.create.vRelationship), checked after resolving
APOC_CLASS = "apoc.create.Create"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
#: the pom.xml property that names each component's version
_PROPERTIES = {"Neo4j": "neo4j.version", "Browser": "neo4j-browser.version", "APOC": "apoc.version"}
_MARKER = ".installed"


@dataclass(frozen=True)
class _Folder:
    """A folder of an install, resolved by the pom.xml execution of the same name."""

    name: str
    #: the components whose jars it holds
    holds: tuple[str, ...]
    #: a jar Maven must leave there (``{Neo4j}`` stands for that component's version) ...
    jar: str
    #: ... and a class that jar must hold
    class_name: str


_FOLDERS = (
    _Folder("lib", ("Neo4j", "Browser"), "neo4j-{Neo4j}.jar", MAIN_CLASS),
    _Folder("plugins", ("APOC",), "apoc-core-{APOC}-core.jar", APOC_CLASS),
)


@dataclass(frozen=True)
class Distribution:
    """The jars of one Neo4j version: the server's in ``folder/lib``, the APOC plugin in ``folder/plugins``.

    ``installed`` says whether the folder holds exactly the versions the shipped pom names.
    """

    version: str
    browser_version: str
    apoc_version: str
    folder: Path

    @property
    def lib(self) -> Path:
        return self.folder / "lib"

    @property
    def plugins(self) -> Path:
        return self.folder / "plugins"

    @property
    def classpath(self) -> str:
        return str(self.lib / "*")

    @property
    def components(self) -> dict[str, str]:
        """What a complete install holds, by name: ``{"Neo4j": ..., "Browser": ..., "APOC": ...}``."""
        return {"Neo4j": self.version, "Browser": self.browser_version, "APOC": self.apoc_version}

    @property
    def recorded(self) -> dict[str, str] | None:
        """The versions of the install finished in the folder, or None when none finished there.

        They are read from the pom.xml the install was resolved with; an install made before
        cntgraph shipped APOC has no ``"APOC"``.
        """
        pom = self.folder / "pom.xml"
        if not (self.folder / _MARKER).is_file() or not pom.is_file():
            return None
        return _components(pom.read_text(encoding="utf-8"))

    @property
    def installed(self) -> bool:
        return self.recorded == self.components


def pom_text() -> str:
    """The pom.xml shipped in this package: the one place the Neo4j, Browser and APOC versions are written."""
    return resources.files("cntgraph.server").joinpath("pom.xml").read_text(encoding="utf-8")


def distribution(home: Path) -> Distribution:
    """The distribution the shipped pom describes, under ``home`` (installed or not).

    Example:
        >>> from pathlib import Path
        >>> distribution(Path("/tmp/x")).version.startswith("5.26.")
        True
    """
    components = _components(pom_text())
    assert len(components) == len(_PROPERTIES), "the shipped pom.xml lacks a Neo4j, Browser or APOC version"
    return Distribution(
        version=components["Neo4j"],
        browser_version=components["Browser"],
        apoc_version=components["APOC"],
        folder=home / f"neo4j-{components['Neo4j']}",
    )


def _components(pom: str) -> dict[str, str]:
    """The versions a pom.xml names, by component; a component it does not name is left out."""
    properties = ET.fromstring(pom).find("m:properties", _POM_NS)
    assert properties is not None, "a cntgraph pom.xml without <properties>"
    found = {name: properties.findtext(f"m:{prop}", namespaces=_POM_NS) for name, prop in _PROPERTIES.items()}
    return {name: version for name, version in found.items() if version}


def install(home: Path, *, progress: bool = True) -> Distribution:
    """Resolve the Neo4j, Browser and APOC jars with Maven into ``home``; a no-op when already there.

    An install made for other versions, or before cntgraph shipped APOC, is completed: only the
    folders whose versions differ (``lib``, ``plugins``) are resolved again, and with ``progress``
    it says so. Shows a progress bar of the artifacts Maven downloads, and checks each resolved
    folder (the server's main class in lib, APOC's in plugins) before marking the install complete.
    """
    dist = distribution(home)
    recorded = dist.recorded
    if recorded == dist.components:
        return dist
    mvn = find_maven()
    stale = [folder for folder in _FOLDERS if recorded is None or _differs(folder, recorded, dist.components)]
    if recorded is not None and progress:
        shortfall = _shortfall(recorded, dist.components)
        print(f"The Neo4j install in {dist.folder} {shortfall}: completing it.", file=sys.stderr)
    dist.folder.mkdir(parents=True, exist_ok=True)
    (dist.folder / _MARKER).unlink(missing_ok=True)  # the pom.xml below no longer describes the jars
    (dist.folder / "pom.xml").write_text(pom_text(), encoding="utf-8")
    staging = {folder: dist.folder / f"{folder.name}.partial" for folder in stale}
    for partial in staging.values():
        shutil.rmtree(partial, ignore_errors=True)
    command = [
        str(mvn), "-B", "-f", str(dist.folder / "pom.xml"),
        *(f"dependency:copy-dependencies@{folder.name}" for folder in stale),
        *(f"-Dcntgraph.{folder.name}={partial}" for folder, partial in staging.items()),
    ]
    what = " + ".join(f"{name} {dist.components[name]}" for folder in stale for name in folder.holds)
    _run_maven(command, progress=progress, what=what)
    for folder, partial in staging.items():
        _verify(partial / folder.jar.format_map(dist.components), folder.class_name)
    for folder, partial in staging.items():
        shutil.rmtree(dist.folder / folder.name, ignore_errors=True)
        partial.rename(dist.folder / folder.name)
    (dist.folder / _MARKER).write_text(f"{dist.version}\n", encoding="utf-8")
    return dist


def _differs(folder: _Folder, recorded: dict[str, str], wanted: dict[str, str]) -> bool:
    """Whether ``folder`` of an install holds other versions than ``wanted`` (or lacks a component)."""
    return any(recorded.get(name) != wanted[name] for name in folder.holds)


def _shortfall(recorded: dict[str, str], wanted: dict[str, str]) -> str:
    """How an install falls short, such as ``has no APOC 5.26.5`` or ``has Neo4j 5.26.29, not 5.26.30``."""
    return ", ".join(
        f"has {name} {recorded[name]}, not {version}" if name in recorded else f"has no {name} {version}"
        for name, version in wanted.items()
        if recorded.get(name) != version
    )


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


def _verify(jar: Path, class_name: str) -> None:
    """Check that Maven left ``jar`` and that it holds the class ``class_name``."""
    entry = class_name.replace(".", "/") + ".class"
    if not jar.is_file():
        raise ServerError(f"Maven finished but {jar} is missing; run `cntgraph neo4j install` again.")
    with zipfile.ZipFile(jar) as archive:
        if entry not in archive.namelist():
            raise ServerError(f"{jar} does not hold {class_name}; the download looks damaged.")
