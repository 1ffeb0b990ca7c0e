"""The Cypher library: every query cntgraph runs is a file in ``cypher/``, loaded here by name.

A file holds one statement, after a header of ``//`` comment lines that says what it answers, its
parameters and an example call. Names are file paths without ``.cypher``, such as
``"schema/run_key"`` or ``"link_history"``.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable

from cntgraph.errors import QueryError

_PACKAGE = "cntgraph.cypher"
_SUFFIX = ".cypher"


def _root() -> Traversable:
    return resources.files(_PACKAGE)


@lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
    """Every query name in the library, sorted.

    Example:
        >>> "demo/write" in names()
        True
    """
    found: list[str] = []
    stack: list[tuple[str, Traversable]] = [("", _root())]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.name.startswith(("_", ".")):
                stack.append((f"{prefix}{entry.name}/", entry))
            elif entry.name.endswith(_SUFFIX):
                found.append(prefix + entry.name[: -len(_SUFFIX)])
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def load(name: str) -> str:
    """The text of query ``name``; QueryError lists near names when there is no such query.

    Example:
        >>> load("demo/read").lstrip().startswith("//")
        True
    """
    if name not in names():
        near = difflib.get_close_matches(name, names(), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(near)}?" if near else " `cntgraph query --list` lists them."
        raise QueryError(f"no query named {name!r} in the Cypher library.{hint}")
    return _root().joinpath(name + _SUFFIX).read_text(encoding="utf-8")


def header(name: str) -> str:
    """The leading comment block of query ``name``, without the ``//`` markers."""
    lines = []
    for line in load(name).splitlines():
        stripped = line.strip()
        if not stripped.startswith("//"):
            break
        lines.append(stripped[2:].strip())
    return "\n".join(lines).strip()
