"""Find the Java and Maven executables the managed server needs, with errors that say what to do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from cntgraph.errors import ServerError

#: Neo4j 5.26 LTS runs on these Java feature releases.
SUPPORTED_JAVA = (17, 21)

_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


def find_java() -> Path:
    """Return a ``java`` executable Neo4j 5.26 can run on ($JAVA_HOME first, then the PATH).

    Raises ServerError when there is no Java or its version is not one of SUPPORTED_JAVA.
    """
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        source = f"JAVA_HOME={java_home}"
    else:
        found = shutil.which("java")
        candidate = Path(found) if found else None
        source = "the PATH"
    if candidate is None or not candidate.exists():
        raise ServerError(
            f"no Java found on {source}. The managed Neo4j 5.26 server needs Java 17 or 21: "
            "install one (for example `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME, "
            "or point cntgraph at another server with NEO4J_URI."
        )
    major = java_major_version(candidate)
    if major not in SUPPORTED_JAVA:
        raise ServerError(
            f"Java {major} at {candidate} (from {source}) cannot run Neo4j 5.26, which needs Java 17 "
            "or 21. Set JAVA_HOME to a Java 17 or 21 installation."
        )
    return candidate


def java_major_version(java: Path) -> int:
    """The feature release of a ``java`` executable (8 for "1.8.0", 17 for "17.0.15")."""
    completed = subprocess.run(
        [str(java), "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    match = _VERSION.search(completed.stderr + completed.stdout)
    if match is None:
        raise ServerError(f"could not read the version of {java}: {completed.stderr.strip()!r}")
    first, second = int(match.group(1)), int(match.group(2) or 0)
    return second if first == 1 else first


def find_maven() -> Path:
    """Return the ``mvn`` executable on the PATH, or raise ServerError saying how to get one."""
    found = shutil.which("mvn")
    if found is None:
        raise ServerError(
            "Maven (mvn) is not on the PATH; cntgraph uses it to fetch Neo4j from Maven Central. "
            "Install it (for example `apt-get install maven`), or point cntgraph at another server "
            "with NEO4J_URI."
        )
    return Path(found)
